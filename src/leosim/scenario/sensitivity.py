"""One-at-a-time sensitivity of a scenario's answer to each of its assumptions.

A planner needs to see how much the answer (availability, round-trip time per pair and mode)
moves when one assumption changes and everything else stays as it was. A :class:`Variant`
names one such change: keys to set (dotted paths into the parsed scenario, with list indices:
``"links.min_elevation_deg"``, ``"threats[1].eirp_dbw"``) and items to append to lists
(``"ground.sites"``). :func:`run_sensitivity` runs the baseline and each variant in turn
(validate, build, run in memory) and returns one row per (variant, mode, pair) with the
differences from the baseline.

In a scenario file, variants are ``[[sensitivity]]`` tables::

    [[sensitivity]]
    name = "gateways at 40 deg"
    note = "minimum elevation of every ground link (FCC order 2021: 25 deg)"
    set = { "links.min_elevation_deg" = 40 }

    [[sensitivity]]
    name = "with Gebze"
    note = "a Turkish gateway that had no licence in 2022"
    append = { "ground.sites" = [{ name = "GW_Gebze", kind = "gateway",
                                   lat_deg = 40.7887, lon_deg = 29.5095 }] }

:func:`variants_from_raw` reads them and :func:`strip_sensitivity` removes the section before the
scenario is validated (``ScenarioModel`` does not know the key). See ``docs/sensitivity.md``.

The variants are one at a time, not a grid: interactions between assumptions are not shown
(``leosim sweep`` runs grids).
"""

from __future__ import annotations

import copy
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
import pandas as pd

from leosim.errors import InputError, ScenarioError

__all__ = ["BASELINE", "SECTION", "Variant", "apply_variant", "format_table",
           "run_sensitivity", "strip_sensitivity", "variants_from_raw", "write_sensitivity_csv"]

#: The name of the unchanged scenario's rows.
BASELINE = "baseline"
#: The scenario file's key for variants (an array of tables).
SECTION = "sensitivity"
#: Metrics copied from ``summary["pairs"]`` (``rtt_modelled_p50_ms`` when the engine has it).
METRICS = ("availability", "rtt_p50_ms", "rtt_p95_ms", "rtt_modelled_p50_ms")
#: Metric -> its delta column (availability in percentage points, RTT in ms).
DELTAS = {"availability": "d_availability_pts", "rtt_p50_ms": "d_rtt_p50_ms",
          "rtt_p95_ms": "d_rtt_p95_ms", "rtt_modelled_p50_ms": "d_rtt_modelled_p50_ms"}

#: ``progress(done, total, name)`` after each of the ``total`` runs (baseline first).
Progress = Callable[[int, int, str], None]

_TOKEN = re.compile(r"([^.\[\]]+)((?:\[-?\d+\])*)")
_INDEX = re.compile(r"\[(-?\d+)\]")


@attrs.frozen
class Variant:
    """One changed assumption: keys to set and list items to append, on a copy of the scenario.

    Attributes
    ----------
    name : str
        Unique among the variants, not ``"baseline"``.
    set : dict of str to Any
        Dotted key path (list indices allowed: ``"threats[1].eirp_dbw"``) -> new value. A path
        may name a key the file leaves at its default, if the scenario format allows it there.
    append : dict of str to list
        Dotted path of a list (``"ground.sites"``) -> items appended to it (the list is created
        if the file has none).
    note : str
        Which assumption this varies, and why (shown in the table and the CSV).
    """

    name: str
    set: dict[str, Any] = attrs.field(factory=dict)
    append: dict[str, list] = attrs.field(factory=dict)
    note: str = ""


