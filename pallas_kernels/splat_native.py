"""The tile splat as a C++ kernel called through XLA's FFI: the ``cpu-native`` backend.

Same arguments and the same maths as :func:`pallas_kernels.splat_reference.splat_reference`
(its pure-JAX reference, and what the parity tests compare against); the source is
``splat_native.cc`` beside this file. It is compiled at first use with the system C++ compiler
(``$IGI_CXX``, else ``$CXX``, else ``c++``) for this machine's CPU into the user cache
(``$IGI_CACHE_DIR``, else ``$XDG_CACHE_HOME/igi_jax``, else ``~/.cache/igi_jax``), keyed by the
source, jaxlib, compiler and CPU, so the install itself never compiles anything. Where there is no
compiler or the build fails, :func:`available` is false and :func:`unavailable_reason` says why;
``backend="auto"`` then keeps the XLA path (see :func:`igi_jax.render.api.resolve_backend`).

Threads: ``$IGI_NATIVE_THREADS``, else the CPUs this process may run on, read by the kernel at
every call (no retracing). The result does not depend on the thread count: each cell is computed
whole by one thread, and the backward sums in a fixed order.
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import os
import platform
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from igi_jax import binning as binning_lib

SOURCE = Path(__file__).with_name("splat_native.cc")
FLAGS = ("-O3", "-march=native", "-std=c++17", "-shared", "-fPIC", "-fopenmp-simd", "-fno-math-errno")
_TARGETS = {"forward": "igi_splat_forward", "backward": "igi_splat_backward", "bin": "igi_bin_cells"}
_SYMBOLS = {"forward": "IgiSplatForward", "backward": "IgiSplatBackward", "bin": "IgiBinCells"}
_GRAD_WIDTH = 8


def cache_dir() -> Path:
    """Where the compiled kernel is kept."""
    if os.environ.get("IGI_CACHE_DIR"):
        return Path(os.environ["IGI_CACHE_DIR"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "igi_jax"


def compiler() -> str | None:
    """The C++ compiler's path, or ``None`` when there is none."""
    name = os.environ.get("IGI_CXX") or os.environ.get("CXX") or "c++"
    return shutil.which(name)


def threads() -> int:
    """Threads each kernel call uses (the kernel reads the same variable itself)."""
    env = os.environ.get("IGI_NATIVE_THREADS")
    if env:
        try:
            n = int(env)
        except ValueError:
            raise ValueError(f"IGI_NATIVE_THREADS={env!r} is not a whole number") from None
        if n < 1:
            raise ValueError(f"IGI_NATIVE_THREADS={env!r} must be at least 1")
        return n
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _cpu_flags() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(("flags", "Features")):
                return line
    except OSError:
        pass
    return platform.processor()


def _build(cxx: str) -> Path:
    """Compile ``splat_native.cc`` unless this exact build is cached; returns the library path."""
    import jaxlib

    version = subprocess.run([cxx, "--version"], capture_output=True, text=True, timeout=60).stdout
    key = hashlib.sha256(
        "\0".join([SOURCE.read_text(), jaxlib.__version__, version, " ".join(FLAGS), _cpu_flags()]).encode()
    ).hexdigest()[:16]
    out_dir = cache_dir() / "native"
    lib = out_dir / f"splat_native-{key}.so"
    if lib.exists():
        return lib
    out_dir.mkdir(parents=True, exist_ok=True)
    # Build beside the target and rename: a concurrent or interrupted build never leaves a torn file.
    fd, tmp = tempfile.mkstemp(suffix=".so.tmp", dir=out_dir)
    os.close(fd)
    try:
        cmd = [cxx, *FLAGS, "-I", jax.ffi.include_dir(), str(SOURCE), "-o", tmp, "-pthread"]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        if done.returncode != 0:
            lines = done.stderr.strip().splitlines()
            first = next((x for x in lines if "error" in x), lines[-1] if lines else "no message")
            raise RuntimeError(f"{Path(cxx).name} failed (exit {done.returncode}): {first.strip()}")
        os.replace(tmp, lib)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return lib


@functools.cache
def _load() -> str | None:
    """Build, load and register the kernels once; ``None`` on success, else the reason."""
    cxx = compiler()
    if cxx is None:
        name = os.environ.get("IGI_CXX") or os.environ.get("CXX") or "c++"
        return f"no C++ compiler ({name!r} is not on PATH; set IGI_CXX)"
    try:
        lib = ctypes.cdll.LoadLibrary(str(_build(cxx)))
        for key, symbol in _SYMBOLS.items():
            capsule = jax.ffi.pycapsule(getattr(lib, symbol))
            jax.ffi.register_ffi_target(_TARGETS[key], capsule, platform="cpu")
    except (OSError, RuntimeError, subprocess.SubprocessError) as e:
        return f"the native kernel did not build or load: {e}"
    return None


def available() -> bool:
    """Whether the native kernel is built and registered (builds it on first call)."""
    return _load() is None


def unavailable_reason() -> str | None:
    """Why :func:`available` is false (``None`` when it is true)."""
    return _load()


def _attrs(height: int, width: int, cell: int) -> dict:
    return dict(height=np.int64(height), width=np.int64(width), cell=np.int64(cell))


def _forward(means, conics, colors, ids, start, end, height, width, cell):
    call = jax.ffi.ffi_call(
        _TARGETS["forward"],
        jax.ShapeDtypeStruct((height, width, 3), jnp.float32),
        vmap_method="sequential",
    )
    return call(means, conics, colors, ids, start, end, **_attrs(height, width, cell))


@functools.partial(jax.custom_vjp, nondiff_argnums=(8, 9, 10))
def _rasterize(means, conics, colors, ids, start, end, inv, first, height, width, cell):
    return _forward(means, conics, colors, ids, start, end, height, width, cell)


