"""Read satellite element sets: two/three-line TLE files and CCSDS OMM (CelesTrak JSON or CSV).

Every TLE line is checked before SGP4 sees it: line number (``"1 "`` / ``"2 "``), length 69, the
modulo-10 checksum (sum of the digits, ``-`` counts 1) and the fixed column layout of every field;
the catalog numbers of the two lines must agree. A bad line raises :class:`leosim.errors.TLEError`
naming the file, the line number and a fix. Files are read as regular files of at most
:data:`~leosim.scenario.limits.MAX_ELEMENT_FILE_BYTES`; a satellite may appear once per file
(:func:`check_unique_satellites`); OMM numbers must be finite, ``NORAD_CAT_ID`` a whole number
and ``MEAN_MOTION`` positive. (sgp4's fast ``Satrec.twoline2rv`` does not reject
malformed columns, so the layout is checked here, field by field.)

Examples
--------
>>> sets = read_tle("starlink.tle")                      # doctest: +SKIP
>>> sets[0].name, sets[0].catalog_number                 # doctest: +SKIP
('STARLINK-24', 44238)
"""

from __future__ import annotations

import csv
import json
import math
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from io import StringIO
from os import PathLike
from typing import Any

import attrs
from sgp4 import omm
from sgp4.api import WGS72, Satrec

from leosim.errors import TLEError
from leosim.io.safe_read import UnreadableFileError, nesting_depth, read_text_bounded
from leosim.scenario.limits import MAX_ELEMENT_FILE_BYTES, MAX_NESTING_DEPTH
from leosim.timebase import MAX_YEAR, MIN_YEAR

_CHECKSUM_HINT = (
    "re-download the element set or fix the last digit of the line; "
    "leosim checks the modulo-10 checksum of every TLE line"
)
_LAYOUT_HINT = (
    "TLE fields sit in fixed columns (see https://celestrak.org/columns/v04n03/); "
    "re-download the element set rather than editing it by hand"
)
_JD_UNIX_EPOCH = 2_440_587.5
#: TLE line 1 columns 10-17: year (2 digits), launch number (3), piece (1-3 letters).
_TLE_DESIGNATOR = re.compile(r"(\d{2})(\d{3})([A-Z]{1,3})")
#: A COSPAR designator as OMM writes it (``OBJECT_ID``).
_COSPAR = re.compile(r"\d{4}-\d{3}[A-Z]{1,3}")

# Field regexes, by 0-based column slice. Numbers may be space-padded as real element sets are.
_EXP = r"[ +-]\d{5}[+-]\d"  # implied-decimal mantissa and exponent, e.g. " 19842-3"
_SATNUM = r"[ \dA-HJ-NP-Z]\d{4}|\s*\d{1,5}"
_LINE1_FIELDS: tuple[tuple[int, int, str, str], ...] = (
    (2, 7, "satellite catalog number", _SATNUM),
    (7, 8, "classification", r"[A-Z ]"),
    (8, 9, "separator", r" "),
    (9, 17, "international designator", r"[ -~]{8}"),
    (17, 18, "separator", r" "),
    (18, 20, "epoch year", r"[ \d]\d"),
    (20, 32, "epoch day of year", r"[ \d]{2}\d\.\d{8}"),
    (32, 33, "separator", r" "),
    (33, 43, "first derivative of mean motion", r"[ +-]\.\d{8}"),
    (43, 44, "separator", r" "),
    (44, 52, "second derivative of mean motion", _EXP),
    (52, 53, "separator", r" "),
    (53, 61, "BSTAR drag term", _EXP),
    (61, 62, "separator", r" "),
    (62, 63, "ephemeris type", r"[ \d]"),
    (63, 64, "separator", r" "),
    (64, 68, "element set number", r"[ \d]{4}"),
)
_LINE2_FIELDS: tuple[tuple[int, int, str, str], ...] = (
    (2, 7, "satellite catalog number", _SATNUM),
    (7, 8, "separator", r" "),
    (8, 16, "inclination (deg)", r"[ \d]{2}\d\.\d{4}"),
    (16, 17, "separator", r" "),
    (17, 25, "right ascension of the ascending node (deg)", r"[ \d]{2}\d\.\d{4}"),
    (25, 26, "separator", r" "),
    (26, 33, "eccentricity", r"\d{7}"),
    (33, 34, "separator", r" "),
    (34, 42, "argument of perigee (deg)", r"[ \d]{2}\d\.\d{4}"),
    (42, 43, "separator", r" "),
    (43, 51, "mean anomaly (deg)", r"[ \d]{2}\d\.\d{4}"),
    (51, 52, "separator", r" "),
    (52, 63, "mean motion (rev/day)", r"[ \d]\d\.\d{8}"),
    (63, 68, "revolution number at epoch", r"[ \d]{5}"),
)
_FIELD_RES = {
    "1": [(a, b, name, re.compile(pat)) for a, b, name, pat in _LINE1_FIELDS],
    "2": [(a, b, name, re.compile(pat)) for a, b, name, pat in _LINE2_FIELDS],
}
_HEADER_RE = re.compile(r"^\s*(\d{1,9})\s+(\d{1,9})\s*$")
#: Longest accepted name line of a three-line element set (the format's is 24 characters).
MAX_NAME_LENGTH = 200
#: Largest NORAD catalog number accepted from OMM (nine digits, as planned by 18 SDS).
MAX_CATALOG_NUMBER = 999_999_999
#: An element set whose epoch is this much later than the file's median epoch is an outlier
#: when leosim picks the default scenario epoch (the latest one).
EPOCH_OUTLIER_DAYS = 30.0