def _parse_path(path: str, variant: str) -> list[str | int]:
    """``"threats[1].eirp_dbw"`` -> ``["threats", 1, "eirp_dbw"]``."""
    parts: list[str | int] = []
    for piece in str(path).split("."):
        m = _TOKEN.fullmatch(piece.strip())
        if m is None:
            raise ScenarioError(f"sensitivity variant {variant!r}: bad key path {path!r}",
                                where=str(path),
                                hint='write keys separated by dots with list indices in '
                                     'brackets, e.g. "threats[1].eirp_dbw"')
        parts.append(m[1])
        parts.extend(int(i) for i in _INDEX.findall(m[2]))
    return parts


def _shown(parts: Sequence[str | int]) -> str:
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else ("." if out else "") + p
    return out or "(top level)"


def _known_keys(data: dict, loc: tuple) -> list[str]:
    """Keys the scenario format allows at ``loc`` (empty when the format says nothing)."""
    from leosim.scenario.load import allowed_keys

    try:
        return allowed_keys(loc, data)
    except Exception:  # noqa: BLE001 - a hint only; never mask the user's error
        return []


def _bad_path(variant: str, path: str, parts: Sequence, what: str, keys: Iterable = ()
              ) -> InputError:
    keys = sorted(dict.fromkeys(str(k) for k in keys))
    at = _shown(parts)
    hint = (f"keys at {at}: {', '.join(keys)}" if keys else
            "check the path against the scenario file (docs/scenario.md lists every key)")
    return ScenarioError(f"sensitivity variant {variant!r}: {what}", where=path, hint=hint)


def _walk(data: dict, parts: list, variant: str, path: str, *, create: bool) -> tuple[Any, Any]:
    """The container holding the last part of ``parts`` and that key/index; tables on the way
    that the file leaves out (but the format allows) are created when ``create``."""
    node: Any = data
    for depth in range(len(parts) - 1):
        node = _step(node, data, parts, depth, variant, path, create=create)
    last = parts[-1]
    _check_key(node, data, parts, len(parts) - 1, variant, path, last_is_leaf=True)
    return node, last


def _check_key(node: Any, data: dict, parts: list, depth: int, variant: str, path: str, *,
               last_is_leaf: bool = False) -> None:
    part = parts[depth]
    here = parts[:depth]
    if isinstance(part, int):
        if not isinstance(node, list):
            raise _bad_path(variant, path, here, f"{_shown(here)} is not a list, so "
                            f"[{part}] does not apply ({path!r})",
                            node.keys() if isinstance(node, dict) else ())
        if not -len(node) <= part < len(node):
            raise _bad_path(variant, path, here, f"index [{part}] is out of range: "
                            f"{_shown(here)} has {len(node)} item(s) ({path!r})")
        return
    if not isinstance(node, dict):
        raise _bad_path(variant, path, here, f"{_shown(here)} is not a table, so key "
                        f"{part!r} does not apply ({path!r})")
    if part in node:
        return
    allowed = _known_keys(data, tuple(here))
    if part not in allowed:
        raise _bad_path(variant, path, here, f"no key {part!r} at {_shown(here)} ({path!r})",
                        [*node.keys(), *allowed])


def _step(node: Any, data: dict, parts: list, depth: int, variant: str, path: str, *,
          create: bool) -> Any:
    _check_key(node, data, parts, depth, variant, path)
    part = parts[depth]
    if isinstance(part, str) and part not in node:
        if not create:  # pragma: no cover - every caller creates
            raise _bad_path(variant, path, parts[:depth], f"no key {part!r}")
        node[part] = {}
    return node[part]


