"""Tile binning: which Gaussians touch which 16×16 tile, as sorted flat lists.

Shared by the XLA rasterizer and the Pallas kernels, so every backend sees the same lists.
Everything has static shapes: the intersection list is padded to ``capacity`` and the true
count is returned, so callers detect (never silently suffer) an overflow and re-bucket.

A Gaussian touches every tile overlapped by the box ``mean ± r`` with
``r = ceil(3 sqrt(λ_max))`` (GaussianImage's radius; see :mod:`igi_jax.covariance`); tile
``(tx, ty)`` covers pixels ``[16 tx, 16 tx + 16) × [16 ty, 16 ty + 16)``.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from igi_jax import covariance

TILE = 16


class Binning(NamedTuple):
    """Per-tile Gaussian lists.

    Attributes:
      gauss_ids: ``[I]`` int32, Gaussian index of each intersection, sorted by tile then by
        Gaussian index; unused slots hold ``N`` (one past the last Gaussian).
      tile_start, tile_end: ``[T]`` int32, the tile's slice of ``gauss_ids``.
      num_intersections: int32 scalar, intersections actually needed (may exceed ``I``).
    """

    gauss_ids: jax.Array
    tile_start: jax.Array
    tile_end: jax.Array
    num_intersections: jax.Array

    @property
    def capacity(self) -> int:
        return self.gauss_ids.shape[-1]

    def overflowed(self) -> jax.Array:
        return self.num_intersections > self.capacity


def tile_grid(height: int, width: int) -> tuple[int, int]:
    """Number of tiles ``(tiles_y, tiles_x)`` covering an image."""
    return -(-height // TILE), -(-width // TILE)


def tile_boxes(
    means: jax.Array, cov: jax.Array, mask: jax.Array, height: int, width: int
) -> tuple[jax.Array, jax.Array, jax.Array, jax.Array]:
    """Inclusive tile-index box ``(tx0, ty0, tx1, ty1)`` per Gaussian, each ``[N]`` int32.

    Empty boxes (masked, degenerate or off-image Gaussians) have ``tx1 < tx0``.
    """
    ty_n, tx_n = tile_grid(height, width)
    r = covariance.radius_from_cov(cov)
    live = mask & covariance.valid_cov(cov) & jnp.all(jnp.isfinite(means), axis=-1)
    mx, my = means[..., 0], means[..., 1]
    # Box in continuous pixels, clipped to the image, mapped to tile indices.
    x0 = jnp.floor(jnp.maximum(mx - r, 0.0) / TILE)
    x1 = jnp.floor(jnp.minimum(mx + r, width - 1e-3) / TILE)
    y0 = jnp.floor(jnp.maximum(my - r, 0.0) / TILE)
    y1 = jnp.floor(jnp.minimum(my + r, height - 1e-3) / TILE)
    on_image = (mx + r >= 0) & (mx - r < width) & (my + r >= 0) & (my - r < height)
    live = live & on_image
    x0 = jnp.where(live, jnp.clip(x0, 0, tx_n - 1), 0).astype(jnp.int32)
    y0 = jnp.where(live, jnp.clip(y0, 0, ty_n - 1), 0).astype(jnp.int32)
    x1 = jnp.where(live, jnp.clip(x1, 0, tx_n - 1), -1).astype(jnp.int32)
    y1 = jnp.where(live, jnp.clip(y1, 0, ty_n - 1), -1).astype(jnp.int32)
    return x0, y0, x1, y1


def count_intersections(
    means: jax.Array, cov: jax.Array, mask: jax.Array, height: int, width: int
) -> jax.Array:
    """Total (Gaussian, tile) pairs: int32 scalar. Cheap; use it to size ``capacity``."""
    x0, y0, x1, y1 = tile_boxes(means, cov, mask, height, width)
    return jnp.sum(jnp.maximum(x1 - x0 + 1, 0) * jnp.maximum(y1 - y0 + 1, 0))


def bin_gaussians(
    means: jax.Array, cov: jax.Array, mask: jax.Array, height: int, width: int, capacity: int
) -> Binning:
    """Build the per-tile Gaussian lists.

    Args:
      means: ``[N, 2]`` centres, pixels.
      cov: ``[N, 3]`` covariances, pixels².
      mask: ``[N]`` bool, live Gaussians.
      height, width: image size (static).
      capacity: static length ``I`` of the intersection list.

    Returns:
      A :class:`Binning`. When ``num_intersections > capacity`` the lists are incomplete and
      every renderer poisons its output with NaN.
    """
    n = means.shape[0]
    ty_n, tx_n = tile_grid(height, width)
    num_tiles = ty_n * tx_n
    x0, y0, x1, y1 = tile_boxes(means, cov, mask, height, width)
    w = jnp.maximum(x1 - x0 + 1, 0)
    counts = w * jnp.maximum(y1 - y0 + 1, 0)
    ends = jnp.cumsum(counts)
    total = ends[-1] if n else jnp.int32(0)
    # Slot s belongs to the Gaussian whose [start, end) range holds it.
    slot = jnp.arange(capacity, dtype=jnp.int32)
    gid = jnp.searchsorted(ends, slot, side="right").astype(jnp.int32)
    used = slot < jnp.minimum(total, capacity)
    g = jnp.minimum(gid, n - 1)
    local = slot - (ends[g] - counts[g])
    wg = jnp.maximum(w[g], 1)
    tile = (y0[g] + local // wg) * tx_n + x0[g] + local % wg
    tile = jnp.where(used, tile, num_tiles)
    gid = jnp.where(used, gid, n)
    # Stable sort keeps each tile's Gaussians in index order: deterministic sums.
    order = jnp.argsort(tile, stable=True)
    tile_sorted = tile[order]
    tiles = jnp.arange(num_tiles, dtype=jnp.int32)
    return Binning(
        gauss_ids=gid[order].astype(jnp.int32),
        tile_start=jnp.searchsorted(tile_sorted, tiles, side="left").astype(jnp.int32),
        tile_end=jnp.searchsorted(tile_sorted, tiles, side="right").astype(jnp.int32),
        num_intersections=total.astype(jnp.int32),
    )


def tile_pixel_centres(tile_index: jax.Array, tiles_x: int) -> tuple[jax.Array, jax.Array]:
    """Pixel-centre coordinates of a tile's 256 pixels, row-major: two ``[..., 256]`` arrays."""
    lin = jnp.arange(TILE * TILE, dtype=jnp.int32)
    tx = (tile_index % tiles_x)[..., None]
    ty = (tile_index // tiles_x)[..., None]
    px = (tx * TILE + lin % TILE).astype(jnp.float32) + 0.5
    py = (ty * TILE + lin // TILE).astype(jnp.float32) + 0.5
    return px, py


def image_to_tiles(image: jax.Array, tiles_y: int, tiles_x: int) -> jax.Array:
    """``[H, W, C]`` → ``[T, 256, C]`` (zero-padded to whole tiles)."""
    h, w, c = image.shape
    image = jnp.pad(image, ((0, tiles_y * TILE - h), (0, tiles_x * TILE - w), (0, 0)))
    t = image.reshape(tiles_y, TILE, tiles_x, TILE, c).transpose(0, 2, 1, 3, 4)
    return t.reshape(tiles_y * tiles_x, TILE * TILE, c)


def tiles_to_image(tiles: jax.Array, height: int, width: int) -> jax.Array:
    """``[T, 256, C]`` → ``[H, W, C]`` (crops the padding)."""
    ty_n, tx_n = tile_grid(height, width)
    c = tiles.shape[-1]
    img = tiles.reshape(ty_n, tx_n, TILE, TILE, c).transpose(0, 2, 1, 3, 4)
    return img.reshape(ty_n * TILE, tx_n * TILE, c)[:height, :width]