# OMM fields sgp4 needs; the bookkeeping ones get defaults when absent.
_OMM_REQUIRED = (
    "EPOCH",
    "MEAN_MOTION",
    "ECCENTRICITY",
    "INCLINATION",
    "RA_OF_ASC_NODE",
    "ARG_OF_PERICENTER",
    "MEAN_ANOMALY",
    "NORAD_CAT_ID",
    "BSTAR",
    "MEAN_MOTION_DOT",
)
_OMM_DEFAULTS = {
    "OBJECT_ID": "",
    "CLASSIFICATION_TYPE": "U",
    "EPHEMERIS_TYPE": 0,
    "ELEMENT_SET_NO": 999,
    "REV_AT_EPOCH": 0,
    "MEAN_MOTION_DDOT": 0.0,
}


@attrs.frozen
class ElementSet:
    """One satellite's mean elements, ready for SGP4.

    Attributes
    ----------
    name : str
        Object name from a three-line file or OMM ``OBJECT_NAME``; ``""`` when the file has none.
    satrec : sgp4.api.Satrec
        The initialised SGP4 record (WGS72 constants, improved mode, as CelesTrak intends).
    line1, line2 : str or None
        The TLE lines as read (without line terminators); None for OMM input.
    catalog_number : int
        NORAD catalog number (Alpha-5 numbers are decoded).
    where : str
        Where it was read (``"lines 4-5"`` or ``"record 3"``), for messages; ``""`` if unknown.
    object_id : str
        OMM ``OBJECT_ID`` as given (e.g. ``"2019-074A"``); ``""`` for TLE input, whose
        designator is in ``line1`` (see :attr:`international_designator`).
    """

    name: str
    satrec: Any = attrs.field(eq=False, repr=False)
    line1: str | None
    line2: str | None
    catalog_number: int
    where: str = attrs.field(default="", eq=False)  # "lines 4-5" or "record 3", for messages
    object_id: str = attrs.field(default="", eq=False)

    @property
    def international_designator(self) -> str:
        """COSPAR designator (e.g. ``"2019-074A"``); ``""`` when absent or malformed.

        From TLE line 1 columns 10-17 (``"19074A  "``: two-digit year, 57-99 -> 19xx, 00-56
        -> 20xx as in the TLE format; launch number of the year; piece) or the OMM ``OBJECT_ID``.

        Examples
        --------
        >>> es = ElementSet("", None, "1 44235U 19074A   22125.5", None, 44235)
        >>> es.international_designator
        '2019-074A'
        """
        if self.line1 is not None:
            m = _TLE_DESIGNATOR.fullmatch(self.line1[9:17].rstrip())
            if m is None:
                return ""
            yy = int(m[1])
            return f"{1900 + yy if yy >= 57 else 2000 + yy}-{m[2]}{m[3]}"
        text = self.object_id.strip().upper()
        return text if _COSPAR.fullmatch(text) else ""

    @property
    def epoch(self) -> datetime:
        """Element-set epoch as an aware UTC datetime (microsecond resolution)."""
        days = (self.satrec.jdsatepoch - _JD_UNIX_EPOCH) + self.satrec.jdsatepochF
        return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(days=days)


