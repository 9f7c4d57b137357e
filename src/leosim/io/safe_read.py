"""Bounded reading of input files: regular files only, never more than a stated size.

Every file a user names (a scenario, a TLE/OMM file, an ISL list) goes through
:func:`read_bytes_bounded` or :func:`read_text_bounded`. They refuse what is not a regular file
(a directory, ``/dev/zero``, a FIFO, a socket) before reading a byte, open without blocking (a
FIFO with no writer cannot hang the open), and stop reading one byte past ``limit`` (a file that
grows while it is read cannot exhaust memory). Every failure is an
:class:`UnreadableFileError` naming the file, what was expected and a fix.

Examples
--------
>>> import tempfile, os
>>> with tempfile.TemporaryDirectory() as d:
...     p = os.path.join(d, "a.txt")
...     _ = open(p, "w").write("hello")
...     read_text_bounded(p, limit=100)
'hello'
"""

from __future__ import annotations

import errno
import os
import re
import stat
from os import PathLike

from leosim.errors import InputError

__all__ = ["UnreadableFileError", "format_size", "nesting_depth", "read_bytes_bounded",
           "read_text_bounded"]

_CHUNK = 1 << 20


class UnreadableFileError(InputError):
    """An input file is missing, not a regular file, unreadable, too large or not UTF-8.

    ``source`` is the file; callers that know which key named it (``constellation.tle_file``)
    re-raise with the key (see :func:`leosim.scenario.build.build_scenario`).
    """


def format_size(n: int) -> str:
    """``268435456`` -> ``"256 MiB"``.

    Examples
    --------
    >>> format_size(256 * 2**20), format_size(1536), format_size(10)
    ('256 MiB', '1.5 KiB', '10 bytes')
    """
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= scale:
            return f"{n / scale:.4g} {unit}"
    return f"{n} bytes"


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def read_bytes_bounded(path: str | PathLike[str], *, limit: int, what: str = "input file",
                       limit_hint: str | None = None) -> bytes:
    """Read a regular file of at most ``limit`` bytes.

    Parameters
    ----------
    path : str or path-like
        The file.
    limit : int
        Largest accepted size in bytes.
    what : str
        What the file is, for messages (``"TLE file"``).
    limit_hint : str, optional
        How to get under the limit (default: split the file).

    Returns
    -------
    bytes
        The whole content.

    Raises
    ------
    UnreadableFileError
        Missing, not a regular file (directory, device, FIFO, socket), unreadable, or larger
        than ``limit``; the message names the file and the limit.
    """
    source = os.fspath(path)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    try:
        fd = os.open(source, flags)
    except FileNotFoundError:
        raise UnreadableFileError(f"{what} not found", source=source,
                                  hint="check the path (relative paths start at the scenario "
                                       "file's folder)") from None
    except OSError as exc:
        reason = exc.strerror or str(exc)
        if exc.errno == errno.ENXIO:  # a FIFO or socket without a writer
            reason = "it is not a regular file"
        raise UnreadableFileError(f"cannot open the {what}: {reason}", source=source,
                                  hint="name a readable regular file") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise UnreadableFileError(
                f"the {what} is {_kind(st.st_mode)}, not a regular file", source=source,
                hint="name a regular file; leosim does not read directories, devices or pipes")
        def too_big(size: str) -> UnreadableFileError:
            return UnreadableFileError(
                f"the {what} is larger than leosim's limit of {format_size(limit)}: {size}",
                source=source,
                hint=limit_hint or "split the file or keep only what the run needs; the limits "
                                   "are listed in docs/scenario.md (Limits)")

        if st.st_size > limit:  # refused from its size, before a byte is read
            raise too_big(f"{st.st_size:,} bytes")
        os.set_blocking(fd, True)
        parts: list[bytes] = []
        got = 0
        while True:  # read at most limit + 1 bytes: a growing file cannot exhaust memory
            try:
                chunk = os.read(fd, min(_CHUNK, limit + 1 - got))
            except OSError as exc:
                raise UnreadableFileError(f"cannot read the {what}: {exc.strerror or exc}",
                                          source=source,
                                          hint="name a readable regular file") from None
            if not chunk:
                break
            parts.append(chunk)
            got += len(chunk)
            if got > limit:  # the file grew while it was read
                raise too_big(f"more than {limit:,} bytes read")
        return b"".join(parts)
    finally:
        os.close(fd)


def read_text_bounded(path: str | PathLike[str], *, limit: int, what: str = "input file",
                      limit_hint: str | None = None) -> str:
    """:func:`read_bytes_bounded`, decoded as UTF-8 (a byte-order mark is dropped).

    Raises
    ------
    UnreadableFileError
        As :func:`read_bytes_bounded`, or when the content is not UTF-8 text (the message
        gives the line of the first bad byte).
    """
    raw = read_bytes_bounded(path, limit=limit, what=what, limit_hint=limit_hint)
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise UnreadableFileError(
            f"the {what} is not UTF-8 text (byte {exc.start} is not UTF-8)",
            source=os.fspath(path), where=f"line {line}",
            hint="save the file as plain UTF-8 (or ASCII) text") from None


_TOML_TOKEN = re.compile(r"#|\"\"\"|'''|\"|'|[\[\]{}\n]")
_BASIC_END = re.compile(r'(?:[^"\\\n]|\\.)*"')
_ML_BASIC_END = re.compile(r'(?:[^\\]|\\.)*?"""', re.DOTALL)


def nesting_depth(text: str, limit: int = 32) -> tuple[int, int]:
    r"""Deepest nesting of ``[`` and ``{`` outside strings and comments in TOML or JSON text.

    Scanning stops as soon as the depth exceeds ``limit``. The scan is iterative (no recursion),
    so it is safe on any input, and linear in the length of the text.

    Returns
    -------
    depth, line : int
        The deepest level found (at most ``limit + 1``) and the 1-based line where it was reached.

    Examples
    --------
    >>> nesting_depth('a = [[1, 2], "[[[["]  # [[[[')
    (2, 1)
    >>> nesting_depth("x = 1\nb = " + "[" * 50 + "]" * 50, limit=32)
    (33, 2)
    """
    depth = deepest = 0
    line = deepest_line = 1
    pos = 0
    while (m := _TOML_TOKEN.search(text, pos)) is not None:
        tok, pos = m.group(), m.end()
        if tok == "\n":
            line += 1
        elif tok in "[{":
            depth += 1
            if depth > deepest:
                deepest, deepest_line = depth, line
                if deepest > limit:
                    break
        elif tok in "]}":
            depth = max(0, depth - 1)
        else:
            if tok == "#":
                end = text.find("\n", pos)
                end = len(text) if end < 0 else end
            elif tok == "'":
                end = text.find("'", pos)
                end = len(text) if end < 0 else end + 1
            elif tok == "'''":
                end = text.find("'''", pos)
                end = len(text) if end < 0 else end + 3
            else:
                sm = (_BASIC_END if tok == '"' else _ML_BASIC_END).match(text, pos)
                end = len(text) if sm is None else sm.end()
            line += text.count("\n", pos, end)
            pos = end
    return deepest, deepest_line
