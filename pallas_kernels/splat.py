"""Tile splatting as Pallas kernels (forward and backward) for the Triton GPU backend.

Same contract as :func:`pallas_kernels.splat_reference.splat_reference` (the reference it is
tested against): ``C(p) = Σ_n c_n w_n(p)`` with
``w = exp(−σ)`` cut by :func:`igi_jax.covariance.splat_weight`, differentiable in means, conics and
colours through a hand-written ``jax.custom_vjp`` (``jax.grad`` cannot see through ``pallas_call``).

Backend: Triton, chosen with ``compiler_params=pallas.triton.CompilerParams``. Triton also runs
on Ampere (the paper's A100); Mosaic GPU, the default from jax 0.11, is Hopper-first. Tested with
jax 0.10.2, whose lowering emits the ``__gpu$xla.gpu.triton`` custom call; written without
``pl.load``/``pl.store`` so it also traces on jax 0.12.

Layout. One program per 16×16 tile (grid ``(T,)``). Every program sees whole arrays: the sorted
intersection list ``gauss_ids`` (padded by ``chunk`` sentinels so the last chunk's load stays in
bounds), ``tile_start``/``tile_end``, and per-Gaussian data as structure-of-arrays — one 1-D ref
each for ``mx, my, a, b, c, r, g, bl`` — padded to a power of two with a zero sentinel row at
index ``N`` (Triton cannot slice ``x[:, 0:1]`` out of a value). A program walks its slice of the
list in ``chunk``-sized steps (``lax.fori_loop`` with a dynamic trip count), masks the lanes past
``tile_end``, gathers the chunk's Gaussians by id (``ref[ids]``) and evaluates the 256 × chunk
weights with the shared :mod:`igi_jax.covariance` functions.

Forward: accumulates three ``[256]`` channels, written as its tile's row of ``[T, 256]`` outputs.

Backward (exact, recomputes ``w``; ``v = ∂L/∂C(p)``): per intersection ``∂L/∂c = Σ_p w v``,
``∂L/∂σ = −w (v · c)``, ``∂σ/∂(a, b, c) = (dx²/2, dx·dy, dy²/2)`` (``b`` enters σ twice: no ½),
``∂σ/∂μ = −(a dx + b dy, b dx + c dy)``. Each intersection's pixel-summed gradient goes to its
own slot of eight ``[I]`` arrays with a masked store — every slot has exactly one writer, so no
atomics — and ``jax.ops.segment_sum`` by Gaussian id finishes in XLA. Deterministic.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
from jax.experimental import pallas as pl
from jax.experimental.pallas import triton as pltriton

from igi_jax import binning as binning_lib
from igi_jax import covariance

__all__ = ["DEFAULT_CHUNK", "rasterize"]

DEFAULT_CHUNK = 32
PIXELS = binning_lib.TILE * binning_lib.TILE  # 256 pixels per tile
_NUM_WARPS = 4  # [256, 32] f32 blocks: 64 values per thread at 4 warps
_NUM_GRADS = 8  # v_mx, v_my, v_a, v_b, v_c, v_r, v_g, v_bl


def _tile_pixels(tiles_x: int) -> tuple[jax.Array, jax.Array]:
    """This program's pixel centres as two ``[256, 1]`` columns, pixels (row-major in the tile)."""
    t = pl.program_id(0)
    lin = jax.lax.broadcasted_iota(jnp.int32, (PIXELS, 1), 0)
    px = ((t % tiles_x) * binning_lib.TILE + lin % binning_lib.TILE).astype(jnp.float32) + 0.5
    py = ((t // tiles_x) * binning_lib.TILE + lin // binning_lib.TILE).astype(jnp.float32) + 0.5
    return px, py


def _chunk_weights(ids_ref, geom_refs, first, end, px, py, *, chunk: int, sentinel: int):
    """Gather slots ``[first, first + chunk)`` of the list and evaluate their weights.

    Returns ``valid [chunk]`` (slot < end), ``ids [chunk]`` (sentinel where invalid),
    ``dx, dy, w [256, chunk]`` and the gathered conic ``(a, b, c)``, each ``[chunk]``.
    """
    lane = jax.lax.broadcasted_iota(jnp.int32, (chunk,), 0)
    valid = first + lane < end
    ids = jnp.where(valid, ids_ref[pl.ds(first, chunk)], sentinel)
    mx, my, a, b, c = (ref[ids] for ref in geom_refs)
    dx, dy = px - mx[None, :], py - my[None, :]
    sigma = covariance.mahalanobis_abc(a[None, :], b[None, :], c[None, :], dx, dy)
    w = jnp.where(valid[None, :], covariance.splat_weight(sigma), 0.0)
    return valid, ids, dx, dy, w, (a, b, c)


def _num_chunks(start: jax.Array, end: jax.Array, chunk: int) -> jax.Array:
    return (end - start + chunk - 1) // chunk


def _forward_kernel(
    ids_ref,
    start_ref,
    end_ref,
    mx_ref,
    my_ref,
    a_ref,
    b_ref,
    c_ref,
    r_ref,
    g_ref,
    bl_ref,
    out_r_ref,
    out_g_ref,
    out_bl_ref,
    *,
    tiles_x: int,
    chunk: int,
    sentinel: int,
):
    """One tile: ``out_*_ref [256]`` = Σ over the tile's Gaussians of colour × weight."""
    t = pl.program_id(0)
    start, end = start_ref[t], end_ref[t]
    px, py = _tile_pixels(tiles_x)
    geom_refs = (mx_ref, my_ref, a_ref, b_ref, c_ref)

    def body(k, acc):
        first = start + k * chunk
        _, ids, _, _, w, _ = _chunk_weights(
            ids_ref, geom_refs, first, end, px, py, chunk=chunk, sentinel=sentinel
        )
        return tuple(
            s + jnp.sum(w * ref[ids][None, :], axis=1)
            for s, ref in zip(acc, (r_ref, g_ref, bl_ref), strict=True)
        )

    zeros = jnp.zeros((PIXELS,), jnp.float32)
    acc = jax.lax.fori_loop(0, _num_chunks(start, end, chunk), body, (zeros, zeros, zeros))
    for out_ref, s in zip((out_r_ref, out_g_ref, out_bl_ref), acc, strict=True):
        out_ref[...] = s


def _backward_kernel(
    ids_ref,
    start_ref,
    end_ref,
    mx_ref,
    my_ref,
    a_ref,
    b_ref,
    c_ref,
    r_ref,
    g_ref,
    bl_ref,
    v_r_ref,
    v_g_ref,
    v_bl_ref,
    v_mx_ref,
    v_my_ref,
    v_a_ref,
    v_b_ref,
    v_c_ref,
    v_cr_ref,
    v_cg_ref,
    v_cbl_ref,
    *,
    tiles_x: int,
    chunk: int,
    sentinel: int,
):
    """One tile: each of its slots gets its pixel-summed gradient in the eight ``[I]`` outputs."""
    t = pl.program_id(0)
    start, end = start_ref[t], end_ref[t]
    px, py = _tile_pixels(tiles_x)
    geom_refs = (mx_ref, my_ref, a_ref, b_ref, c_ref)
    v_pix = tuple(ref[...][:, None] for ref in (v_r_ref, v_g_ref, v_bl_ref))  # [256, 1] each
    out_refs = (v_mx_ref, v_my_ref, v_a_ref, v_b_ref, v_c_ref, v_cr_ref, v_cg_ref, v_cbl_ref)

    def body(k, carry):
        first = start + k * chunk
        valid, ids, dx, dy, w, (a, b, c) = _chunk_weights(
            ids_ref, geom_refs, first, end, px, py, chunk=chunk, sentinel=sentinel
        )
        col = tuple(ref[ids][None, :] for ref in (r_ref, g_ref, bl_ref))  # [1, chunk] each
        v_col = tuple(jnp.sum(w * v, axis=0) for v in v_pix)
        v_sigma = -w * (v_pix[0] * col[0] + v_pix[1] * col[1] + v_pix[2] * col[2])
        # Pixel sums first, then the per-Gaussian conic: 5 reductions.
        s_x = jnp.sum(v_sigma * dx, axis=0)
        s_y = jnp.sum(v_sigma * dy, axis=0)
        s_xx = jnp.sum(v_sigma * dx * dx, axis=0)
        s_xy = jnp.sum(v_sigma * dx * dy, axis=0)
        s_yy = jnp.sum(v_sigma * dy * dy, axis=0)
        grads = (-(a * s_x + b * s_y), -(b * s_x + c * s_y), 0.5 * s_xx, s_xy, 0.5 * s_yy, *v_col)
        for out_ref, val in zip(out_refs, grads, strict=True):
            pltriton.store(out_ref.at[pl.ds(first, chunk)], val, mask=valid)
        return carry

    jax.lax.fori_loop(0, _num_chunks(start, end, chunk), body, 0)


def _whole(x: jax.Array) -> pl.BlockSpec:
    """Every program sees all of ``x``."""
    return pl.BlockSpec(x.shape, lambda t: (0,) * x.ndim)


_TILE_ROW = pl.BlockSpec((pl.squeezed, PIXELS), lambda t: (t, 0))  # program t owns row t of [T, 256]


def _kernel_inputs(
    means: jax.Array, conics: jax.Array, colors: jax.Array, gauss_ids: jax.Array, chunk: int
) -> tuple[jax.Array, tuple[jax.Array, ...]]:
    """Sentinel-padded id list ``[I + chunk]`` and eight SoA per-Gaussian arrays ``[Np]``."""
    n = means.shape[0]
    padded_n = 1 << n.bit_length()  # a power of two > n: room for the zero sentinel row at n
    data = jnp.concatenate([means, conics, colors], axis=1).astype(jnp.float32)  # [N, 8]
    data = jnp.pad(data, ((0, padded_n - n), (0, 0)))
    ids = jnp.pad(gauss_ids.astype(jnp.int32), (0, chunk), constant_values=n)
    return ids, tuple(data[:, i] for i in range(data.shape[1]))


def _call(kernel, in_specs, out_shape, out_specs, num_tiles: int, interpret: bool, name: str):
    """One program per tile, Triton compiler parameters."""
    return pl.pallas_call(
        kernel,
        grid=(num_tiles,),
        in_specs=in_specs,
        out_specs=out_specs,
        out_shape=out_shape,
        interpret=interpret,
        compiler_params=pltriton.CompilerParams(num_warps=_NUM_WARPS, num_stages=1),
        name=name,
    )


def splat_forward(
    means: jax.Array,
    conics: jax.Array,
    colors: jax.Array,
    gauss_ids: jax.Array,
    tile_start: jax.Array,
    tile_end: jax.Array,
    height: int,
    width: int,
    *,
    chunk: int,
    interpret: bool,
) -> jax.Array:
    """Forward pallas_call: ``[H, W, 3]`` image from means ``[N, 2]``, conics and colors ``[N, 3]``
    and the binning lists (``gauss_ids [I]``, ``tile_start``/``tile_end [T]``)."""
    ty_n, tx_n = binning_lib.tile_grid(height, width)
    num_tiles = ty_n * tx_n
    ids, soa = _kernel_inputs(means, conics, colors, gauss_ids, chunk)
    kernel = functools.partial(_forward_kernel, tiles_x=tx_n, chunk=chunk, sentinel=means.shape[0])
    args = (ids, tile_start, tile_end, *soa)
    out = jax.ShapeDtypeStruct((num_tiles, PIXELS), jnp.float32)
    channels = _call(
        kernel, [_whole(x) for x in args], (out,) * 3, (_TILE_ROW,) * 3, num_tiles, interpret, "splat_forward"
    )(*args)
    return binning_lib.tiles_to_image(jnp.stack(channels, axis=-1), height, width)


def splat_backward(
    means: jax.Array,
    conics: jax.Array,
    colors: jax.Array,
    gauss_ids: jax.Array,
    tile_start: jax.Array,
    tile_end: jax.Array,
    v_image: jax.Array,
    *,
    chunk: int,
    interpret: bool,
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Backward pallas_call + segment_sum: ``v_image [H, W, 3]`` → ``(v_means, v_conics, v_colors)``."""
    height, width = v_image.shape[:2]
    ty_n, tx_n = binning_lib.tile_grid(height, width)
    num_tiles = ty_n * tx_n
    n, capacity = means.shape[0], gauss_ids.shape[0]
    ids, soa = _kernel_inputs(means, conics, colors, gauss_ids, chunk)
    v_tiles = binning_lib.image_to_tiles(v_image.astype(jnp.float32), ty_n, tx_n)  # [T, 256, 3]
    v_channels = tuple(v_tiles[..., i] for i in range(3))
    kernel = functools.partial(_backward_kernel, tiles_x=tx_n, chunk=chunk, sentinel=n)
    args = (ids, tile_start, tile_end, *soa)
    slot = jax.ShapeDtypeStruct((capacity + chunk,), jnp.float32)
    slot_spec = pl.BlockSpec((capacity + chunk,), lambda t: (0,))
    per_slot = _call(
        kernel,
        [_whole(x) for x in args] + [_TILE_ROW] * 3,
        (slot,) * _NUM_GRADS,
        (slot_spec,) * _NUM_GRADS,
        num_tiles,
        interpret,
        "splat_backward",
    )(*args, *v_channels)
    per_slot = jnp.stack(per_slot, axis=-1)[:capacity]  # [I, 8]
    # Slots past the last intersection are never written (uninitialised): zero them.
    used = gauss_ids < n
    per_slot = jnp.where(used[:, None], per_slot, 0.0)
    g = jax.ops.segment_sum(per_slot, jnp.where(used, gauss_ids, n), num_segments=n + 1)[:n]
    return g[:, 0:2], g[:, 2:5], g[:, 5:8]


@functools.partial(jax.custom_vjp, nondiff_argnums=(6, 7, 8, 9))
def _rasterize(means, conics, colors, gauss_ids, tile_start, tile_end, height, width, chunk, interpret):
    return splat_forward(
        means,
        conics,
        colors,
        gauss_ids,
        tile_start,
        tile_end,
        height,
        width,
        chunk=chunk,
        interpret=interpret,
    )


def _rasterize_fwd(means, conics, colors, gauss_ids, tile_start, tile_end, height, width, chunk, interpret):
    image = _rasterize(
        means, conics, colors, gauss_ids, tile_start, tile_end, height, width, chunk, interpret
    )
    return image, (means, conics, colors, gauss_ids, tile_start, tile_end)


def _rasterize_bwd(height, width, chunk, interpret, res, v_image):
    means, conics, colors, gauss_ids, tile_start, tile_end = res
    v_means, v_conics, v_colors = splat_backward(
        means, conics, colors, gauss_ids, tile_start, tile_end, v_image, chunk=chunk, interpret=interpret
    )
    return (
        v_means.astype(means.dtype),
        v_conics.astype(conics.dtype),
        v_colors.astype(colors.dtype),
        None,
        None,
        None,
    )


_rasterize.defvjp(_rasterize_fwd, _rasterize_bwd)


def rasterize(
    means: jax.Array,
    conics: jax.Array,
    colors: jax.Array,
    b: binning_lib.Binning,
    height: int,
    width: int,
    *,
    interpret: bool = False,
    chunk: int = DEFAULT_CHUNK,
) -> jax.Array:
    """Render ``[H, W, 3]`` from binned Gaussians with the Pallas kernels; differentiable.

    Args:
      means: ``[N, 2]`` centres, pixels.
      conics: ``[N, 3]`` inverse covariances ``(a, b, c)``, 1/pixels².
      colors: ``[N, 3]``.
      b: binning of the same Gaussians (from :func:`binning.bin_gaussians`).
      height, width: image size (static).
      interpret: run the kernels in the Pallas interpreter (CPU).
      chunk: Gaussians per ``[256 × chunk]`` block; a power of two (static).

    Returns:
      ``[H, W, 3]`` float32 image, NaN everywhere if the binning overflowed.
    """
    if b.cell != binning_lib.TILE:
        raise ValueError(f"the Pallas kernels take 16×16-tile lists, got cell={b.cell}")
    if chunk < 1 or chunk & (chunk - 1):
        raise ValueError(f"{chunk=} must be a power of two (Triton block sizes)")
    n = means.shape[0]
    for name, arr, k in (("means", means, 2), ("conics", conics, 3), ("colors", colors, 3)):
        if tuple(arr.shape) != (n, k):
            raise ValueError(f"{name} has shape {tuple(arr.shape)}, expected {(n, k)} ({n=})")
    image = _rasterize(
        means, conics, colors, b.gauss_ids, b.tile_start, b.tile_end, height, width, chunk, interpret
    )
    return jnp.where(b.overflowed(), jnp.nan, image)
