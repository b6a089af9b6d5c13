"""Re-rendering a fit at another resolution (``igi render --scale``)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from igi_jax import io
from igi_jax.gaussians import Gaussians, compact
from igi_jax.render import api as render_api

MAX_RENDER_PIXELS = 200_000_000  # `igi render` refuses outputs beyond this (≈ 2.4 GB float32)


def rescaled_size(height: int, width: int, scale: float) -> tuple[int, int]:
    """Output size for a re-render at ``scale`` (rounded; must stay ≥ 1 px and sane)."""
    if not np.isfinite(scale) or scale <= 0:
        raise io.InputError(f"scale must be a positive number, got {scale}")
    h, w = round(height * scale), round(width * scale)
    if h < 1 or w < 1:
        raise io.InputError(f"scale {scale} turns {width}×{height} into {w}×{h} px")
    if h * w > MAX_RENDER_PIXELS:
        raise io.InputError(f"scale {scale} gives {w}×{h} px, more than {MAX_RENDER_PIXELS:,} pixels")
    return h, w


def render_at_scale(g: Gaussians, scale: float, *, backend: str = "auto") -> jax.Array:
    """Render ``g`` at ``scale`` × its size: ``[round(H·s), round(W·s), 3]``.

    The map is the exact affine one between the two pixel grids (per-axis factors
    ``s_x = W'/W``, ``s_y = H'/H``, which differ slightly from ``s`` after rounding):
    means ``× (s_x, s_y)``, covariance ``(xx·s_x², xy·s_x·s_y, yy·s_y²)``.
    """
    height, width = rescaled_size(g.height, g.width, scale)
    g = compact(g)
    sx, sy = width / g.width, height / g.height
    means = g.means() * jnp.asarray([sx, sy], jnp.float32)
    cov = g.covariances() * jnp.asarray([sx * sx, sx * sy, sy * sy], jnp.float32)
    # Jitted count + render: op-by-op dispatch of the tiled renderer is ~5× slower to start.
    capacity = render_api.required_capacity(means, cov, g.mask, height, width, backend=backend)
    return _render_jit(
        means, cov, g.colors, g.mask, height=height, width=width, capacity=capacity, backend=backend
    )


_render_jit = jax.jit(render_api.render, static_argnames=("height", "width", "capacity", "backend"))