def apply_variant(raw: dict, variant: Variant) -> dict:
    """A deep copy of the parsed scenario ``raw`` with the variant's keys set and items appended.

    Parameters
    ----------
    raw : dict
        The parsed (not yet validated) scenario; not changed.
    variant : Variant
        What to change: ``set`` first (in its order), then ``append``.

    Returns
    -------
    dict

    Raises
    ------
    ScenarioError
        A path that does not exist: a key neither in the file nor allowed by the scenario format
        at that place, an index past the end of a list, a key into a list or a value, or an
        ``append`` target that is not a list. The message names the variant and the path; the
        hint lists the keys that exist at that level.

    Examples
    --------
    >>> raw = {"links": {"min_elevation_deg": 25}, "threats": [{"type": "jam", "eirp_dbw": 40}]}
    >>> v = Variant("strong jammer", set={"threats[0].eirp_dbw": 50,
    ...                                   "links.min_elevation_deg": 40})
    >>> apply_variant(raw, v)
    {'links': {'min_elevation_deg': 40}, 'threats': [{'type': 'jam', 'eirp_dbw': 50}]}
    >>> raw["threats"][0]["eirp_dbw"]
    40
    """
    out = copy.deepcopy(raw)
    for path, value in variant.set.items():
        parts = _parse_path(path, variant.name)
        node, last = _walk(out, parts, variant.name, path, create=True)
        node[last] = copy.deepcopy(value)
    for path, items in variant.append.items():
        if not isinstance(items, list | tuple):
            raise ScenarioError(f"sensitivity variant {variant.name!r}: append {path!r} needs a "
                                f"list of items, got {type(items).__name__}", where=path,
                                hint='write append = { "ground.sites" = [ { ... }, ... ] }')
        parts = _parse_path(path, variant.name)
        node, last = _walk(out, parts, variant.name, path, create=True)
        if isinstance(last, str) and last not in node:
            node[last] = []
        target = node[last]
        if not isinstance(target, list):
            raise _bad_path(variant.name, path, parts[:-1],
                            f"{path!r} is not a list, so nothing can be appended to it")
        target.extend(copy.deepcopy(list(items)))
    return out


def strip_sensitivity(raw: dict) -> dict:
    """A shallow copy of ``raw`` without its ``[[sensitivity]]`` tables (the scenario to run)."""
    return {k: v for k, v in raw.items() if k != SECTION}


def _flatten(table: Mapping, prefix: str = "") -> dict[str, Any]:
    """``{"links": {"min_elevation_deg": 40}}`` -> ``{"links.min_elevation_deg": 40}``: TOML
    reads a bare dotted key in an inline table as nested tables. Leaves are non-tables."""
    out: dict[str, Any] = {}
    for key, value in table.items():
        path = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, Mapping):
            out.update(_flatten(value, path))
        else:
            out[path] = value
    return out


_VARIANT_KEYS = ("name", "note", "set", "append")


def variants_from_raw(raw: dict, source: str = "<scenario>") -> list[Variant]:
    """The ``[[sensitivity]]`` tables of a parsed scenario as variants, in file order.

    ``set`` and ``append`` are inline tables whose keys are paths; quoted
    (``"links.min_elevation_deg" = 40``) and bare dotted (``links.min_elevation_deg = 40``)
    keys both work. A bare dotted key nests tables, so every table in ``set`` is read as more
    path (a whole table is set key by key, merged into the file's, never replaced).

    Raises
    ------
    ScenarioError
        The section is not an array of tables, a table has an unknown key, no or a repeated
        name, the name ``"baseline"``, or neither ``set`` nor ``append``.
    """
    section = raw.get(SECTION)
    if section is None:
        return []
    if not isinstance(section, list) or not all(isinstance(t, dict) for t in section):
        raise ScenarioError(f"{SECTION} must be an array of tables", source=source,
                            where=SECTION, hint="write each variant as a [[sensitivity]] table")
    out: list[Variant] = []
    seen: dict[str, int] = {}
    for i, table in enumerate(section):
        where = f"{SECTION}[{i}]"
        extra = [k for k in table if k not in _VARIANT_KEYS]
        if extra:
            raise ScenarioError(f"unknown key {extra[0]!r} in {where}", source=source,
                                where=f"{where}.{extra[0]}",
                                hint=f"{SECTION} allows: {', '.join(_VARIANT_KEYS)}")
        name = table.get("name")
        if not isinstance(name, str) or not name.strip():
            raise ScenarioError(f"{where} needs a name", source=source, where=f"{where}.name",
                                hint='e.g. name = "gateways at 40 deg"')
        name = name.strip()
        if name.casefold() == BASELINE:
            raise ScenarioError(f"the variant name {BASELINE!r} is reserved for the unchanged "
                                "scenario", source=source, where=f"{where}.name",
                                hint="give the variant another name")
        if name in seen:
            raise ScenarioError(f"two variants are named {name!r} (also {SECTION}[{seen[name]}])",
                                source=source, where=f"{where}.name",
                                hint="give every variant its own name")
        seen[name] = i
        note = table.get("note", "")
        sets, appends = table.get("set", {}), table.get("append", {})
        for key, value in (("note", note), ("set", sets), ("append", appends)):
            if not isinstance(value, str if key == "note" else dict):
                raise ScenarioError(f"{where}.{key} must be a "
                                    f"{'text' if key == 'note' else 'table'}",
                                    source=source, where=f"{where}.{key}",
                                    hint='e.g. set = { "links.min_elevation_deg" = 40 }')
        if not sets and not appends:
            raise ScenarioError(f"variant {name!r} changes nothing", source=source, where=where,
                                hint="give it set = { ... } or append = { ... }")
        out.append(Variant(name, _flatten(sets), _flatten(appends), note))
    return out


