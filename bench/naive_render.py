"""The yardstick: a naive pure-JAX tiled renderer, differentiated by autodiff.

Each tile gathers a fixed-length list of ``K = max Gaussians per tile`` ids (padded), renders
``[T, 256, K]`` weights densely and sums; ``jax.grad`` differentiates through the gathers. It
shares the binning and the covariance math with the real renderer, so the two compute the same
image — only the execution strategy differs.
"""

from __future__ import annotations

import jax.numpy as jnp

from igi_jax import binning as binning_lib
from igi_jax import covariance


def max_per_tile(means, cov, mask, height, width, capacity) -> int:
    """Longest tile list (host call), the naive renderer's static K."""
    b = binning_lib.bin_gaussians(means, cov, mask, height, width, capacity)
    return int(jnp.max(b.tile_end - b.tile_start))


def render_naive(means, cov, colors, mask, height, width, capacity, k):
    """``[H, W, 3]`` by per-tile gathers of ``k`` padded ids; autodiff does the backward."""
    ty_n, tx_n = binning_lib.tile_grid(height, width)
    b = binning_lib.bin_gaussians(means, cov, mask, height, width, capacity)
    n = means.shape[0]
    slots = b.tile_start[:, None] + jnp.arange(k)[None, :]  # [T, K]
    ok = slots < b.tile_end[:, None]
    ids = jnp.where(ok, b.gauss_ids[jnp.clip(slots, 0, capacity - 1)], 0)
    conics = covariance.conic_from_cov(cov)
    px, py = binning_lib.tile_pixel_centres(jnp.arange(ty_n * tx_n), tx_n)  # [T, 256]
    mu = means[ids]  # [T, K, 2]
    dx = px[:, :, None] - mu[:, None, :, 0]
    dy = py[:, :, None] - mu[:, None, :, 1]
    sigma = covariance.mahalanobis(conics[ids][:, None], dx, dy)
    w = covariance.splat_weight(sigma) * ok[:, None, :]
    tiles = jnp.einsum("tpk,tkc->tpc", w, colors[ids])
    del n
    return binning_lib.tiles_to_image(tiles, height, width)
