"""Tiled rasterizer in plain XLA with a hand-written backward: the CPU backend.

The per-tile lists from :mod:`igi_jax.render.binning` are cut into fixed-size *chunks* of
``chunk`` Gaussians (a tile with 70 Gaussians and ``chunk=32`` owns 3 chunks). Every chunk is
one dense ``[256 pixels × chunk]`` block, so work is proportional to the intersections
actually present (plus < ``chunk`` padding per tile) and no tile is ever truncated: at most
``ceil(capacity / chunk) + T`` chunks exist, a static bound.

Forward: ``C(p) = Σ_n c_n · w_n(p)`` with ``w = exp(−σ)`` cut as in :func:`covariance.splat_weight`.
Backward (exact, recomputes ``w``; with ``v = ∂L/∂C(p)``):

* ``∂L/∂c_n = Σ_p w v``;  ``∂L/∂σ = −w (v · c_n)``;
* ``∂σ/∂(a, b, c) = (dx²/2, dx·dy, dy²/2)`` — the off-diagonal ``b`` enters σ twice, hence no ½;
* ``∂σ/∂μ = −(a dx + b dy, b dx + c dy)`` with ``d = p − μ``.

Per-slot gradients are summed over the chunk's pixels, then ``segment_sum``-ed by Gaussian id:
deterministic, no atomics, no differentiation through gathers.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp

from igi_jax import covariance
from igi_jax.render import binning as binning_lib

DEFAULT_CHUNK = 16
# Chunks processed per loop step: bounds the [B, 256, chunk] temporaries (~8 MiB each).
_CHUNKS_PER_STEP = 256


class Chunks(NamedTuple):
    """Chunk table: chunk k renders ``gauss_ids[k]`` (``[K, chunk]``, ``N`` = empty) into ``tile[k]``."""

    tile: jax.Array  # [K] int32, T for unused chunks
    gauss_ids: jax.Array  # [K, chunk] int32


def make_chunks(b: binning_lib.Binning, num_gaussians: int, chunk: int) -> Chunks:
    """Cut each tile's list into ``chunk``-sized pieces (static count ``ceil(I/chunk) + T``)."""
    num_tiles = b.tile_start.shape[0]
    k_max = -(-b.capacity // chunk) + num_tiles
    per_tile = (b.tile_end - b.tile_start + chunk - 1) // chunk
    ends = jnp.cumsum(per_tile)
    k = jnp.arange(k_max, dtype=jnp.int32)
    tile = jnp.minimum(jnp.searchsorted(ends, k, side="right"), num_tiles - 1).astype(jnp.int32)
    used = k < ends[-1]
    first = b.tile_start[tile] + (k - (ends[tile] - per_tile[tile])) * chunk
    slots = first[:, None] + jnp.arange(chunk, dtype=jnp.int32)[None, :]
    ok = used[:, None] & (slots < b.tile_end[tile][:, None])
    ids = jnp.where(ok, b.gauss_ids[jnp.clip(slots, 0, b.capacity - 1)], num_gaussians)
    return Chunks(tile=jnp.where(used, tile, num_tiles), gauss_ids=ids)


def _with_sentinel(x: jax.Array) -> jax.Array:
    """Append one zero row so that id ``N`` gathers harmlessly."""
    return jnp.concatenate([x, jnp.zeros((1, *x.shape[1:]), x.dtype)], axis=0)


def _local_pixels() -> tuple[jax.Array, jax.Array]:
    """Pixel centres of a tile relative to the tile centre, ``[256]`` each, in [−7.5, 7.5]."""
    lin = jnp.arange(binning_lib.TILE * binning_lib.TILE, dtype=jnp.int32)
    half = binning_lib.TILE / 2
    return (lin % binning_lib.TILE).astype(jnp.float32) + 0.5 - half, \
        (lin // binning_lib.TILE).astype(jnp.float32) + 0.5 - half


def _chunk_weights(tile, ids, means, conics, tiles_x, num_gaussians):
    """Weights ``w [B, 256, chunk]`` and tile-local means ``[B, chunk, 2]`` for a batch of chunks.

    Coordinates are taken relative to the tile centre so the backward's moment sums stay
    well-conditioned in float32.
    """
    centre = jnp.stack([(tile % tiles_x).astype(jnp.float32) + 0.5,
                        (tile // tiles_x).astype(jnp.float32) + 0.5], -1) * binning_lib.TILE
    mu = means[ids] - centre[:, None, :]  # [B, chunk, 2]
    lx, ly = _local_pixels()
    dx = lx[None, :, None] - mu[:, None, :, 0]
    dy = ly[None, :, None] - mu[:, None, :, 1]
    sigma = covariance.mahalanobis(conics[ids][:, None], dx, dy)
    w = covariance.splat_weight(sigma) * (ids < num_gaussians)[:, None, :]
    return w, mu


def _batched(fn, xs, k_max):
    """``lax.map`` over chunk batches (memory bound), tolerant of any ``k_max``."""
    steps = -(-k_max // _CHUNKS_PER_STEP)
    pad = steps * _CHUNKS_PER_STEP - k_max
    xs = jax.tree.map(lambda a: jnp.pad(a, [(0, pad)] + [(0, 0)] * (a.ndim - 1),
                                        constant_values=a.dtype.type(-1) if a.ndim == 1 else 0), xs)
    xs = jax.tree.map(lambda a: a.reshape(steps, _CHUNKS_PER_STEP, *a.shape[1:]), xs)
    out = jax.lax.map(fn, xs)
    return jax.tree.map(lambda a: a.reshape(steps * _CHUNKS_PER_STEP, *a.shape[2:])[:k_max], out)


def _forward(means, conics, colors, chunks: Chunks, height, width):
    ty_n, tx_n = binning_lib.tile_grid(height, width)
    n = means.shape[0]
    means_s, conics_s, colors_s = map(_with_sentinel, (means, conics, colors))
    k_max = chunks.tile.shape[0]

    def render_chunks(x):
        tile, ids = x
        ids = jnp.where(tile[:, None] < 0, n, ids)  # padding chunks from _batched
        w, _ = _chunk_weights(jnp.maximum(tile, 0), ids, means_s, conics_s, tx_n, n)
        return jnp.einsum("bpc,bcd->bpd", w, colors_s[ids])

    out = _batched(render_chunks, (chunks.tile, chunks.gauss_ids), k_max)
    tiles = jax.ops.segment_sum(out, chunks.tile, num_segments=ty_n * tx_n + 1,
                                indices_are_sorted=True)[:-1]
    return binning_lib.tiles_to_image(tiles, height, width)


@functools.partial(jax.custom_vjp, nondiff_argnums=(5, 6))
def _rasterize(means, conics, colors, tile, gauss_ids, height, width):
    return _forward(means, conics, colors, Chunks(tile, gauss_ids), height, width)


def _rasterize_fwd(means, conics, colors, tile, gauss_ids, height, width):
    image = _forward(means, conics, colors, Chunks(tile, gauss_ids), height, width)
    return image, (means, conics, colors, tile, gauss_ids)


def _rasterize_bwd(height, width, res, v_image):
    means, conics, colors, tile, gauss_ids = res
    ty_n, tx_n = binning_lib.tile_grid(height, width)
    n = means.shape[0]
    means_s, conics_s, colors_s = map(_with_sentinel, (means, conics, colors))
    v_tiles = _with_sentinel(binning_lib.image_to_tiles(v_image, ty_n, tx_n))  # [T+1, 256, 3]

    def grad_chunks(x):
        tile, ids = x
        ids = jnp.where(tile[:, None] < 0, n, ids)
        t = jnp.where(tile < 0, ty_n * tx_n, tile)
        w, mu = _chunk_weights(jnp.minimum(t, ty_n * tx_n - 1), ids, means_s, conics_s, tx_n, n)
        v = v_tiles[t]  # [B, 256, 3]
        col = colors_s[ids]  # [B, chunk, 3]
        v_col = jnp.einsum("bpc,bpd->bcd", w, v)
        v_sigma = -w * jnp.einsum("bpd,bcd->bpc", v, col)
        # Moments of v_sigma over the tile's pixels as one matmul against the fixed basis
        # (1, x, y, x², xy, y²); XLA:CPU runs reductions over this axis far slower than a dot.
        lx, ly = _local_pixels()
        basis = jnp.stack([jnp.ones_like(lx), lx, ly, lx * lx, lx * ly, ly * ly], -1)  # [256, 6]
        m0, mx_, my_, mxx, mxy, myy = jnp.moveaxis(jnp.einsum("bpc,pk->bck", v_sigma, basis), -1, 0)
        ux, uy = mu[..., 0], mu[..., 1]
        # Σ v_σ·dx etc. with d = p − μ, expanded in the moments.
        s_x = mx_ - ux * m0
        s_y = my_ - uy * m0
        s_xx = mxx - 2 * ux * mx_ + ux * ux * m0
        s_xy = mxy - ux * my_ - uy * mx_ + ux * uy * m0
        s_yy = myy - 2 * uy * my_ + uy * uy * m0
        con = conics_s[ids]
        a, b, c = con[..., 0], con[..., 1], con[..., 2]
        v_a, v_b, v_c = 0.5 * s_xx, s_xy, 0.5 * s_yy
        v_mx = -(a * s_x + b * s_y)
        v_my = -(b * s_x + c * s_y)
        return ids, jnp.concatenate([jnp.stack([v_mx, v_my, v_a, v_b, v_c], -1), v_col], -1)

    ids, per_slot = _batched(grad_chunks, (tile, gauss_ids), tile.shape[0])
    g = jax.ops.segment_sum(per_slot.reshape(-1, 8), ids.reshape(-1), num_segments=n + 1)[:n]
    return g[:, 0:2], g[:, 2:5], g[:, 5:8], None, None


_rasterize.defvjp(_rasterize_fwd, _rasterize_bwd)


def rasterize(
    means: jax.Array,
    conics: jax.Array,
    colors: jax.Array,
    b: binning_lib.Binning,
    height: int,
    width: int,
    *,
    chunk: int = DEFAULT_CHUNK,
) -> jax.Array:
    """Render ``[H, W, 3]`` from binned Gaussians; differentiable in means, conics, colors.

    Args:
      means: ``[N, 2]`` pixels.
      conics: ``[N, 3]`` inverse covariances ``(a, b, c)``, 1/pixels².
      colors: ``[N, 3]``.
      b: binning of the same Gaussians (from :func:`binning.bin_gaussians`).
      height, width: image size (static).
      chunk: Gaussians per dense block (static).

    Returns:
      ``[H, W, 3]`` float32 image, NaN everywhere if the binning overflowed.
    """
    chunks = make_chunks(b, means.shape[0], chunk)
    image = _rasterize(means, conics, colors, chunks.tile, chunks.gauss_ids, height, width)
    return jnp.where(b.overflowed(), jnp.nan, image)


class ColorBasis(NamedTuple):
    """The render's colour matrix for a fixed geometry, stored per chunk.

    ``weights [K, 256, chunk]`` are the splat weights of every chunk; with them the render and
    its adjoint in the colours are a gather + batched matmul each, which is what iterative
    colour solves want (the geometry, hence ``w``, does not change between iterations).
    """

    weights: jax.Array
    chunks: Chunks


def color_basis(
    means: jax.Array, conics: jax.Array, b: binning_lib.Binning, height: int, width: int,
    *, chunk: int = DEFAULT_CHUNK,
) -> ColorBasis:
    """Evaluate and keep the weights of every chunk (memory ``4·K·256·chunk`` bytes)."""
    _, tx_n = binning_lib.tile_grid(height, width)
    n = means.shape[0]
    chunks = make_chunks(b, n, chunk)
    means_s, conics_s = _with_sentinel(means), _with_sentinel(conics)

    def weights(x):
        tile, ids = x
        ids = jnp.where(tile[:, None] < 0, n, ids)
        return _chunk_weights(jnp.maximum(tile, 0), ids, means_s, conics_s, tx_n, n)[0]

    w = _batched(weights, (chunks.tile, chunks.gauss_ids), chunks.tile.shape[0])
    return ColorBasis(weights=w, chunks=chunks)


def basis_render(basis: ColorBasis, colors: jax.Array, height: int, width: int) -> jax.Array:
    """``A c``: ``colors [N, 3]`` → ``[H, W, 3]`` (same image as :func:`rasterize`)."""
    ty_n, tx_n = binning_lib.tile_grid(height, width)
    ids = basis.chunks.gauss_ids
    out = jnp.einsum("kpc,kcd->kpd", basis.weights, _with_sentinel(colors)[ids])
    tiles = jax.ops.segment_sum(out, basis.chunks.tile, num_segments=ty_n * tx_n + 1,
                                indices_are_sorted=True)[:-1]
    return binning_lib.tiles_to_image(tiles, height, width)


def basis_adjoint(basis: ColorBasis, image: jax.Array, num_gaussians: int) -> jax.Array:
    """``Aᵀ v``: ``[H, W, 3]`` → ``[N, 3]``, the render's VJP in the colours."""
    ty_n, tx_n = binning_lib.tile_grid(*image.shape[:2])
    v = _with_sentinel(binning_lib.image_to_tiles(image, ty_n, tx_n))[basis.chunks.tile]
    per_slot = jnp.einsum("kpc,kpd->kcd", basis.weights, v)
    return jax.ops.segment_sum(per_slot.reshape(-1, 3), basis.chunks.gauss_ids.reshape(-1),
                               num_segments=num_gaussians + 1)[:num_gaussians]