def _check_variants(variants: Sequence[Variant]) -> None:
    seen: set[str] = set()
    for v in variants:
        if not isinstance(v, Variant):
            raise InputError(f"{v!r} is not a Variant", hint="build variants with Variant(...)")
        if not v.name.strip() or v.name.strip().casefold() == BASELINE:
            raise InputError(f"bad variant name {v.name!r}",
                             hint=f"names must be non-empty and not {BASELINE!r}")
        if v.name in seen:
            raise InputError(f"two variants are named {v.name!r}",
                             hint="give every variant its own name")
        seen.add(v.name)


def _run_one(raw: dict, *, base_dir: str | Path, source: str) -> list[dict]:
    """Validate (as ``leosim.scenario.load`` does), build and run in memory; the rows of its
    ``report.csv`` (exact percentiles, as the console prints them)."""
    from leosim.engine.answer import run_report
    from leosim.engine.run import run_scenario
    from leosim.scenario.build import build_scenario
    from leosim.scenario.load import validate

    model = validate(raw, source=source)
    scn = build_scenario(model, base_dir=base_dir, source=source)
    result = run_scenario(scn)
    return run_report(result, result.sites).to_dict("records")


def _run_variant(raw: dict, name: str, base_dir: str, source: str) -> list[dict]:
    try:
        return _run_one(raw, base_dir=base_dir, source=source)
    except InputError as exc:
        raise type(exc)(f"sensitivity variant {name!r}: {exc.message}",
                        source=exc.source or source, where=exc.where, hint=exc.hint) from None


def _map_runs(raws: list[dict], variants: Sequence[Variant], *, base_dir, source: str,
              workers: int, progress: Progress | None, total: int) -> list[list[dict]]:
    """Run every variant, in order, here or over forked processes that ignore Ctrl-C and die
    with this one (as a run's time chunks do)."""
    if workers <= 1 or len(raws) <= 1:
        out = []
        for k, (raw, v) in enumerate(zip(raws, variants, strict=True), start=2):
            out.append(_run_variant(raw, v.name, str(base_dir), source))
            if progress is not None:
                progress(k, total, v.name)
        return out
    import multiprocessing as mp
    import os
    from concurrent.futures import ProcessPoolExecutor

    from leosim.engine.interrupt import check_interrupt, worker_init

    pool = ProcessPoolExecutor(max_workers=min(workers, len(raws)),
                               mp_context=mp.get_context("fork"), initializer=worker_init,
                               initargs=(os.getpid(),))
    try:
        futures = [pool.submit(_run_variant, raw, v.name, str(base_dir), source)
                   for raw, v in zip(raws, variants, strict=True)]
        out = []
        for k, (fut, v) in enumerate(zip(futures, variants, strict=True), start=2):
            while True:
                try:
                    out.append(fut.result(timeout=0.25))
                    break
                except TimeoutError:
                    check_interrupt()
            if progress is not None:
                progress(k, total, v.name)
        return out
    except BaseException:
        for proc in list(getattr(pool, "_processes", {}).values()):
            proc.terminate()
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _rows(name: str, note: str, pairs_rows: list[dict],
          wanted: set[tuple[str, str]] | None) -> list[dict]:
    out = []
    for r in pairs_rows:
        if wanted is not None and (r["src"], r["dst"]) not in wanted:
            continue
        row = {"variant": name, "note": note, "mode": r["mode"], "src": r["src"],
               "dst": r["dst"]}
        for m in METRICS:
            v = r.get(m)
            row[m] = math.nan if v is None else float(v)
        out.append(row)
    return out


