"""Tiled rasterizer in plain XLA with a hand-written backward: the CPU backend, and the pure-JAX
reference of :func:`pallas_kernels.splat.rasterize` (same arguments, minus ``interpret``).

:func:`splat_reference` also takes any cell size. The per-cell lists from :mod:`igi_jax.binning`
(8×8-pixel cells by default: a small Gaussian touches few of them, so far fewer weights are
evaluated than with 16×16 tiles) are cut into fixed-size *chunks* of ``chunk`` Gaussians (a cell
with 20 Gaussians and ``chunk=16`` owns 2 chunks). Every chunk is one dense ``[chunk × P pixels]``
block (``P = cell²``), Gaussian-major so that every sum over pixels runs along a contiguous axis. A
loop with a dynamic trip count runs over the chunks actually used, a batch at a time, so work is
proportional to the intersections present; no cell is ever truncated.

Forward: ``C(p) = Σ_n c_n · w_n(p)`` with ``w = exp(−σ)`` cut as in :func:`covariance.splat_weight`.
Backward (exact, recomputes ``w``; with ``v = ∂L/∂C(p)``):

* ``∂L/∂c_n = Σ_p w v``;  ``∂L/∂σ = −w (v · c_n)``;
* ``∂σ/∂(a, b, c) = (dx²/2, dx·dy, dy²/2)`` — the off-diagonal ``b`` enters σ twice, hence no ½;
* ``∂σ/∂μ = −(a dx + b dy, b dx + c dy)`` with ``d = p − μ``.

Per-slot gradients are summed over the chunk's pixels, then scatter-added by Gaussian id in
list order: deterministic, no differentiation through gathers.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp

from igi_jax import binning as binning_lib
from igi_jax import covariance

DEFAULT_CHUNK = 16
DEFAULT_CELL = 8
# Pixel-weights per loop step (batch × cell² × chunk): bounds the temporaries (~2 MiB each).
_WEIGHTS_PER_STEP = 1 << 19


class Chunks(NamedTuple):
    """Chunk table: chunk k renders ``gauss_ids[k]`` (``[K, chunk]``, ``N`` = empty) into ``tile[k]``.

    ``count`` (int32 scalar) chunks are needed; the rest (``tile = C``, all ids ``N``) are padding.
    A table cut short by ``max_chunks`` has ``count > K`` (the caller must treat it as overflow).
    """

    tile: jax.Array  # [K] int32
    gauss_ids: jax.Array  # [K, chunk] int32
    count: jax.Array


def make_chunks(
    b: binning_lib.Binning, num_gaussians: int, chunk: int, max_chunks: int | None = None
) -> Chunks:
    """Cut each cell's list into ``chunk``-sized pieces.

    The table has the static length ``ceil(S/chunk) + C`` (enough for any binning), or
    ``max_chunks`` when the caller knows a tighter bound (see :func:`chunks_needed`).
    """
    num_cells = b.tile_start.shape[0]
    slots = b.gauss_ids.shape[0]
    k_max = -(-slots // chunk) + num_cells if max_chunks is None else max_chunks
    per_cell = (b.tile_end - b.tile_start + chunk - 1) // chunk
    ends = jnp.cumsum(per_cell)
    k = jnp.arange(k_max, dtype=jnp.int32)
    tile = jnp.minimum(jnp.searchsorted(ends, k, side="right"), num_cells - 1).astype(jnp.int32)
    used = k < ends[-1]
    first = b.tile_start[tile] + (k - (ends[tile] - per_cell[tile])) * chunk
    slot_ids = first[:, None] + jnp.arange(chunk, dtype=jnp.int32)[None, :]
    ok = used[:, None] & (slot_ids < b.tile_end[tile][:, None])
    ids = jnp.where(ok, b.gauss_ids[jnp.clip(slot_ids, 0, slots - 1)], num_gaussians)
    return Chunks(tile=jnp.where(used, tile, num_cells), gauss_ids=ids, count=ends[-1])


def chunks_needed(
    means: jax.Array,
    cov: jax.Array,
    mask: jax.Array,
    height: int,
    width: int,
    *,
    chunk: int = DEFAULT_CHUNK,
    cell: int = DEFAULT_CELL,
) -> jax.Array:
    """Chunks :func:`make_chunks` will use for these Gaussians (int32 scalar), without sorting.

    Per-cell list lengths come from summed-area tables of the Gaussians' cell boxes.
    """
    cy_n, cx_n = binning_lib.tile_grid(height, width, cell)
    x0, y0, x1, y1 = binning_lib.cell_boxes(means, cov, mask, height, width, cell)
    live = x1 >= x0
    corners = jnp.zeros((cy_n + 1, cx_n + 1), jnp.int32)
    one = live.astype(jnp.int32)
    corners = corners.at[y0, x0].add(one).at[y0, x1 + 1].add(-one)
    corners = corners.at[y1 + 1, x0].add(-one).at[y1 + 1, x1 + 1].add(one)
    per_cell = jnp.cumsum(jnp.cumsum(corners, 0), 1)[:cy_n, :cx_n]
    return jnp.sum((per_cell + chunk - 1) // chunk)


def _with_sentinel(x: jax.Array) -> jax.Array:
    """Append one zero row so that id ``N`` gathers harmlessly."""
    return jnp.concatenate([x, jnp.zeros((1, *x.shape[1:]), x.dtype)], axis=0)


def _local_pixels(cell: int) -> tuple[jax.Array, jax.Array]:
    """Pixel centres of a cell relative to its centre, ``[cell²]`` each, in ``±(cell − 1)/2``."""
    lin = jnp.arange(cell * cell, dtype=jnp.int32)
    half = cell / 2
    return (lin % cell).astype(jnp.float32) + 0.5 - half, (lin // cell).astype(jnp.float32) + 0.5 - half


def _chunk_weights(tile, ids, means, conics, cells_x, cell, num_gaussians):
    """Weights ``w [B, chunk, P]`` and cell-local means ``[B, chunk, 2]`` for a batch of chunks.

    Gaussian-major, so every product over pixels reduces a contiguous axis (XLA:CPU runs those
    ~2× faster than the pixel-major batched dots). Coordinates are relative to the cell centre so
    the backward's moment sums stay well-conditioned in float32. ``tile`` may hold the padding
    index ``C`` (its ids are ``N``).
    """
    centre = (
        jnp.stack(
            [(tile % cells_x).astype(jnp.float32) + 0.5, (tile // cells_x).astype(jnp.float32) + 0.5], -1
        )
        * cell
    )
    mu = means[ids] - centre[:, None, :]  # [B, chunk, 2]
    lx, ly = _local_pixels(cell)
    dx = lx - mu[..., 0, None]
    dy = ly - mu[..., 1, None]
    sigma = covariance.mahalanobis(conics[ids][:, :, None], dx, dy)
    w = covariance.splat_weight(sigma) * (ids < num_gaussians)[..., None]
    return w, mu


def _batch_size(cell: int, chunk: int) -> int:
    return max(1, _WEIGHTS_PER_STEP // (cell * cell * chunk))


def _whole_batches(k: int, batch: int) -> int:
    """``k`` chunks rounded up to whole loop batches."""
    return -(-k // batch) * batch


def _padded(chunks: Chunks, batch: int, num_cells: int, n: int) -> tuple[jax.Array, jax.Array]:
    """Chunk table padded to whole batches (padding: cell ``C``, ids ``N``)."""
    k_max = chunks.tile.shape[0]
    pad = _whole_batches(k_max, batch) - k_max
    return (
        jnp.pad(chunks.tile, (0, pad), constant_values=num_cells),
        jnp.pad(chunks.gauss_ids, ((0, pad), (0, 0)), constant_values=n),
    )


def _loop_chunks(body, init, chunks: Chunks, batch: int, num_cells: int, n: int):
    """``carry = body(i, carry, tile [B], ids [B, chunk])`` over the used chunks, ``B`` at a time.

    The trip count is dynamic (``ceil(count / B)``), so unused capacity costs nothing; the
    loop is only ever differentiated through our own VJP, never by autodiff.
    """
    tiles, ids = _padded(chunks, batch, num_cells, n)

    def step(i, carry):
        sl = functools.partial(jax.lax.dynamic_slice_in_dim, start_index=i * batch, slice_size=batch)
        return body(i, carry, sl(tiles), sl(ids))

    count = jnp.minimum(chunks.count, chunks.tile.shape[0])
    return jax.lax.fori_loop(0, (count + batch - 1) // batch, step, init)


def _splat(cells, w, colors_s, tile, ids):
    """Add one batch of chunks, ``w [B, chunk, P]`` × their colours, into ``cells [C + 1, 3, P]``."""
    col = colors_s[ids]  # [B, chunk, 3]
    # A fused multiply-reduce per channel: XLA:CPU runs it faster than the batched dot.
    out = jnp.stack([jnp.sum(w * col[:, :, d, None], axis=1) for d in range(3)], axis=1)
    return cells.at[tile].add(out, indices_are_sorted=True, mode="promise_in_bounds")


def _forward(means, conics, colors, chunks: Chunks, height, width, cell):
    cy_n, cx_n = binning_lib.tile_grid(height, width, cell)
    num_cells = cy_n * cx_n
    n = means.shape[0]
    means_s, conics_s, colors_s = map(_with_sentinel, (means, conics, colors))
    batch = _batch_size(cell, chunks.gauss_ids.shape[1])

    def body(i, cells, tile, ids):
        w, _ = _chunk_weights(tile, ids, means_s, conics_s, cx_n, cell, n)
        return _splat(cells, w, colors_s, tile, ids)

    dtype = jnp.result_type(means, conics, colors)
    cells = jnp.zeros((num_cells + 1, 3, cell * cell), dtype)
    cells = _loop_chunks(body, cells, chunks, batch, num_cells, n)
    return _cells_to_image(cells, height, width, cell)


def _cells_to_image(cells: jax.Array, height: int, width: int, cell: int) -> jax.Array:
    """Channel-major cells ``[C + 1, 3, P]`` (last one: padding) → ``[H, W, 3]``."""
    return binning_lib.tiles_to_image(jnp.swapaxes(cells[:-1], 1, 2), height, width, cell)


def _image_to_cells(image: jax.Array, cell: int) -> jax.Array:
    """``[H, W, 3]`` → channel-major cells ``[C + 1, 3, P]`` (last one: zeros)."""
    cy_n, cx_n = binning_lib.tile_grid(*image.shape[:2], cell)
    return _with_sentinel(jnp.swapaxes(binning_lib.image_to_tiles(image, cy_n, cx_n, cell), 1, 2))


@functools.partial(jax.custom_vjp, nondiff_argnums=(6, 7, 8))
def _rasterize(means, conics, colors, tile, gauss_ids, count, height, width, cell):
    return _forward(means, conics, colors, Chunks(tile, gauss_ids, count), height, width, cell)


def _rasterize_fwd(means, conics, colors, tile, gauss_ids, count, height, width, cell):
    image = _forward(means, conics, colors, Chunks(tile, gauss_ids, count), height, width, cell)
    return image, (means, conics, colors, tile, gauss_ids, count)


def _rasterize_bwd(height, width, cell, res, v_image):
    means, conics, colors, tile, gauss_ids, count = res
    cy_n, cx_n = binning_lib.tile_grid(height, width, cell)
    num_cells = cy_n * cx_n
    n = means.shape[0]
    means_s, conics_s, colors_s = map(_with_sentinel, (means, conics, colors))
    v_cells = _image_to_cells(v_image, cell)  # [C + 1, 3, P]
    lx, ly = _local_pixels(cell)
    basis = jnp.stack([jnp.ones_like(lx), lx, ly, lx * lx, lx * ly, ly * ly], -1)  # [P, 6]

    def body(i, grads, tile, ids):
        w, mu = _chunk_weights(tile, ids, means_s, conics_s, cx_n, cell, n)  # w [B, chunk, P]
        v = v_cells[tile]  # [B, 3, P]
        col = colors_s[ids]  # [B, chunk, 3]
        v_col = jnp.einsum("bcp,bdp->bcd", w, v)
        v_sigma = -w * sum(col[:, :, d, None] * v[:, None, d, :] for d in range(3))
        # Moments of v_sigma over the cell's pixels as one matmul against the fixed basis
        # (1, x, y, x², xy, y²); XLA:CPU runs reductions over this axis far slower than a dot.
        m0, mx_, my_, mxx, mxy, myy = jnp.moveaxis(jnp.einsum("bcp,pk->bck", v_sigma, basis), -1, 0)
        ux, uy = mu[..., 0], mu[..., 1]
        # Σ v_σ·dx etc. with d = p − μ, expanded in the moments.
        s_x = mx_ - ux * m0
        s_y = my_ - uy * m0
        s_xx = mxx - 2 * ux * mx_ + ux * ux * m0
        s_xy = mxy - ux * my_ - uy * mx_ + ux * uy * m0
        s_yy = myy - 2 * uy * my_ + uy * uy * m0
        con = conics_s[ids]
        a, b, c = con[..., 0], con[..., 1], con[..., 2]
        v_mx = -(a * s_x + b * s_y)
        v_my = -(b * s_x + c * s_y)
        per_slot = jnp.concatenate([jnp.stack([v_mx, v_my, 0.5 * s_xx, s_xy, 0.5 * s_yy], -1), v_col], -1)
        return grads.at[ids.reshape(-1)].add(per_slot.reshape(-1, 8), mode="promise_in_bounds")

    chunks = Chunks(tile, gauss_ids, count)
    batch = _batch_size(cell, gauss_ids.shape[1])
    dtype = jnp.result_type(means, conics, colors, v_image)
    g = _loop_chunks(body, jnp.zeros((n + 1, 8), dtype), chunks, batch, num_cells, n)[:n]
    return g[:, 0:2], g[:, 2:5], g[:, 5:8], None, None, None


_rasterize.defvjp(_rasterize_fwd, _rasterize_bwd)


def splat_reference(
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
      b: binning of the same Gaussians (from :func:`binning.bin_gaussians`), any cell size.
      height, width: image size (static).
      chunk: Gaussians per dense block (static).

    Returns:
      ``[H, W, 3]`` float32 image, NaN everywhere if the binning overflowed.
    """
    chunks = make_chunks(b, means.shape[0], chunk)
    image = _rasterize(
        means, conics, colors, chunks.tile, chunks.gauss_ids, chunks.count, height, width, b.cell
    )
    return jnp.where(b.overflowed(), jnp.nan, image)