def tle_checksum(line: str) -> int:
    """Modulo-10 checksum of the first 68 columns of a TLE line (digits, ``-`` counts 1).

    Examples
    --------
    >>> tle_checksum("1 44238U 19029D   21132.06026622  .00003513  00000-0  19842-3 0  999")
    4
    """
    total = sum(int(c) for c in line[:68] if c.isdigit()) + line[:68].count("-")
    return total % 10


def _check_line(line: str, number: str, source: str, lineno: int) -> None:
    """Raise TLEError unless ``line`` is a well-formed TLE line ``number`` ("1" or "2")."""
    where = f"line {lineno}"
    if not line.startswith(number + " "):
        raise TLEError(
            f"expected line {number} of an element set (starting {number!r} and a space), "
            f"got {line[:20]!r}",
            source=source,
            where=where,
            hint="a TLE is an optional name line followed by lines starting '1 ' and '2 '",
        )
    if len(line) != 69:
        raise TLEError(
            f"TLE line {number} has {len(line)} characters, expected 69",
            source=source,
            where=where,
            hint=_LAYOUT_HINT,
        )
    if not line.isascii():
        raise TLEError(
            f"TLE line {number} contains non-ASCII characters",
            source=source,
            where=where,
            hint=_LAYOUT_HINT,
        )
    for a, b, name, pattern in _FIELD_RES[number]:
        if not pattern.fullmatch(line[a:b]):
            cols = f"column {b}" if b == a + 1 else f"columns {a + 1}-{b}"
            expected = "a space" if name == "separator" else "what the TLE column layout allows"
            raise TLEError(
                f"{cols} ({name}) hold {line[a:b]!r}, not {expected}",
                source=source,
                where=where,
                hint=_LAYOUT_HINT,
            )
    if not line[68].isdigit():
        raise TLEError(
            f"the line ends in {line[68]!r}, not a checksum digit",
            source=source,
            where=where,
            hint=_CHECKSUM_HINT,
        )
    computed = tle_checksum(line)
    if computed != int(line[68]):
        raise TLEError(
            f"checksum is {computed}, but the line ends in {line[68]}",
            source=source,
            where=where,
            hint=_CHECKSUM_HINT,
        )


def parse_tle_lines(
    line1: str, line2: str, name: str = "", *, source: str = "<string>", lineno: int = 1
) -> ElementSet:
    """Validate two TLE lines and build an :class:`ElementSet`.

    ``lineno`` is the file line number of ``line1`` (used in error messages).

    Examples
    --------
    >>> es = parse_tle_lines(
    ...     "1 44238U 19029D   21132.06026622  .00003513  00000-0  19842-3 0  9994",
    ...     "2 44238  52.9942 154.2712 0000902  89.7786 270.3309 15.15652875108820",
    ...     "STARLINK-24")
    >>> es.catalog_number, es.epoch.isoformat(timespec="seconds")
    (44238, '2021-05-12T01:26:47+00:00')
    """
    return _element_set(line1, line2, name, source, lineno, lineno + 1)


def _element_set(line1: str, line2: str, name: str, source: str, n1: int, n2: int) -> ElementSet:
    line1, line2 = line1.rstrip(), line2.rstrip()
    _check_line(line1, "1", source, n1)
    _check_line(line2, "2", source, n2)
    if line1[2:7] != line2[2:7]:
        raise TLEError(
            f"satellite number {line1[2:7].strip()!r} on line 1 differs from "
            f"{line2[2:7].strip()!r} on line 2",
            source=source,
            where=f"line {n2}",
            hint="the two lines belong to different element sets; re-download the file",
        )
    try:
        sat = Satrec.twoline2rv(line1, line2, WGS72)
    except (ValueError, RuntimeError) as exc:  # pragma: no cover - layout already checked
        raise TLEError(
            f"sgp4 rejects the element set: {exc}",
            source=source,
            where=f"line {n1}",
            hint=_LAYOUT_HINT,
        ) from None
    return ElementSet(name.strip(), sat, line1, line2, int(sat.satnum), f"lines {n1}-{n2}")