def run_sensitivity(raw: dict, variants: Sequence[Variant], *, base_dir: str | Path = ".",
                    source: str = "<scenario>",
                    pairs: Iterable[tuple[str, str]] | None = None,
                    progress: Progress | None = None,
                    baseline_rows: list[dict] | None = None,
                    workers: int = 1) -> pd.DataFrame:
    """Run the scenario and each variant of it, one after another; a table of the differences.

    Parameters
    ----------
    raw : dict
        The parsed scenario (its ``[[sensitivity]]`` section, if any, is ignored: pass
        ``variants_from_raw(raw)`` as ``variants`` to run it).
    variants : sequence of Variant
        The changes, each applied alone to the baseline.
    base_dir : path, optional
        Where relative file names in the scenario resolve (the scenario file's folder).
    source : str, optional
        Where the scenario came from, for error messages (a variant's errors add its name).
    pairs : iterable of (src, dst), optional
        Keep only these pairs (site names; ``"internet"`` for routes to the internet).
    progress : callable, optional
        ``progress(done, total, name)`` after each run.
    baseline_rows : list of dict, optional
        The baseline's ``report.csv`` rows when it has just been run (not run again).
    workers : int, optional
        Variants run in this many forked local processes at once (1: in this process). The
        table is the same whatever the number.

    Returns
    -------
    pandas.DataFrame
        One row per (variant, mode, pair), the baseline's first, then the variants in order,
        each in the engine's (mode, pair) order. Columns: ``variant, note, mode, src, dst``,
        ``availability`` (0-1), ``rtt_p50_ms``, ``rtt_p95_ms``, ``rtt_modelled_p50_ms``
        (NaN where the engine does not report it or the pair was never reachable) and the
        differences from the baseline's row of the same (mode, src, dst):
        ``d_availability_pts`` (percentage points), ``d_rtt_p50_ms``, ``d_rtt_p95_ms``,
        ``d_rtt_modelled_p50_ms`` (ms; NaN where either side has no value, e.g. a mode or pair
        the baseline does not have). The baseline's differences are 0 where it has values.

    Raises
    ------
    ScenarioError
        The baseline or a variant does not validate or build; a variant's message names it.

    Notes
    -----
    Deterministic: every run uses the scenario's own seed, and the rows come in a fixed order.
    Variants run one after another in this process.
    """
    _check_variants(variants)
    base_raw = strip_sensitivity(raw)
    wanted = None if pairs is None else {(str(a), str(b)) for a, b in pairs}
    total = 1 + len(variants)
    if baseline_rows is None:
        baseline_rows = _run_one(base_raw, base_dir=base_dir, source=source)
    rows = _rows(BASELINE, "", baseline_rows, wanted)
    if progress is not None:
        progress(1, total, BASELINE)
    changed = [apply_variant(base_raw, v) for v in variants]  # bad paths: before any run
    results = _map_runs(changed, variants, base_dir=base_dir, source=source,
                        workers=workers, progress=progress, total=total)
    for v, result in zip(variants, results, strict=True):
        rows += _rows(v.name, v.note, result, wanted)
    df = pd.DataFrame(rows, columns=["variant", "note", "mode", "src", "dst", *METRICS])
    base = df[df["variant"] == BASELINE].set_index(["mode", "src", "dst"])
    key = pd.MultiIndex.from_frame(df[["mode", "src", "dst"]])
    for metric, delta in DELTAS.items():
        ref = base[metric].reindex(key).to_numpy(dtype=float)
        scale = 100.0 if metric == "availability" else 1.0
        df[delta] = (df[metric].to_numpy(dtype=float) - ref) * scale
    return df


