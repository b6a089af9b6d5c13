"""PPM → points: k×k max-pool and Floyd–Steinberg dithering, on the backend that suits.

``"auto"`` dispatches to the pure-JAX skewed-scan reference, and to the Pallas wavefront kernel
only where :data:`igi_jax.backend.VERIFIED_PALLAS` lists it (both in :mod:`pallas_kernels`,
bit-exact with the sequential algorithm). Points are cell
centres ``(c·k + k/2, r·k + k/2)`` in pixels (x, y), row-major, padded with ``-1`` rows.
"""

from __future__ import annotations

import jax

from igi_jax.backend import resolve_backend


def dither(ppm: jax.Array, k: int, *, backend: str = "auto") -> tuple[jax.Array, jax.Array, jax.Array]:
    """Dither a position probability map.

    Args:
      ppm: ``[H, W]`` float32 in (0, 1).
      k: pooling cell size in pixels (3 for training; 4 or 5 give fewer Gaussians).
      backend: ``"auto"``, ``"reference"``, ``"pallas"`` or ``"pallas-interpret"``.

    Returns:
      ``mask [Hc, Wc]`` bool (activated cells), ``points [Hc·Wc, 2]`` float32 pixels (−1 padded)
      and ``count`` int32 (points inside the image).
    """
    backend = resolve_backend(backend, kernel="dither")
    if backend == "reference":
        from pallas_kernels.dither_reference import dither_reference

        return dither_reference(ppm, k)
    from pallas_kernels.dither import dither as dither_pallas

    return dither_pallas(ppm, k, interpret=backend == "pallas-interpret")