def _rasterize_fwd(means, conics, colors, ids, start, end, inv, first, height, width, cell):
    image = _forward(means, conics, colors, ids, start, end, height, width, cell)
    return image, (means, conics, colors, ids, start, end, inv, first)


def _rasterize_bwd(height, width, cell, res, v_image):
    means, conics, colors, ids, start, end, inv, first = res
    n = means.shape[0]
    call = jax.ffi.ffi_call(
        _TARGETS["backward"],
        (
            jax.ShapeDtypeStruct((n, _GRAD_WIDTH), jnp.float32),
            jax.ShapeDtypeStruct((ids.shape[0], _GRAD_WIDTH), jnp.float32),  # per-slot scratch
        ),
        vmap_method="sequential",
    )
    g, _ = call(
        means,
        conics,
        colors,
        ids,
        start,
        end,
        v_image.astype(jnp.float32),
        inv,
        first,
        **_attrs(height, width, cell),
    )
    return g[:, 0:2], g[:, 2:5], g[:, 5:8], None, None, None, None, None


_rasterize.defvjp(_rasterize_fwd, _rasterize_bwd)


class NativeBinning(NamedTuple):
    """A :class:`~igi_jax.binning.Binning` plus its inverse index, which the backward sums by.

    ``slot_of_entry [S]`` and ``entry_start [N + 1]``: Gaussian ``g``'s list slots are
    ``slot_of_entry[entry_start[g] : entry_start[g + 1]]``, in cell order.
    """

    binning: binning_lib.Binning
    slot_of_entry: jax.Array
    entry_start: jax.Array


def inverse_index(b: binning_lib.Binning, num_gaussians: int) -> NativeBinning:
    """The inverse index of any binning (XLA ops): for lists not made by :func:`bin_gaussians`."""
    ids = b.gauss_ids
    order = jnp.argsort(ids, stable=True).astype(jnp.int32)  # slots by Gaussian, then by cell
    counts = jnp.zeros(num_gaussians + 1, jnp.int32).at[ids].add(1, mode="drop")[:num_gaussians]
    start = jnp.concatenate([jnp.zeros(1, jnp.int32), jnp.cumsum(counts).astype(jnp.int32)])
    return NativeBinning(b, order, start)


def bin_gaussians(
    means: jax.Array,
    cov: jax.Array,
    mask: jax.Array,
    height: int,
    width: int,
    capacity: int,
    cell: int = 8,
) -> NativeBinning:
    """:func:`igi_jax.binning.bin_gaussians`'s lists (identical), by a counting sort in C++.

    The cell boxes and counts are the XLA ones (:func:`igi_jax.binning.cell_boxes`); only the sort
    is native. Lists over ``capacity`` come back empty, with ``num_entries > capacity`` as there.
    """
    _require()
    if capacity < 1:
        raise ValueError(f"capacity must be positive, got {capacity=}")
    cy_n, cx_n = binning_lib.tile_grid(height, width, cell)
    x0, y0, x1, y1 = binning_lib.cell_boxes(means, cov, mask, height, width, cell)
    call = jax.ffi.ffi_call(
        _TARGETS["bin"],
        (
            jax.ShapeDtypeStruct((capacity,), jnp.int32),
            jax.ShapeDtypeStruct((cy_n * cx_n,), jnp.int32),
            jax.ShapeDtypeStruct((cy_n * cx_n,), jnp.int32),
            jax.ShapeDtypeStruct((capacity,), jnp.int32),
            jax.ShapeDtypeStruct((means.shape[0] + 1,), jnp.int32),
        ),
        vmap_method="sequential",
    )
    ids, start, end, inv, first = call(x0, y0, x1, y1, cells_x=np.int64(cx_n), cells_y=np.int64(cy_n))
    total = jnp.sum(binning_lib.box_counts(x0, y0, x1, y1))
    b = binning_lib.with_counts(ids, start, end, total, means, cov, mask, height, width, cell)
    return NativeBinning(b, inv, first)


def _require() -> None:
    reason = unavailable_reason()
    if reason is not None:
        raise RuntimeError(f"backend 'cpu-native' is unavailable: {reason}")


def rasterize(
    means: jax.Array,
    conics: jax.Array,
    colors: jax.Array,
    nb: NativeBinning,
    height: int,
    width: int,
) -> jax.Array:
    """Render ``[H, W, 3]`` from binned Gaussians; differentiable in means, conics, colors.

    Args:
      means: ``[N, 2]`` pixels, float32.
      conics: ``[N, 3]`` inverse covariances ``(a, b, c)``, 1/pixels², float32.
      colors: ``[N, 3]``, float32.
      nb: binning of the same Gaussians with its inverse index (:func:`bin_gaussians`, or any
        :class:`~igi_jax.binning.Binning` through :func:`inverse_index`), cell 4, 8 or 16.
      height, width: image size (static).

    Returns:
      ``[H, W, 3]`` float32 image, NaN everywhere if the binning overflowed.
    """
    _require()
    threads()  # a bad $IGI_NATIVE_THREADS is an error here, not silently ignored by the kernel
    b = nb.binning
    if b.cell not in (4, 8, 16):
        raise ValueError(f"cpu-native renders cells of 4, 8 or 16 px, got {b.cell}")
    for name, x in (("means", means), ("conics", conics), ("colors", colors)):
        if x.dtype != jnp.float32:
            raise TypeError(f"cpu-native renders float32 only; {name} is {x.dtype}")
    image = _rasterize(
        means,
        conics,
        colors,
        b.gauss_ids,
        b.tile_start,
        b.tile_end,
        nb.slot_of_entry,
        nb.entry_start,
        height,
        width,
        b.cell,
    )
    return jnp.where(b.overflowed(), jnp.nan, image)