class ColorBasis(NamedTuple):
    """The render's colour matrix for a fixed geometry, stored per chunk.

    ``weights [K, chunk, P]`` are the splat weights of every chunk (zero past the used ones),
    Gaussian-major so that both products below reduce over a contiguous axis; with them the
    render and its adjoint in the colours are a gather + a small contraction per batch of
    chunks, which is what iterative colour solves want (the geometry, hence ``w``, does not
    change between iterations).
    """

    weights: jax.Array
    chunks: Chunks
    cell: int

    def overflowed(self) -> jax.Array:
        return self.chunks.count > self.chunks.tile.shape[0]


def color_basis(
    means: jax.Array,
    conics: jax.Array,
    b: binning_lib.Binning,
    height: int,
    width: int,
    *,
    chunk: int = DEFAULT_CHUNK,
    max_chunks: int | None = None,
) -> ColorBasis:
    """Evaluate and keep the weights of every chunk (memory ``4·K·cell²·chunk`` bytes).

    ``max_chunks`` (static) sizes the store from :func:`chunks_needed` instead of the binning's
    worst case, several times smaller; when the data need more, ``basis.overflowed()`` is true.
    """
    cell = b.cell
    cy_n, cx_n = binning_lib.tile_grid(height, width, cell)
    n = means.shape[0]
    chunks = make_chunks(b, n, chunk, max_chunks)
    batch = _batch_size(cell, chunk)
    k_pad = _whole_batches(chunks.tile.shape[0], batch)
    means_s, conics_s = _with_sentinel(means), _with_sentinel(conics)

    def body(i, weights, tile, ids):
        w, _ = _chunk_weights(tile, ids, means_s, conics_s, cx_n, cell, n)
        return jax.lax.dynamic_update_slice_in_dim(weights, w, i * batch, axis=0)

    weights = jnp.zeros((k_pad, chunk, cell * cell), jnp.result_type(means, conics))
    weights = _loop_chunks(body, weights, chunks, batch, cy_n * cx_n, n)
    return ColorBasis(weights=weights, chunks=chunks, cell=cell)


