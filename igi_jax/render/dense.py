"""Dense reference renderer: every pixel × every Gaussian, gradients by autodiff.

The source of truth for the tiled backends. It applies the same cuts (σ ≥ 0, exp(−σ) ≥ 1/255)
and the same support (a Gaussian reaches only the tiles its 3σ box overlaps), so a tiled
render must equal it to float rounding and ``jax.grad`` of it is the exact gradient. Memory is
``O(H·W·N)``: small images only.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from igi_jax import covariance
from igi_jax.render import binning as binning_lib


def render_dense(
    means: jax.Array, cov: jax.Array, colors: jax.Array, mask: jax.Array, height: int, width: int
) -> jax.Array:
    """``[H, W, 3]`` image from ``means [N, 2]``, ``cov [N, 3]``, ``colors [N, 3]``, ``mask [N]``."""
    conics = covariance.conic_from_cov(cov)
    x0, y0, x1, y1 = binning_lib.tile_boxes(means, cov, mask, height, width)
    ys, xs = jnp.meshgrid(jnp.arange(height), jnp.arange(width), indexing="ij")
    px = xs.reshape(-1, 1).astype(jnp.float32) + 0.5
    py = ys.reshape(-1, 1).astype(jnp.float32) + 0.5
    tx = xs.reshape(-1, 1) // binning_lib.TILE
    ty = ys.reshape(-1, 1) // binning_lib.TILE
    support = (tx >= x0) & (tx <= x1) & (ty >= y0) & (ty <= y1)  # [P, N]
    sigma = covariance.mahalanobis(conics, px - means[:, 0], py - means[:, 1])
    w = jnp.where(support, covariance.splat_weight(sigma), 0.0)
    return (w @ colors).reshape(height, width, 3)
