"""Read and validate scenario files; turn every problem into a :class:`ScenarioError`.

The file is read with :func:`leosim.io.safe_read.read_text_bounded` (regular files only, at most
:data:`~leosim.scenario.limits.MAX_SCENARIO_BYTES`), its nesting depth is checked before the TOML
parser sees it (:func:`~leosim.io.safe_read.nesting_depth`), and an unknown key gets a "did you
mean" from the keys its table allows.
"""

from __future__ import annotations

import difflib
import re
import tomllib
import types
import typing
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from leosim.errors import InputError, ScenarioError
from leosim.io.safe_read import nesting_depth, read_text_bounded
from leosim.scenario.limits import MAX_NESTING_DEPTH, MAX_SCENARIO_BYTES
from leosim.scenario.model import ScenarioModel


def data_depth(data: Any) -> int:
    """Deepest nesting of dicts and lists in parsed data (iterative).

    Examples
    --------
    >>> data_depth({"a": {"b": [1, {"c": 2}]}})
    4
    """
    deepest = 0
    stack = [(data, 1)]
    while stack:
        node, d = stack.pop()
        if isinstance(node, dict):
            children = node.values()
        elif isinstance(node, list | tuple):
            children = node
        else:
            continue
        deepest = max(deepest, d)
        stack.extend((c, d + 1) for c in children if isinstance(c, dict | list | tuple))
    return deepest


def _model_of(annotation: Any, value: Any) -> type[BaseModel] | None:
    """The pydantic model inside an annotation (``X | None``, ``list[X]``, tagged unions)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        return _model_of(args[0], value)
    if origin is list:
        return _model_of(args[0], value) if args else None
    if origin in (typing.Union, types.UnionType):
        models = [m for a in args if (m := _model_of(a, value)) is not None]
        for key in ("type", "kind"):  # a tagged union: the member whose tag literal matches
            tag = value.get(key) if isinstance(value, dict) else None
            for m in models:
                field = m.model_fields.get(key)
                if field is not None and tag in typing.get_args(field.annotation):
                    return m
        return models[0] if len(models) == 1 else None
    return None


def allowed_keys(loc: tuple, data: Any) -> list[str]:
    """The keys allowed in the table at ``loc`` (a path of keys and list indices)."""
    model: type[BaseModel] | None = ScenarioModel
    node = data
    pending: Any = None
    for part in loc:
        node = _value_at(node, (part,))
        if isinstance(part, int):
            if pending is not None:
                model = _model_of(pending, node)
            continue
        if model is None or part not in model.model_fields:
            return []
        annotation = model.model_fields[part].annotation
        pending = annotation
        model = _model_of(annotation, node)
    return list(model.model_fields) if model is not None else []


def did_you_mean(key: str, allowed: list[str]) -> str | None:
    """``"did you mean `min_elevation_deg`?"`` for the closest allowed key, or None.

    Examples
    --------
    >>> did_you_mean("min_elevaton_deg", ["gsl_rule", "min_elevation_deg"])
    'did you mean `min_elevation_deg`?'
    """
    close = difflib.get_close_matches(str(key), allowed, n=1, cutoff=0.6)
    return f"did you mean `{close[0]}`?" if close else None


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
                and p in (node.get("type"), node.get("kind")):
            continue
        out.append(p)
        node = _value_at(node, (p,))
    return tuple(out)


def validate(data: dict, source: str = "<scenario>") -> ScenarioModel:
    """Validate a parsed TOML document; raise :class:`ScenarioError` on the first problem."""
    try:
        return ScenarioModel.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()
        # A misspelt required key is both unknown and missing: report the unknown spelling
        # (with its "did you mean") rather than the missing key.
        err = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
        loc = _model_loc(tuple(err["loc"]), data)
        where = key_path(loc) or "(top level)"
        kind = err["type"]
        if kind == "extra_forbidden":
            parent = key_path(loc[:-1]) or "the top level"
            allowed = allowed_keys(loc[:-1], data)
            guess = did_you_mean(str(loc[-1]), allowed)
            hint = "check the spelling; docs/scenario.md lists every key"
            if allowed:
                hint = (f"{guess} " if guess else "") + f"{parent} allows: {', '.join(allowed)}"
            raise ScenarioError(f"unknown key {loc[-1]!r} in {parent}", source=source,
                                where=where, hint=hint) from None
        if kind == "missing":
            raise ScenarioError(f"required key {where!r} is missing", source=source,
                                where=where, hint="docs/scenario.md shows its form") from None
        bad = _value_at(data, loc)
        msg = err["msg"].removeprefix("Value error, ")
        # A whole table is not echoed: its validator's message names the values at fault.
        text = msg if bad is None or isinstance(bad, dict) else f"bad value {bad!r}: {msg}"
        raise ScenarioError(text, source=source, where=where,
                            hint="see docs/scenario.md for the expected form") from None


def parse_scenario_text(text: str, source: str = "<scenario>") -> dict:
    """Parse scenario TOML text after checking its nesting depth; raise :class:`ScenarioError`."""
    depth, line = nesting_depth(text, MAX_NESTING_DEPTH)
    if depth > MAX_NESTING_DEPTH:
        raise ScenarioError(
            f"arrays or tables nested deeper than leosim's limit of {MAX_NESTING_DEPTH}",
            source=source, where=f"line {line}",
            hint="a scenario needs at most 3 levels (e.g. threats[0].polygon[0]); check the "
                 "brackets on that line")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(
            f"not valid TOML: {exc}", source=source,
            hint="check quotes, brackets and '=' on that line (https://toml.io)",
        ) from None
    except ValueError:  # tomllib's int() of a number with thousands of digits
        m = re.search(r"\d[\d_]{4299,}", text)
        line = text.count("\n", 0, m.start()) + 1 if m else None
        raise ScenarioError(
            "a number with thousands of digits", source=source,
            where=f"line {line}" if line else None,
            hint="write numbers of at most 19 digits (TOML integers are 64-bit)") from None
    except RecursionError:  # pragma: no cover - nesting_depth refuses such text first
        raise ScenarioError(f"nested deeper than leosim's limit of {MAX_NESTING_DEPTH}",
                            source=source, hint="check the brackets") from None
    if data_depth(data) > MAX_NESTING_DEPTH:  # dotted keys: a.b.c... = 1 nests without brackets
        raise ScenarioError(
            f"keys nested deeper than leosim's limit of {MAX_NESTING_DEPTH}", source=source,
            hint="a scenario needs at most 3 levels of tables; check dotted keys")
    return data


def load_scenario_file(path: str | Path) -> ScenarioModel:
    """Read (bounded, regular files only), parse and validate a scenario TOML file."""
    path = Path(path)
    try:
        text = read_text_bounded(path, limit=MAX_SCENARIO_BYTES, what="scenario file",
                                 limit_hint="a scenario file holds settings; put element sets "
                                            "and link lists in their own files (tle_file, "
                                            "omm_file, isl_file); docs/scenario.md lists the "
                                            "Limits")
    except InputError as exc:
        raise ScenarioError(exc.message.replace("scenario file not found",
                                                "cannot read scenario file: not found"),
                            source=exc.source, where=exc.where, hint=exc.hint) from None
    return validate(parse_scenario_text(text, str(path)), source=str(path))
