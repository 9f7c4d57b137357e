"""Output folder rules: one run at a time, never someone else's files, never through a link.

A command that writes results (``leosim run``, ``demo``, ``sweep``, ``montecarlo``) first claims
its output folder with :meth:`OutputFolder.claim`:

- the folder is created if needed; a path that is a file, or a folder that cannot be written,
  is refused with a message (exit 2);
- an exclusive lock (``OUT/.leosim.lock``, ``flock``) is held while the command runs: a second
  run into the same folder is refused at once instead of corrupting the first;
- a folder that is not empty and was not written by leosim (no ``OUT/.leosim-output.json``) is
  refused unless ``force=True`` (``--force``); a previous leosim output folder is reused (its
  old results are removed first, and the console says so), unless resuming;
- any of leosim's output names that is a symbolic link is refused: leosim never writes through
  a link (partial files are created with ``O_EXCL | O_NOFOLLOW``, final files are renamed into
  place, which replaces a link rather than following it);
- until :meth:`OutputFolder.complete` the folder holds ``INCOMPLETE.txt`` saying what happened
  and how to continue, so an interrupted or failed run never looks complete.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import errno
import json
import os
import shutil
import stat
from collections.abc import Callable, Iterator
from pathlib import Path

from leosim.errors import InputError

LOCK = ".leosim.lock"
MARKER = ".leosim-output.json"
INCOMPLETE = "INCOMPLETE.txt"
#: Files and folders leosim writes into an output folder (the lock and marker aside).
OUTPUT_NAMES = (
    "routes.parquet", "path_changes.parquet", "access.parquet", "nodes.parquet",
    "sites.parquet", "summary.json", "report.csv", "sensitivity.csv", "report.html", "scene.czml", "viewer.json", INCOMPLETE, ".parts",
    "draws", "draws.csv", "montecarlo.csv", "members", "grid.csv", "sweep_plan.json",
)


def _is_ours(name: str) -> bool:
    return (name in OUTPUT_NAMES or name in (LOCK, MARKER)
            or (name.startswith(".") and (name.endswith(".partial") or name.endswith(".tmp"))))


class OutputFolder:
    """A claimed output folder (use as a context manager; the lock is released on exit).

    Examples
    --------
    >>> import tempfile
    >>> from leosim.io.outdir import OutputFolder
    >>> with OutputFolder.claim(tempfile.mkdtemp(), command="run") as folder:
    ...     folder.complete()
    """

    def __init__(self, path: Path, command: str, fd: int, replaced: bool) -> None:
        self.path = path
        self.command = command
        self._fd = fd
        #: True when the folder held a previous leosim run's results (removed or resumed).
        self.replaced = replaced

    # -- claiming ---------------------------------------------------------------------------
    @classmethod
    def claim(cls, path: str | os.PathLike[str], *, command: str, resume: bool = False,
              force: bool = False) -> OutputFolder:
        """Create (if needed), lock and check the output folder ``path``.

        Parameters
        ----------
        path : path
            The output folder (``-o``).
        command : str
            The command writing it (``"run"``, ``"sweep"``, ``"montecarlo"``), kept in the marker.
        resume : bool
            Keep what a previous run of the same command left (the command checks it fits).
        force : bool
            Write into a non-empty folder that leosim did not create (``--force``).

        Raises
        ------
        InputError
            The path is a file, cannot be created or written, is locked by another run, holds
            files that are not leosim's (without ``force``), or holds a symbolic link where
            leosim writes.
        """
        out = Path(path)
        where = "-o/--output"
        if out.exists() and not out.is_dir():
            raise InputError(f"{out} is a file, not a folder", where=where,
                             hint="give a folder for the results (it is created if missing)")
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InputError(f"cannot create the output folder {out}: {exc.strerror}",
                             where=where, hint="choose a folder you can write") from None
        try:
            fd = os.open(out / LOCK, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise InputError(f"{out / LOCK} is a symbolic link", where=where,
                                 hint="remove it; leosim never writes through links") from None
            raise InputError(f"cannot write into the output folder {out}: {exc.strerror}",
                             where=where, hint="choose a folder you can write") from None
        try:
            import fcntl

            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise InputError(
                f"another leosim command is writing into {out} (it holds {LOCK})", where=where,
                hint="wait for it to finish, or choose another output folder") from None
        except ImportError:  # pragma: no cover - not POSIX: no locking
            pass
        try:  # the lock file is removed on release: make sure we locked the current one
            same = os.path.samestat(os.fstat(fd), os.lstat(out / LOCK))
        except OSError:
            same = False
        if not same:
            os.close(fd)
            raise InputError(f"another leosim command is starting in {out}", where=where,
                             hint="wait for it to finish, or choose another output folder")
        try:
            replaced = cls._check(out, command, resume=resume, force=force)
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
        except BaseException:
            os.close(fd)
            raise
        folder = cls(out, command, fd, replaced)
        if not resume:
            folder._clear()
        folder._mark("running")
        return folder

    @staticmethod
    def _check(out: Path, command: str, *, resume: bool, force: bool) -> bool:
        names = [n for n in os.listdir(out) if n not in (LOCK, MARKER)]
        for name in names:
            if _is_ours(name) and (out / name).is_symlink():
                raise InputError(
                    f"{out / name} is a symbolic link", where="-o/--output",
                    hint="remove it (leosim never writes through links) or choose another "
                         "output folder")
        marker = out / MARKER
        ours = False
        if marker.is_file() and not marker.is_symlink():
            try:
                prev = json.loads(marker.read_text(encoding="utf-8"))
                ours = isinstance(prev, dict) and prev.get("command") == command
            except (OSError, ValueError):
                ours = False
        foreign = [n for n in names if not _is_ours(n)]
        if names and not foreign and not marker.exists():
            ours = True  # written by a leosim from before output markers
        if names and not ours and not force:
            what = (f"files leosim did not write ({', '.join(sorted(foreign)[:3])}"
                    f"{', ...' if len(foreign) > 3 else ''})" if foreign else
                    f"the results of another kind of leosim command than `{command}`")
            raise InputError(
                f"the output folder {out} is not empty: it holds {what}", where="-o/--output",
                hint="choose a new or empty folder, or pass --force to write into it anyway "
                     "(leosim then replaces only its own file names)")
        if resume and not ours and names:
            raise InputError(f"{out} holds no interrupted `leosim {command}` to resume",
                             where="--resume", hint="run without --resume")
        return ours and any(_is_ours(n) and n != INCOMPLETE for n in names)

    # -- state ------------------------------------------------------------------------------
    def _clear(self) -> None:
        """Remove a previous run's results (leosim's own names only)."""
        for name in OUTPUT_NAMES:
            p = self.path / name
            if p.is_symlink() or p.is_file():
                p.unlink()
            elif p.is_dir():
                if name == ".parts" and any(p.iterdir()) and not (p / "plan.json").is_file():
                    raise InputError(
                        f"{p} is not leosim's (it has no plan.json); leosim would delete it",
                        where="-o/--output", hint="move it away or choose another output folder")
                shutil.rmtree(p)

    def _mark(self, state: str, note: str | None = None) -> None:
        import leosim
        from leosim.io.atomic import atomic_write_json, atomic_write_text

        atomic_write_json(self.path / MARKER, {
            "command": self.command, "state": state, "leosim_version": leosim.__version__,
            "time_utc": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")})
        if state != "complete":
            atomic_write_text(self.path / INCOMPLETE, note or (
                f"This folder holds a `leosim {self.command}` that has not finished (state: "
                f"{state}). Its files may be partial. Run the same command again with --resume "
                f"to continue it, or without to start over.\n"))

    def interrupted(self, note: str) -> None:
        """Mark the folder as holding an interrupted run (``note`` says how to continue)."""
        self._mark("interrupted", note + "\n")

    def failed(self, note: str) -> None:
        """Mark the folder as holding a failed run."""
        self._mark("failed", note + "\n")

    def complete(self) -> None:
        """Every output is written: drop ``INCOMPLETE.txt``, mark the folder complete."""
        self._mark("complete")
        p = self.path / INCOMPLETE
        if p.is_file() or p.is_symlink():
            p.unlink()

    def release(self) -> None:
        """Remove the lock file and release the lock (the folder keeps only its marker)."""
        if self._fd >= 0:
            with contextlib.suppress(OSError):
                (self.path / LOCK).unlink()
            os.close(self._fd)  # closing the descriptor releases the flock
            self._fd = -1

    def __enter__(self) -> OutputFolder:
        return self

    def __exit__(self, *exc) -> None:
        self.release()


@contextlib.contextmanager
def claimed(path: str | os.PathLike[str], *, command: str, resume: bool = False,
            force: bool = False,
            interrupted_note: Callable[[BaseException], str] | None = None,
            ) -> Iterator[OutputFolder]:
    """Claim ``path`` (:meth:`OutputFolder.claim`) for the block, and mark how it ended:
    complete, interrupted (``KeyboardInterrupt`` or :class:`~leosim.errors.RunInterrupted`;
    ``interrupted_note(exc)`` says how to continue) or failed."""
    from leosim.errors import RunInterrupted

    with OutputFolder.claim(path, command=command, resume=resume, force=force) as folder:
        try:
            yield folder
        except (KeyboardInterrupt, RunInterrupted) as exc:
            folder.interrupted(interrupted_note(exc) if interrupted_note else (
                f"This `leosim {command}` was interrupted. Run the same command again with "
                f"--resume to continue it."))
            raise
        except BaseException:
            folder.failed(f"This `leosim {command}` failed before its outputs were all "
                          f"written; see the message it printed.")
            raise
        folder.complete()


def fresh_file(path: str | os.PathLike[str]) -> Path:
    """Create ``path`` as a new, empty regular file, never through a link.

    Whatever entry is at ``path`` (a stale partial file or a planted symbolic link) is removed
    first (``unlink`` never follows a link), then the file is created with
    ``O_CREAT | O_EXCL | O_NOFOLLOW``: if anything appears at that name in between, this fails
    instead of writing elsewhere. Returns ``path``.
    """
    p = Path(path)
    try:
        st = os.lstat(p)
    except FileNotFoundError:
        pass
    else:
        if stat.S_ISDIR(st.st_mode):
            raise InputError(f"{p} is a folder where leosim writes a file",
                             hint="move it away or choose another output folder")
        p.unlink()
    fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
    os.close(fd)
    return p


def regular_file_inside(root: str | os.PathLike[str], rel: str) -> Path | None:
    """``root/rel`` if it is a regular file inside ``root`` reached through no link, else None
    (what a viewer may serve)."""
    base = Path(root).resolve()
    lexical = Path(os.path.normpath(base / rel))
    try:
        real = lexical.resolve(strict=True)
    except (OSError, RuntimeError):
        return None
    if real != lexical or not real.is_relative_to(base):  # a link on the way, or outside
        return None
    try:
        st = os.lstat(real)
    except OSError:
        return None
    return real if stat.S_ISREG(st.st_mode) else None


__all__ = ["INCOMPLETE", "MARKER", "OutputFolder", "claimed", "fresh_file",
           "regular_file_inside"]
