"""Floyd–Steinberg dithering of the PPM as a Pallas kernel for the Triton GPU backend.

Same contract as ``dither_reference.dither_reference`` (see its docstring for the pipeline, the
original's edge rules and the point convention); only the Floyd–Steinberg pass runs in the kernel.

Backend: Triton, selected with ``compiler_params=pallas.triton.CompilerParams`` — it covers Ampere
(the paper's A100) as well as Hopper; Mosaic GPU is Hopper-first. Tested with jax 0.10.2, where the
lowering emits the ``__gpu$xla.gpu.triton`` custom call; written without ``pl.load``/``pl.store`` so it
also traces on jax 0.12.

Kernel (one program, every grid row in its own lane): Floyd–Steinberg as a wavefront. Row ``y``
quantises column ``x = t - 2y`` at step ``t``, i.e. once row ``y-1`` has passed column ``x+1``. Each lane
carries its row's three cells that already hold error (columns ``x, x+1, x+2``). What row ``y`` sends
down is moved to lane ``y+1`` through a small global buffer — store at offset 1, barrier, load at offset
0, barrier — since Triton has no lane shifts. Inputs arrive pre-skewed (``in[t, y] = grid[y, t-2y]``)
so every load and store is one contiguous power-of-two row; lanes are padded to a power of two.

Exactness: in interpret mode the kernel is bit-identical to the reference (tests compare every cell's
value). On a GPU every share goes through memory before it is added, so multiply-add contraction
cannot change the rounding; but Triton lowers f32 ``/`` (used only for the left column's 13ths) to
the approximate ``div.full.f32``, so a cell within a few ulps of 0.5 may flip. (``div.rn.f32`` via
``pltriton.elementwise_inline_asm`` would fix that; untested without a GPU, so not done.)
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
from jax.experimental import pallas as pl
from jax.experimental.pallas import triton as pltriton

from pallas_kernels.dither_reference import (
    check_inputs,
    fs_step,
    maxpool_ppm,
    points_from_mask,
    skew,
    unskew,
)

__all__ = ["dither", "floyd_steinberg"]


def _dither_kernel(
    cols_ref, bits_ref, values_ref, sent_ref, *, hc: int, wc: int, lanes: int, interpret: bool
):
    """cols_ref ``[T+3, lanes]`` skewed grid → bits_ref, values_ref ``[T, lanes]``; sent_ref is scratch."""

    def barrier():
        if not interpret:  # the interpreter runs the lanes in lockstep (and has no barrier rule)
            pltriton.debug_barrier()

    # Column 0 feeds lane 0 with what comes from above row 0: nothing. It is never written again.
    sent_ref[:, pl.ds(0, lanes)] = jnp.zeros((4, lanes), jnp.float32)
    barrier()
    y = jax.lax.broadcasted_iota(jnp.int32, (lanes,), 0)

    def step(t, carry):
        acc0, acc1, acc2 = carry
        bit, shares = fs_step(acc0, t - 2 * y, y, hc, wc)
        bits_ref[t, :] = bit.astype(jnp.int32)
        values_ref[t, :] = acc0
        # Lane y's shares go to column y+1; reading column y gives lane y what row y-1 sent down.
        for i, share in enumerate(shares):
            sent_ref[i, pl.ds(1, lanes)] = share
        barrier()
        right = sent_ref[0, pl.ds(1, lanes)]
        down_left = sent_ref[1, pl.ds(0, lanes)]
        down = sent_ref[2, pl.ds(0, lanes)]
        down_right = sent_ref[3, pl.ds(0, lanes)]
        barrier()  # all lanes have read before the next step overwrites
        # Row y-1 is at column x+2 of row y; up-right before left is the sequential addition order.
        return (acc1 + down_left) + right, acc2 + down, cols_ref[t + 3, :] + down_right

    init = (cols_ref[0, :], cols_ref[1, :], cols_ref[2, :])
    jax.lax.fori_loop(0, wc + 2 * (hc - 1), step, init)


def floyd_steinberg(
    grid: jax.Array, *, num_warps: int = 4, interpret: bool = False
) -> tuple[jax.Array, jax.Array]:
    """Floyd–Steinberg on a ``[Hc, Wc]`` grid with the Pallas kernel; see ``floyd_steinberg_reference``.

    Returns:
      ``mask [Hc, Wc]`` bool and ``values [Hc, Wc]`` float32 (each cell's value when quantised).
    """
    grid = jnp.asarray(grid, jnp.float32)
    check_inputs(grid, 1, "grid")
    return _floyd_steinberg(grid, num_warps=num_warps, interpret=interpret)


@functools.partial(jax.jit, static_argnames=("num_warps", "interpret"))
def _floyd_steinberg(grid: jax.Array, *, num_warps: int, interpret: bool) -> tuple[jax.Array, jax.Array]:
    hc, wc = grid.shape
    lanes = 1 << (hc - 1).bit_length()  # Triton wants power-of-two arrays
    num_steps = wc + 2 * (hc - 1)
    cols = skew(grid, num_steps + 3, lanes)
    kernel = functools.partial(_dither_kernel, hc=hc, wc=wc, lanes=lanes, interpret=interpret)
    bits, values, _ = pl.pallas_call(
        kernel,
        out_shape=(
            jax.ShapeDtypeStruct((num_steps, lanes), jnp.int32),
            jax.ShapeDtypeStruct((num_steps, lanes), jnp.float32),
            jax.ShapeDtypeStruct((4, 2 * lanes), jnp.float32),  # scratch (Triton has no scratch shapes)
        ),
        interpret=interpret,
        compiler_params=pltriton.CompilerParams(num_warps=num_warps, num_stages=1),  # nothing to pipeline
        name="floyd_steinberg",
    )(cols)
    return unskew(bits, hc, wc).astype(bool), unskew(values, hc, wc)


def dither(
    ppm: jax.Array, k: int, *, num_warps: int = 4, interpret: bool = False
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Max-pools the PPM and Floyd–Steinberg dithers it with the Pallas (Triton) kernel.

    Args:
      ppm: ``[H, W]`` float32 probabilities in (0, 1).
      k: cell size in pixels (static Python int; 3 for training, 4 or 5 for fewer Gaussians).
      num_warps: Triton warps for the single program.
      interpret: run the kernel in the Pallas interpreter (CPU).

    Returns:
      ``mask [Hc, Wc]`` bool, ``points [Hc*Wc, 2]`` float32 pixel ``(x, y)`` padded with ``POINT_PAD``,
      ``count`` int32 — identical to ``dither_reference``.
    """
    ppm = jnp.asarray(ppm)
    check_inputs(ppm, k)
    return _dither(ppm, k, num_warps=num_warps, interpret=interpret)


@functools.partial(jax.jit, static_argnums=1, static_argnames=("num_warps", "interpret"))
def _dither(ppm: jax.Array, k: int, *, num_warps: int, interpret: bool) -> tuple[jax.Array, ...]:
    height, width = ppm.shape
    mask, _ = _floyd_steinberg(maxpool_ppm(ppm, k), num_warps=num_warps, interpret=interpret)
    points, count = points_from_mask(mask, k, height, width)
    return mask, points, count
