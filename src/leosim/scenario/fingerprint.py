"""What a result depends on: the validated scenario, every input file it reads, leosim's version.

A resumable run (``leosim run --resume``, ``sweep --resume``, ``montecarlo --resume``) stores the
fingerprint of the scenario it started from next to its partial results and keeps them only when
the fingerprint of the scenario it is asked to resume is the same. Input files are fingerprinted
by content (SHA-256), not by name or modification time, so an edited TLE file is noticed even when
its name and timestamp are unchanged.

>>> from leosim.scenario.fingerprint import fingerprint_difference
>>> a = {"leosim_version": "0.1.0", "scenario": {"x": 1}, "inputs": {}}
>>> fingerprint_difference(a, {**a, "scenario": {"x": 2}})
'the scenario changed (x: 1 -> 2)'
>>> fingerprint_difference(a, a) is None
True
>>> fingerprint_difference({**a, "scenario": {"threats": [1]}}, {**a, "scenario": {"threats": [1, 2]}})
'the scenario changed (threats: 1 -> 2 entries, added 2)'

"""

from __future__ import annotations

import hashlib
import math
import os
import stat
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from leosim.scenario.model import ScenarioModel

#: Scenario keys that name input files (relative paths resolve to the scenario's folder).
FILE_KEYS = ("constellation.tle_file", "constellation.omm_file", "links.isl_file")
DIR_KEYS = ("constellation.hypatia_dir",)


def _get(model: ScenarioModel, dotted: str) -> Any:
    obj: Any = model
    for part in dotted.split("."):
        obj = getattr(obj, part, None)
    return obj


def input_files(model: ScenarioModel, base_dir: str | Path) -> tuple[tuple[str, str], ...]:
    """The input files a scenario reads, as ``(key, absolute path)`` pairs.

    A directory input (``constellation.hypatia_dir``) lists each regular file in it under
    ``key/filename``.
    """
    base = Path(base_dir)
    out: list[tuple[str, str]] = []

    def resolve(rel: str) -> Path:
        p = Path(rel).expanduser()
        return (p if p.is_absolute() else base / p).absolute()

    for key in FILE_KEYS:
        rel = _get(model, key)
        if key == "links.isl_file" and model.links.isl != "file":
            continue
        if rel:
            out.append((key, str(resolve(rel))))
    for key in DIR_KEYS:
        rel = _get(model, key)
        if rel:
            root = resolve(rel)
            files = (sorted(p for p in root.iterdir() if p.is_file() and p.suffix == ".txt")
                     if root.is_dir() else [])
            out.extend((f"{key}/{p.name}", str(p)) for p in files)
    return tuple(out)


def file_sha256(path: str | Path, *, chunk_bytes: int = 1 << 20) -> str:
    """SHA-256 of a file's content (``"missing"`` when it cannot be read)."""
    h = hashlib.sha256()
    try:  # O_NONBLOCK: a FIFO named as an input must not hang the fingerprint
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return "missing"
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return "not a regular file"
        try:
            while block := fh.read(chunk_bytes):
                h.update(block)
        except OSError:
            return "unreadable"
    return h.hexdigest()


def _plain(obj: Any) -> Any:
    """JSON-safe copy: non-finite floats as strings (``"inf"``), tuples as lists."""
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_plain(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return repr(obj)
    return obj


def fingerprint(model: ScenarioModel, inputs: Iterable[tuple[str, str]], *,
                epoch: str | None = None, extra: dict | None = None) -> dict:
    """A JSON-safe fingerprint of a scenario model and its input files (content hashes)."""
    import leosim

    fp = {
        "leosim_version": leosim.__version__,
        "scenario": _plain(model.model_dump(mode="json")),
        "inputs": {key: file_sha256(path) for key, path in inputs},
    }
    if epoch is not None:
        fp["epoch"] = epoch
    if extra:
        fp.update(_plain(extra))
    return fp


def scenario_fingerprint(scn, *, extra: dict | None = None) -> dict:
    """The fingerprint of a built :class:`~leosim.scenario.build.Scenario` (its model, epoch and
    the content of every input file it read), plus ``extra`` (e.g. the chunk plan)."""
    return fingerprint(scn.model, scn.inputs, epoch=scn.times.epoch.isoformat(), extra=extra)


def _first_diff(a: Any, b: Any, path: str) -> str | None:
    if isinstance(a, dict) and isinstance(b, dict):
        for k in list(a) + [k for k in b if k not in a]:
            if k not in a or k not in b:
                return f"{path}.{k}" if path else str(k)
            d = _first_diff(a[k], b[k], f"{path}.{k}" if path else str(k))
            if d is not None:
                return d
        return None
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            d = _first_diff(x, y, f"{path}[{i}]")
            if d is not None:
                return d
        return None
    return None if a == b else path


def _at(obj: Any, dotted: str) -> Any:
    import re

    for part in re.findall(r"[^.\[\]]+", dotted):
        if isinstance(obj, list):
            obj = obj[int(part)] if part.isdigit() and int(part) < len(obj) else None
        elif isinstance(obj, dict):
            obj = obj.get(part)
        else:
            return None
    return obj


def _short(value: Any, limit: int = 60) -> str:
    if isinstance(value, dict):  # a table: its type and name say what it is
        value = {k: value[k] for k in ("type", "name") if value.get(k) is not None} or value
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def fingerprint_difference(saved: dict, current: dict) -> str | None:
    """A sentence saying how ``current`` differs from ``saved`` (the first difference found),
    or ``None`` when they are the same."""
    if saved.get("leosim_version") != current.get("leosim_version"):
        return (f"it was computed by leosim {saved.get('leosim_version')}, this is leosim "
                f"{current.get('leosim_version')}")
    old_in, new_in = saved.get("inputs", {}), current.get("inputs", {})
    for key in sorted(set(old_in) | set(new_in)):
        if key not in new_in:
            return f"the scenario no longer reads the input file {key}"
        if key not in old_in:
            return f"the scenario now reads the input file {key}"
        if old_in[key] != new_in[key]:
            return f"the input file {key} changed (its content hash differs)"
    if saved.get("scenario") != current.get("scenario"):
        where = _first_diff(saved.get("scenario"), current.get("scenario"), "")
        a, b = _at(saved.get("scenario"), where), _at(current.get("scenario"), where)
        if isinstance(a, list) and isinstance(b, list):
            what = (f", added {_short(b[len(a)])}" if len(b) > len(a) else
                    f", removed {_short(a[len(b)])}" if len(a) > len(b) else "")
            return f"the scenario changed ({where}: {len(a)} -> {len(b)} entries{what})"
        return f"the scenario changed ({where}: {_short(a)} -> {_short(b)})"
    for key in sorted(set(saved) | set(current)):
        if key in ("leosim_version", "inputs", "scenario"):
            continue
        if saved.get(key) != current.get(key):
            return f"its {key} changed ({saved.get(key)!r} -> {current.get(key)!r})"
    return None


__all__ = ["file_sha256", "fingerprint", "fingerprint_difference", "input_files",
           "scenario_fingerprint"]
