"""Read and validate scenario files; turn every problem into a :class:`ScenarioError`."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from leosim.errors import ScenarioError
from leosim.scenario.model import ScenarioModel


def key_path(loc: tuple) -> str:
    """``("ground", "sites", 2, "lat_deg")`` -> ``"ground.sites[2].lat_deg"``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def _value_at(data: Any, loc: tuple) -> Any:
    for part in loc:
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return None
    return data


def _model_loc(loc: tuple, data: Any = None) -> tuple:
    # pydantic appends the union/literal branch (e.g. 'literal['all','none']') to the path, and
    # the tag of a tagged union (threats[0] with type = "destroy" -> 'destroy'): not user keys.
    out: list = []
    node = data
    for p in loc:
        if isinstance(p, str) and ("[" in p or p.startswith("tuple")):
            continue
        if isinstance(p, str) and isinstance(node, dict) and p not in node \
                and node.get("type") == p:
            continue
        out.append(p)
        node = _value_at(node, (p,))
    return tuple(out)


def validate(data: dict, source: str = "<scenario>") -> ScenarioModel:
    """Validate a parsed TOML document; raise :class:`ScenarioError` on the first problem."""
    try:
        return ScenarioModel.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = _model_loc(tuple(err["loc"]), data)
        where = key_path(loc) or "(top level)"
        kind = err["type"]
        if kind == "extra_forbidden":
            parent = key_path(loc[:-1]) or "the top level"
            raise ScenarioError(
                f"unknown key {loc[-1]!r} in {parent}", source=source, where=where,
                hint="check the spelling; docs/scenario.md lists every key",
            ) from None
        if kind == "missing":
            raise ScenarioError(f"required key {where!r} is missing", source=source,
                                where=where, hint="docs/scenario.md shows its form") from None
        bad = _value_at(data, loc)
        msg = err["msg"].removeprefix("Value error, ")
        # A whole table is not echoed: its validator's message names the values at fault.
        text = msg if bad is None or isinstance(bad, dict) else f"bad value {bad!r}: {msg}"
        raise ScenarioError(text, source=source, where=where,
                            hint="see docs/scenario.md for the expected form") from None


def load_scenario_file(path: str | Path) -> ScenarioModel:
    """Parse and validate a scenario TOML file."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ScenarioError(f"cannot read scenario file: {exc.strerror}", source=str(path),
                            hint="check the path") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ScenarioError("the file is not UTF-8 text", source=str(path)) from None
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(
            f"not valid TOML: {exc}", source=str(path),
            hint="check quotes, brackets and '=' on that line (https://toml.io)",
        ) from None
    return validate(data, source=str(path))