def _basis_loop(basis: ColorBasis, body, init, num_cells: int, n: int):
    batch = _batch_size(basis.cell, basis.weights.shape[1])

    def with_weights(i, carry, tile, ids):
        w = jax.lax.dynamic_slice_in_dim(basis.weights, i * batch, batch)
        return body(carry, w, tile, ids)

    return _loop_chunks(with_weights, init, basis.chunks, batch, num_cells, n)


def basis_render(basis: ColorBasis, colors: jax.Array, height: int, width: int) -> jax.Array:
    """``A c``: ``colors [N, 3]`` → ``[H, W, 3]`` (same image as :func:`splat_reference`)."""
    cy_n, cx_n = binning_lib.tile_grid(height, width, basis.cell)
    colors_s = _with_sentinel(colors)

    def body(cells, w, tile, ids):
        return _splat(cells, w, colors_s, tile, ids)

    cells = jnp.zeros((cy_n * cx_n + 1, 3, basis.cell**2), jnp.result_type(basis.weights, colors))
    cells = _basis_loop(basis, body, cells, cy_n * cx_n, colors.shape[0])
    return _cells_to_image(cells, height, width, basis.cell)


def basis_adjoint(basis: ColorBasis, image: jax.Array, num_gaussians: int) -> jax.Array:
    """``Aᵀ v``: ``[H, W, 3]`` → ``[N, 3]``, the render's VJP in the colours."""
    cy_n, cx_n = binning_lib.tile_grid(*image.shape[:2], basis.cell)
    v_cells = _image_to_cells(image, basis.cell)  # [C + 1, 3, P]

    def body(acc, w, tile, ids):  # w [B, chunk, P]
        per_slot = jnp.einsum("kcp,kdp->kcd", w, v_cells[tile])
        return acc.at[ids.reshape(-1)].add(per_slot.reshape(-1, 3), mode="promise_in_bounds")

    acc = jnp.zeros((num_gaussians + 1, 3), jnp.result_type(basis.weights, image))
    return _basis_loop(basis, body, acc, cy_n * cx_n, num_gaussians)[:num_gaussians]
