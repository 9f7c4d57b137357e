#!/usr/bin/env bash
# Build leosim's wheel, install it into a fresh virtual environment outside the source tree and
# run the built-in demo and every shipped example's validation there: data files, coastlines and
# examples must be inside the wheel (CI step; `make wheel-check`).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
$PYTHON -m pip wheel --quiet --no-deps --wheel-dir "$work/dist" .
$PYTHON -m venv "$work/venv"
"$work/venv/bin/pip" install --quiet "$work"/dist/leosim-*.whl
cd "$work"  # away from the source tree: only the installed wheel can be imported
"$work/venv/bin/leosim" demo -o "$work/demo-out" -q
for f in summary.json report.html report.csv scene.czml routes.parquet; do
  test -s "$work/demo-out/$f" || { echo "wheel demo wrote no $f" >&2; exit 1; }
done
grep -q '<path' "$work/demo-out/report.html" || { echo "report.html has no map paths" >&2; exit 1; }
# Without the optional extra leosim[packet] (ns-3), packets are refused with the install command.
if "$work/venv/bin/leosim" demo --posts -o "$work/posts-out" -q 2>"$work/posts.err"; then
  echo "demo --posts ran without ns-3 installed" >&2; exit 1
fi
grep -q "leosim\[packet\]" "$work/posts.err" || { cat "$work/posts.err" >&2; exit 1; }
"$work/venv/bin/leosim" examples --copy "$work/examples" >/dev/null
for f in "$work"/examples/*.toml; do "$work/venv/bin/leosim" validate "$f"; done
echo "wheel ok: $(ls "$work"/dist)"
