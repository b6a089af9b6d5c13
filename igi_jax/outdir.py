"""Output folders: claimed by one writer at a time, filled with a complete set of files at once.

Used by ``igi fit`` and the folder fitters, whose outputs are a *set* of files (``gaussians.npz``,
``render.png``, ``metrics.json``, ``psnr_vs_time.png``) that must belong to one run.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from igi_jax.io import InputError, Writer, _make_dirs, _umask, write_outputs


class OutputDir:
    """An output folder claimed for one writer, then filled with a complete set of files at once.

    ``with OutputDir(out, overwrite=...) as claim: ...; claim.write(writers)``

    * Claim (on enter): a lock file ``.<name>.igi-lock`` next to ``out``, created exclusively
      (``O_EXCL``), so a second writer gets a clear error until the first is done; a lock whose
      process is gone (same host) is taken over. An ``out`` that already holds files is refused
      unless ``overwrite``.
    * :meth:`write`: every file goes into a hidden staging folder next to ``out``, which then
      replaces ``out`` as a whole (renames), so the folder holds exactly the new set: no stale
      file of an earlier run, and nothing at all if a writer fails.
    * Exit: the lock and any staging folder are removed.
    """

    def __init__(self, path: str | os.PathLike, *, overwrite: bool = False):
        self.path, self.overwrite = Path(path), overwrite
        self.lock = self.path.parent / f".{self.path.name}.igi-lock"
        self._created: list[Path] = []

    def __enter__(self) -> OutputDir:
        if self.path.exists() and not self.path.is_dir():
            raise InputError(f"output directory {self.path} exists and is not a directory")
        self._created = _make_dirs(self.path.parent)
        try:
            self._take_lock()
            if not self.overwrite and self.path.is_dir() and any(self.path.iterdir()):
                raise InputError(
                    f"output directory {self.path} already holds files; pass --overwrite "
                    "to replace them, or choose another --out"
                )
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _take_lock(self) -> None:
        for _ in range(2):
            try:
                fd = os.open(self.lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                owner = _lock_owner(self.lock)
                if owner is None:  # its process is gone: take over
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(self.lock)
                    continue
                raise InputError(
                    f"output directory {self.path} is being written by another process "
                    f"({owner}); wait for it to finish or choose another --out"
                ) from None
            with os.fdopen(fd, "w") as f:
                f.write(json.dumps({"pid": os.getpid(), "host": os.uname().nodename}))
            self._locked = True
            return
        raise InputError(f"cannot lock output directory {self.path} ({self.lock})")

    def write(self, writers: Mapping[str, Writer]) -> list[Path]:
        """Write ``writers`` into a staging folder, then make it ``out`` (all-or-nothing)."""
        staging = Path(tempfile.mkdtemp(dir=self.path.parent, prefix=f".{self.path.name}.igi-new-"))
        try:
            os.chmod(staging, 0o777 & ~_umask())
            write_outputs(staging, writers)
            old = None
            if self.path.exists():
                old = Path(tempfile.mkdtemp(dir=self.path.parent, prefix=f".{self.path.name}.igi-old-"))
                os.replace(self.path, old / "out")
            os.replace(staging, self.path)
            if old is not None:
                shutil.rmtree(old, ignore_errors=True)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        self._created = []  # the parents now hold the outputs
        return [self.path / name for name in writers]

    def __exit__(self, *exc: Any) -> None:
        if getattr(self, "_locked", False):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.lock)
            self._locked = False
        for d in reversed(self._created):
            with contextlib.suppress(OSError):
                d.rmdir()  # only if empty


def _lock_owner(lock: Path) -> str | None:
    """Who holds ``lock`` (a description), or ``None`` if its process is gone."""
    try:
        info = json.loads(lock.read_text())
        pid, host = int(info["pid"]), str(info["host"])
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError):
        return f"unreadable lock file {lock}"  # being written right now, or foreign: respect it
    if host == os.uname().nodename:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            pass
    return f"pid {pid} on {host}, lock file {lock}"