def _fmt(x: float, spec: str, signed: bool = False) -> str:
    if x is None or not math.isfinite(x):
        return "-"
    return format(x, ("+" if signed else "") + spec)


def format_table(df: pd.DataFrame) -> str:
    """A plain-text table of :func:`run_sensitivity`'s result for the console.

    Columns: variant, mode, pair, availability (%) and its change (points), RTT p50 of
    propagation and, where the engine reports it, modelled (ms), and their changes (ms).

    Examples
    --------
    >>> df = pd.DataFrame({"variant": ["baseline", "v"], "note": ["", ""],
    ...     "mode": ["laser"] * 2, "src": ["A"] * 2, "dst": ["B"] * 2,
    ...     "availability": [1.0, 0.5], "rtt_p50_ms": [20.0, 25.0], "rtt_p95_ms": [22.0, 30.0],
    ...     "rtt_modelled_p50_ms": [float("nan")] * 2, "d_availability_pts": [0.0, -50.0],
    ...     "d_rtt_p50_ms": [0.0, 5.0], "d_rtt_p95_ms": [0.0, 8.0],
    ...     "d_rtt_modelled_p50_ms": [float("nan")] * 2})
    >>> print(format_table(df))
    variant   mode   pair    avail %  d pts  RTT p50 ms  d ms
    --------  -----  ------  -------  -----  ----------  ----
    baseline  laser  A -> B    100.0   +0.0        20.0  +0.0
    v         laser  A -> B     50.0  -50.0        25.0  +5.0
    """
    modelled = ("rtt_modelled_p50_ms" in df.columns
                and bool(df["rtt_modelled_p50_ms"].notna().any()))
    head = ["variant", "mode", "pair", "avail %", "d pts", "RTT p50 ms", "d ms"]
    if modelled:
        head += ["modelled p50 ms", "d ms"]
    body = []
    for r in df.itertuples(index=False):
        line = [str(r.variant), str(r.mode), f"{r.src} -> {r.dst}",
                _fmt(r.availability * 100.0, ".1f"), _fmt(r.d_availability_pts, ".1f", True),
                _fmt(r.rtt_p50_ms, ".1f"), _fmt(r.d_rtt_p50_ms, ".1f", True)]
        if modelled:
            line += [_fmt(r.rtt_modelled_p50_ms, ".1f"), _fmt(r.d_rtt_modelled_p50_ms, ".1f", True)]
        body.append(line)
    widths = [max(len(row[i]) for row in [head, *body]) for i in range(len(head))]
    left = 3  # text columns left-aligned, numbers right-aligned

    def line(cells: list[str]) -> str:
        return "  ".join(c.ljust(w) if i < left else c.rjust(w)
                         for i, (c, w) in enumerate(zip(cells, widths, strict=True))).rstrip()

    rule = ["-" * w for w in widths]
    return "\n".join([line(head).rstrip(), "  ".join(rule), *(line(b) for b in body)])


def write_sensitivity_csv(df: pd.DataFrame, path: str | Path) -> Path:
    """Write the table as CSV, atomically (readers see the old file or the whole new one).

    Missing values are written as empty fields. Returns the path written.
    """
    from leosim.io.atomic import atomic_write_text

    path = Path(path)
    atomic_write_text(path, df.to_csv(index=False, lineterminator="\n"))
    return path
