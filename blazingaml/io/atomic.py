"""Atomic outputs: a file or directory appears under its final name whole, or not at all.

Every output is written under a temporary sibling name, `.NAME.PID-XXXXXXXX.tmp`, flushed to disk
and renamed over NAME in one step, so a run killed at any point leaves either the previous output
or the new one, never a mixture. The temporary name carries the writer's process id: the next
write to NAME removes the temporaries of writers that are no longer running (a killed run cannot
clean up after itself), and leaves those of a run still in progress alone.

Outputs made of several files (a Parquet file and its account key table) are renamed in order,
the last file being the commit point. A directory (a model, a report) is written whole in a
temporary directory and swapped with the old one in one `renameat2(RENAME_EXCHANGE)` call.

A full disk (ENOSPC, EDQUOT) becomes one `DiskFullError` naming the output; the temporaries are
removed, so nothing partial is left behind.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import re
import secrets
import shutil
from pathlib import Path

from ..errors import DiskFullError, OutputError

_DISK_FULL = (errno.ENOSPC, errno.EDQUOT)
# `.NAME.<pid>-<8 chars>.tmp|old`; `.NAME.<8 chars>.tmp` is the pid-less name of earlier versions.
_TEMP_TAIL = re.compile(r"(?:(\d+)-)?[a-z0-9_]{8}\.(?:tmp|old)")


def temporary_sibling(target: Path, kind: str = "tmp") -> Path:
    """A fresh temporary name next to `target`, owned by this process."""
    return target.with_name(f".{target.name}.{os.getpid()}-{secrets.token_hex(4)}.{kind}")


def _owner_running(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:   # alive, owned by another user
        return True
    return True


def stale_temporaries(target: str | os.PathLike) -> list[Path]:
    """Temporaries of `target` left by writers that are no longer running."""
    target = Path(target)
    prefix = f".{target.name}."
    try:
        names = os.listdir(target.parent)
    except FileNotFoundError:
        return []
    stale = []
    for name in names:
        if not name.startswith(prefix):
            continue
        m = _TEMP_TAIL.fullmatch(name[len(prefix):])
        if m and (m.group(1) is None or not _owner_running(int(m.group(1)))):
            stale.append(target.parent / name)
    return stale


def remove_stale_temporaries(target: str | os.PathLike) -> None:
    """Delete what `stale_temporaries` finds (files and directories)."""
    for path in stale_temporaries(target):
        _remove(path)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _disk_full(exc: BaseException, target: Path) -> DiskFullError | None:
    if isinstance(exc, OSError) and exc.errno in _DISK_FULL:
        return DiskFullError(
            f"{target}: no space left on the device while writing it; nothing was written under this name",
            hint=f"free space on the file system holding {target.parent} (or write elsewhere) and rerun")
    return None


@contextlib.contextmanager
def atomic_files(*targets: str | os.PathLike):
    """Yield one temporary path per target; on success each replaces its target, in order.

    The last target is the commit point: readers that find it may rely on the earlier ones being
    from the same run. On any error (or a signal turned into an exception) the temporaries are removed.
    """
    targets = [Path(t) for t in targets]
    temps: list[Path] = []
    try:
        for target in targets:
            target.parent.mkdir(parents=True, exist_ok=True)
            remove_stale_temporaries(target)
            temps.append(temporary_sibling(target))   # listed first: a signal may arrive in between
            temps[-1].touch()
        yield temps
        for tmp in temps:
            _fsync(tmp)
        for tmp, target in zip(temps, targets):
            os.replace(tmp, target)
        for parent in {t.parent for t in targets}:
            _fsync(parent)
    except BaseException as exc:
        for tmp in temps:
            _remove(tmp)
        full = _disk_full(exc, targets[-1])
        if full is not None:
            raise full from None
        raise


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike):
    """Yield a temporary path next to `target`; on success it replaces `target` in one rename."""
    with atomic_files(target) as (tmp,):
        yield tmp


def write_text_atomic(target: str | os.PathLike, text: str) -> None:
    """Write a text file atomically."""
    with atomic_path(target) as tmp:
        Path(tmp).write_text(text)


def ensure_replaceable(target: str | os.PathLike, known_names) -> None:
    """Refuse to replace a directory holding entries that blazingaml did not write there.

    `known_names(directory)` gives the names an earlier run wrote; anything else (a user's notes,
    another program's output) would be lost when the directory is swapped, so it stops the run
    before any work is done."""
    target = Path(target)
    if not target.exists():
        return
    if not target.is_dir():
        raise OutputError(f"{target}: exists and is not a directory", hint="give a directory path for this output")
    foreign = sorted(set(os.listdir(target)) - set(known_names(target)))
    if foreign:
        shown = ", ".join(foreign[:5]) + (" ..." if len(foreign) > 5 else "")
        raise OutputError(f"{target}: holds entries blazingaml did not write ({shown}); they would be lost when "
                          f"the new output replaces the directory",
                          hint="give a new or empty directory, or move those entries away")


@contextlib.contextmanager
def atomic_directory(target: str | os.PathLike, known_names=lambda directory: ()):
    """Yield a temporary directory; on success it replaces `target` as a whole, in one step.

    See `ensure_replaceable` for `known_names`."""
    target = Path(target)
    ensure_replaceable(target, known_names)
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(target)
    tmp = temporary_sibling(target)
    try:
        tmp.mkdir()
        yield tmp
        for path in tmp.rglob("*"):
            if path.is_file():
                _fsync(path)
        _fsync(tmp)
        _swap_in(tmp, target)
        _fsync(target.parent)
    except BaseException as exc:
        _remove(tmp)
        full = _disk_full(exc, target)
        if full is not None:
            raise full from None
        raise
    _remove(tmp)   # after an exchange it holds the previous output


def _swap_in(tmp: Path, target: Path) -> None:
    """Put directory `tmp` at `target`; the previous `target`, if any, ends up at `tmp`."""
    if not target.exists():
        os.rename(tmp, target)
        return
    if _exchange(tmp, target):
        return
    # No RENAME_EXCHANGE on this file system: two renames. A kill between them leaves the previous
    # output under a `.old` name, which the next run removes.
    old = temporary_sibling(target, "old")
    os.rename(target, old)
    os.rename(tmp, target)
    os.rename(old, tmp)


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically with Linux renameat2; False where the system cannot."""
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        return False
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False
    raise OSError(code, os.strerror(code), str(b))