class UnreadableElementFileError(UnreadableFileError, TLEError):
    """A TLE or OMM file is missing, not a regular file, too large or not text."""


def _read_text(path: str | PathLike[str], what: str = "element-set file") -> str:
    """The file's text: a regular file of at most ``MAX_ELEMENT_FILE_BYTES``, UTF-8."""
    try:
        return read_text_bounded(
            path, limit=MAX_ELEMENT_FILE_BYTES, what=what,
            limit_hint="keep only the satellites the run needs (e.g. one CelesTrak group); "
                       "docs/scenario.md lists the Limits")
    except UnreadableFileError as exc:
        raise UnreadableElementFileError(exc.message, source=exc.source, where=exc.where,
                                         hint=exc.hint) from None


def parse_tle_text(
    text: str, source: str = "<string>"
) -> tuple[list[ElementSet], tuple[int, int] | None]:
    """Parse TLE text (2-line or 3-line records, may be mixed), see :func:`read_tle_with_header`."""
    lines = text.splitlines()
    # (file line number, text) of non-blank lines.
    rows = [(i + 1, ln.rstrip()) for i, ln in enumerate(lines) if ln.strip()]
    header = None
    if rows and (m := _HEADER_RE.match(rows[0][1])):
        header = (int(m.group(1)), int(m.group(2)))
        rows = rows[1:]
    out: list[ElementSet] = []
    k = 0
    while k < len(rows):
        n, ln = rows[k]
        nxt = rows[k + 1][1] if k + 1 < len(rows) else ""
        if ln.startswith("1 ") and (len(ln) == 69 or nxt.startswith("2 ")):
            name, first = "", k  # two-line record
        else:
            name, first = (ln[2:] if ln.startswith("0 ") else ln), k + 1  # "0 NAME" is 3LE
            if len(name) > MAX_NAME_LENGTH:
                raise TLEError(
                    f"expected a name line (at most {MAX_NAME_LENGTH} characters) or a line "
                    f"starting '1 ', got {len(ln):,} characters starting {ln[:20]!r}",
                    source=source,
                    where=f"line {n}",
                    hint=_LAYOUT_HINT,
                )
        if first + 1 >= len(rows):
            last_n = rows[-1][0]
            raise TLEError(
                f"file ends after line {last_n}, in the middle of an element set",
                source=source,
                where=f"line {last_n}",
                hint="the file is truncated; re-download it",
            )
        (n1, l1), (n2, l2) = rows[first], rows[first + 1]
        out.append(_element_set(l1, l2, name, source, n1, n2))
        k = first + 2
    return out, header


def read_tle_with_header(
    path: str | PathLike[str],
) -> tuple[list[ElementSet], tuple[int, int] | None]:
    """Read a TLE file and its optional Hypatia header line ``"ORBITS SATS_PER_ORBIT"``.

    Returns
    -------
    element_sets : list of ElementSet
        In file order.
    header : tuple of int or None
        ``(orbits, sats_per_orbit)`` when the first non-blank line is two integers.

    Examples
    --------
    >>> sets, header = read_tle_with_header("hypatia/tles.txt")   # doctest: +SKIP
    >>> header                                                       # doctest: +SKIP
    (72, 22)
    """
    source = str(path)
    sets, header = parse_tle_text(_read_text(path, "TLE file"), source)
    if not sets:
        raise TLEError(
            "no element sets found",
            source=source,
            hint="a TLE file holds an optional name line and two lines starting '1 ' and '2 '",
        )
    check_unique_satellites(sets, source)
    return sets, header


def check_unique_satellites(sets: Iterable[ElementSet], source: str = "<string>") -> None:
    """Refuse two element sets of one satellite (the same NORAD catalog number).

    A file holding two snapshots of one satellite would put it twice in the constellation (two
    nodes at almost the same place); the message names both places in the file.

    Raises
    ------
    TLEError
        Naming the catalog number and where both element sets are.

    Examples
    --------
    >>> a = ElementSet("A", None, None, None, 44238, "lines 1-2")
    >>> try:
    ...     check_unique_satellites([a, attrs.evolve(a, where="lines 7-8")])
    ... except TLEError as exc:
    ...     print(exc.where, "|", exc.message)
    lines 7-8 | satellite 44238 appears twice (lines 1-2 and lines 7-8)
    """
    first: dict[int, ElementSet] = {}
    for es in sets:
        if es.catalog_number in first:
            other = first[es.catalog_number]
            raise TLEError(
                f"satellite {es.catalog_number} appears twice ({other.where or other.name} and "
                f"{es.where or es.name})",
                source=source,
                where=es.where or None,
                hint="keep one element set per satellite (the newest); files joined from "
                "several downloads repeat satellites",
            )
        first[es.catalog_number] = es


