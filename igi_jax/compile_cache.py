"""Reuse of compiled fit and colour-solve programs across images, in and between processes.

A fit compiles one program per *problem shape*: the canvas (image size rounded up to
:func:`canvas_size`), the Gaussian capacity ``N`` and the binning's list capacity, plus the
settings that change the program (optimiser, loss, backend, …). The image itself is an argument,
so every image with the same problem shape runs the same compiled program.

Three levels of reuse:

1. **In-process memo** (:func:`compiled`): programs are kept by key; :data:`MISSES` counts the
   compilations per name (``"fit"``, ``"solve"``), so tests and benchmarks can see them.
2. **Bucket snapping** (:func:`choose`): ``N`` and the list capacities are data-dependent
   buckets. A problem whose buckets are within :data:`SLACK` (one bucket step) below those of an
   already compiled program runs that program (padded) instead of compiling its own.
3. **Persistent cache** (:func:`enable_persistent_cache`): JAX's on-disk compilation cache, so a
   second process compiles nothing. The entry points (``igi``, ``evaluate.py``) turn it on; the
   library and the tests never do. The buckets compiled are recorded next to it
   (``buckets.jsonl``) so that snapping works across processes too.

Canvas choice, measured (2026-11-26, 2-core CPU, quad-tree init of a 700×450 crop of photo 002,
reference backend, jitted render forward + backward, median of 7): 95.7 ms at the exact size vs
96.1 ms on the 768×512 canvas (+0.4 %), since cells no Gaussian reaches cost nothing. Padding to
the bucket ladder is therefore nearly free per step and lets differently sized images share
programs; only D-SSIM, whose windows would see the padding, fits at the exact size.
"""

from __future__ import annotations

import collections
import contextlib
import json
import math
import os
import time
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import Any

import jax

from igi_jax.buckets import bucket

ENV_VAR = "IGI_JAX_CACHE_DIR"  # a folder; "0", "off", "none" or "" turn the persistent cache off
SLACK = 1.5  # run a compiled program whose buckets are at most this factor above the needed ones
MIN_CANVAS_SIDE = 16
INDEX_NAME = "buckets.jsonl"

MISSES: collections.Counter[str] = collections.Counter()  # compilations per program name
SECONDS: collections.Counter[str] = collections.Counter()  # seconds spent compiling, per name
_COMPILED: dict[tuple[str, Hashable], Any] = {}
_KNOWN: dict[str, set[tuple[int, ...]]] = collections.defaultdict(set)
_index: Path | None = None  # buckets.jsonl of the persistent cache, when enabled


def canvas_size(height: int, width: int) -> tuple[int, int]:
    """The canvas an ``height × width`` image is fitted on: each side rounded up the bucket ladder."""
    return bucket(height, minimum=MIN_CANVAS_SIDE), bucket(width, minimum=MIN_CANVAS_SIDE)


def _family_id(family: Hashable) -> str:
    return repr((jax.__version__, jax.default_backend(), family))


def choose(family: Hashable, wanted: tuple[int, ...]) -> tuple[int, ...]:
    """Bucket sizes to compile or reuse for ``family``: ``wanted`` or a compiled superset.

    Picks, among the sizes already compiled for ``family`` (this process, or recorded by earlier
    ones in the persistent cache), the smallest (by product) with ``wanted[i] ≤ size[i] ≤
    SLACK · wanted[i]`` for every ``i``; ``wanted`` itself when none qualifies.
    """
    fid = _family_id(family)
    known = _KNOWN[fid] | _read_index(fid)
    fits = [
        k
        for k in known
        if len(k) == len(wanted) and all(w <= s <= SLACK * w for w, s in zip(wanted, k, strict=True))
    ]
    return min(fits, key=math.prod) if fits else tuple(wanted)


def compiled(
    name: str, family: Hashable, sizes: tuple[int, ...], build: Callable[[], Any]
) -> tuple[Any, float]:
    """The compiled program for ``(family, sizes)``, built on first use.

    Returns:
      ``(program, seconds)``: seconds spent compiling in this call (0 on an in-process hit).
    """
    key = (name, (family, sizes))
    if key in _COMPILED:
        return _COMPILED[key], 0.0
    t0 = time.perf_counter()
    program = build()
    seconds = time.perf_counter() - t0
    MISSES[name] += 1
    SECONDS[name] += seconds
    _COMPILED[key] = program
    fid = _family_id(family)
    if sizes not in _KNOWN[fid]:
        _KNOWN[fid].add(sizes)
        _append_index(fid, sizes)
    return program, seconds


def clear() -> None:
    """Forget every compiled program and counter (tests)."""
    _COMPILED.clear()
    _KNOWN.clear()
    MISSES.clear()
    SECONDS.clear()


# ---------------------------------------------------------------------------------------------
# Persistent cache


def default_cache_dir() -> Path | None:
    """``$IGI_JAX_CACHE_DIR``, else ``$XDG_CACHE_HOME/igi-jax/jax`` (``~/.cache/igi-jax/jax``).

    ``None`` when the variable is set to ``""``, ``0``, ``off``, ``no`` or ``none``.
    """
    value = os.environ.get(ENV_VAR)
    if value is not None:
        return None if value.strip().lower() in ("", "0", "off", "no", "none", "false") else Path(value)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "igi-jax" / "jax"


def enable_persistent_cache(path: str | os.PathLike | None = None) -> Path | None:
    """Turn on JAX's persistent compilation cache in ``path`` (default :func:`default_cache_dir`).

    Every program is cached, however fast it compiled, so that a second run compiles nothing.
    Returns the folder, or ``None`` if disabled or the folder cannot be created (then a run just
    compiles as usual).
    """
    global _index
    folder = Path(path) if path is not None else default_cache_dir()
    if folder is None:
        return None
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    jax.config.update("jax_compilation_cache_dir", str(folder))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    _index = folder / INDEX_NAME
    return folder


def _read_index(fid: str) -> set[tuple[int, ...]]:
    if _index is None or not _index.is_file():
        return set()
    found = set()
    with contextlib.suppress(OSError):
        for line in _index.read_text().splitlines():
            with contextlib.suppress(ValueError, TypeError, KeyError):
                entry = json.loads(line)
                if entry["family"] == fid:
                    found.add(tuple(int(v) for v in entry["sizes"]))
    return found


def _append_index(fid: str, sizes: tuple[int, ...]) -> None:
    if _index is None:
        return
    line = json.dumps({"family": fid, "sizes": list(sizes)}) + "\n"
    with contextlib.suppress(OSError), open(_index, "a") as f:  # one short append: atomic enough
        f.write(line)