def read_tle(path: str | PathLike[str]) -> list[ElementSet]:
    """Read a two-line or three-line TLE file (auto-detected; blank lines ignored).

    A Hypatia-style first line ``"ORBITS SATS_PER_ORBIT"`` is skipped; ``\\r\\n`` line ends and
    trailing spaces are accepted. Raises :class:`~leosim.errors.TLEError` on any malformed line.

    Examples
    --------
    >>> sets = read_tle("starlink_2021-05-11.tle")          # doctest: +SKIP
    >>> len(sets), sets[0].name                              # doctest: +SKIP
    (1446, 'STARLINK-24')
    """
    return read_tle_with_header(path)[0]


def _omm_records(text: str, source: str) -> list[Mapping[str, Any]]:
    stripped = text.lstrip()
    if stripped.startswith(("[", "{")):
        depth, line = nesting_depth(text, MAX_NESTING_DEPTH)
        if depth > MAX_NESTING_DEPTH:
            raise TLEError(
                f"JSON nested deeper than leosim's limit of {MAX_NESTING_DEPTH}",
                source=source,
                where=f"line {line}",
                hint="OMM JSON is a list of flat objects, as CelesTrak's FORMAT=json returns",
            )
        try:
            data = json.loads(text)
        except RecursionError:  # pragma: no cover - nesting_depth refuses such text first
            raise TLEError("JSON nested too deeply", source=source, hint="check the file") from None
        except json.JSONDecodeError as exc:
            raise TLEError(
                f"invalid JSON: {exc.msg}",
                source=source,
                where=f"line {exc.lineno}",
                hint="OMM JSON is a list of objects, as CelesTrak's FORMAT=json returns",
            ) from None
        except ValueError:  # int() of a number with thousands of digits
            m = re.search(r"\d{4300,}", text)
            raise TLEError(
                "a number with thousands of digits",
                source=source,
                where=f"line {text.count(chr(10), 0, m.start()) + 1}" if m else None,
                hint="re-download the OMM file",
            ) from None
        records = [data] if isinstance(data, dict) else data
        if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
            raise TLEError(
                "OMM JSON must be a list of objects",
                source=source,
                hint="use CelesTrak's GP query with FORMAT=json",
            )
        return records
    reader = omm.parse_csv(StringIO(text))
    try:  # csv's own field limit (128 KiB) bounds huge fields; its error gets the line
        if not reader.fieldnames or "MEAN_MOTION" not in reader.fieldnames:
            raise TLEError(
                "not an OMM file: expected JSON or CSV with a header row naming OBJECT_NAME, "
                "EPOCH, MEAN_MOTION, ...",
                source=source,
                where="line 1",
                hint="use CelesTrak's GP query with FORMAT=json or FORMAT=csv",
            )
        return list(reader)
    except csv.Error as exc:
        raise TLEError(
            f"not readable as CSV: {exc}",
            source=source,
            where=f"line {reader.reader.line_num}",
            hint="OMM CSV holds one short field per column, as CelesTrak's FORMAT=csv returns",
        ) from None


def _omm_element_set(rec: Mapping[str, Any], source: str, index: int) -> ElementSet:
    where = f"record {index}"
    fields: dict[str, Any] = dict(_OMM_DEFAULTS)
    fields.update({k: v for k, v in rec.items() if v is not None and str(v).strip() != ""})
    for key in _OMM_REQUIRED:
        if key not in fields:
            raise TLEError(
                f"field {key} is missing",
                source=source,
                where=where,
                hint="OMM records need EPOCH, MEAN_MOTION, ECCENTRICITY, INCLINATION, "
                "RA_OF_ASC_NODE, ARG_OF_PERICENTER, MEAN_ANOMALY, NORAD_CAT_ID, BSTAR and "
                "MEAN_MOTION_DOT",
            )
        if key != "EPOCH":
            _omm_number(fields, key, source, where)
    for key in ("MEAN_MOTION_DDOT", "EPHEMERIS_TYPE", "ELEMENT_SET_NO", "REV_AT_EPOCH"):
        _omm_number(fields, key, source, where)
    for key in ("OBJECT_ID", "CLASSIFICATION_TYPE"):
        if not isinstance(fields[key], str):
            raise TLEError(
                f"field {key} is {str(fields[key])[:40]!r}, not text",
                source=source,
                where=where,
                hint="re-download the OMM file",
            )
    norad = float(fields["NORAD_CAT_ID"])
    if not (norad == int(norad) and 0 < norad <= MAX_CATALOG_NUMBER):
        raise TLEError(
            f"field NORAD_CAT_ID is {fields['NORAD_CAT_ID']!r}, not a catalog number "
            f"(a whole number 1-{MAX_CATALOG_NUMBER:,})",
            source=source,
            where=where,
            hint="re-download the OMM file",
        )
    if not float(fields["MEAN_MOTION"]) > 0:
        raise TLEError(
            f"field MEAN_MOTION is {fields['MEAN_MOTION']!r}; a satellite's mean motion is "
            "a positive number of revolutions per day",
            source=source,
            where=where,
            hint="re-download the OMM file",
        )
    epoch = str(fields["EPOCH"]).strip().removesuffix("Z")
    if "." not in epoch:
        epoch += ".0"
    fields["EPOCH"] = epoch
    try:
        year = datetime.strptime(epoch, "%Y-%m-%dT%H:%M:%S.%f").year
        if not MIN_YEAR <= year <= MAX_YEAR:
            raise ValueError(f"EPOCH year {year} is outside {MIN_YEAR}-{MAX_YEAR}")
        fields["NORAD_CAT_ID"] = int(float(fields["NORAD_CAT_ID"]))
        sat = Satrec()
        omm.initialize(sat, fields)
    except (TypeError, ValueError, OverflowError, ZeroDivisionError, AttributeError,
            IndexError) as exc:
        raise TLEError(
            f"cannot read the element set: {exc}",
            source=source,
            where=where,
            hint="EPOCH must look like 2023-07-17T07:36:35.330112; numeric fields must be numbers",
        ) from None
    name = str(rec.get("OBJECT_NAME") or "").strip()[:MAX_NAME_LENGTH]
    return ElementSet(name, sat, None, None, int(fields["NORAD_CAT_ID"]), where,
                      object_id=str(fields["OBJECT_ID"]).strip())


def _omm_number(fields: Mapping[str, Any], key: str, source: str, where: str) -> float:
    """``fields[key]`` as a finite float, else a TLEError naming the record and field."""
    value = fields[key]
    try:
        number = float(value) if not isinstance(value, bool) else math.nan
    except (TypeError, ValueError, OverflowError):
        number = math.nan
    if not math.isfinite(number):
        text = str(value)
        text = repr(value) if len(text) <= 40 else f"{text[:40]!r}... ({len(text):,} characters)"
        raise TLEError(
            f"field {key} is {text}, not a finite number",
            source=source,
            where=where,
            hint="re-download the OMM file; every numeric field must be a finite number",
        )
    return number


def read_omm(path: str | PathLike[str]) -> list[ElementSet]:
    """Read CCSDS OMM element sets from CelesTrak JSON (a list of objects) or CSV.

    The format is detected from the content. Records are numbered from 1 in error messages
    (``where="record 12"``).

    Examples
    --------
    >>> sets = read_omm("starlink.omm.json")                 # doctest: +SKIP
    >>> sets[0].name, sets[0].line1                          # doctest: +SKIP
    ('STARLINK-1007', None)
    """
    source = str(path)
    records = _omm_records(_read_text(path, "OMM file"), source)
    if not records:
        raise TLEError("no element sets found", source=source, hint="the file holds no records")
    sets = [_omm_element_set(rec, source, i + 1) for i, rec in enumerate(records)]
    check_unique_satellites(sets, source)
    return sets


def latest_epoch(element_sets: Iterable[ElementSet]) -> datetime:
    """Latest element-set epoch, as an aware UTC datetime."""
    return max(es.epoch for es in element_sets)
