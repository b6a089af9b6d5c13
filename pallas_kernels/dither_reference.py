"""Pure-JAX Floyd–Steinberg dithering of a position probability map (PPM), as in Instant-GI.

Pipeline (the stage between the Position Field and Delaunay):

1. ``maxpool_ppm``: replicate-pad the PPM ``[H, W]`` at the bottom/right to multiples of ``k`` and take
   the max over each ``k×k`` patch → grid ``[Hc, Wc]``, ``Hc = ceil(H / k)``, ``Wc = ceil(W / k)``.
2. Floyd–Steinberg on the grid with the original's rules (checked against the official CUDA kernel):

   * a cell is set iff its accumulated value is not ``< 0.5`` (so ``>= 0.5``; NaN counts as set);
   * error ``q = value - bit`` goes 7/16 right, 3/16 down-left, 5/16 down, 1/16 down-right;
   * last row (checked first): all of ``q`` to the right; at the bottom-right corner it is dropped;
   * left column: 7/13 right, 5/13 down, 1/13 down-right;
   * right column: 3/8 down-left, 5/8 down;
   * one-column grid (``Wc == 1``; the original is undefined there — its "right" neighbour is the
     next row's cell, the 1/13 lands two rows down or out of bounds, and its lock counts can hang):
     we send all of ``q`` down, the transpose of the last-row rule.

   Each share is computed as ``(q * num) / den`` in float32 (the original's expression; for den 16, 8
   and 1 this equals ``(q * num) * (1 / den)`` exactly) and added to a cell in sequential row-major
   order: from up-left, up, up-right, then left. That order makes the result bit-exact with the
   textbook sequential loop (the original's atomics add in a racy order, so it is not deterministic).
3. Points: the centre of every set cell, ``(x, y) = (c*k + k/2, r*k + k/2)`` in pixels. Project
   convention: continuous pixel coordinates, pixel ``j`` spans ``[j, j+1)`` with centre ``j + 0.5``, so
   cell ``c`` spans ``[c*k, c*k + k)`` and its centre is ``c*k + k/2`` — numerically the original's
   formula. A last row/column cut by the image edge (``H mod k`` or ``W mod k`` ≠ 0) keeps its set
   cells, each point moved onto the last pixel centre at most (``min(centre, W − 0.5)``, same in y).
   The original drops a cut cell whose centre is outside the image (1 px left over at k = 3): that
   left a 2.5 px strip without points along the edge, and net-init fits of images with
   ``H ≡ 1 (mod 3)`` kept a bright/dark pair of rows there (``tests/init/test_border.py``: hayfield's
   bottom 7.5/255 against 2.6 inside after 200 steps; 3.9 with the point kept).

Parallel Floyd–Steinberg: cell ``(y, x)`` depends on ``(y, x-1)`` and ``(y-1, x-1..x+1)``, so with the
skew ``t = x + 2y`` every dependency lies in an earlier column ``t``. We ``lax.scan`` over the
``Wc + 2(Hc-1)`` skewed columns, all rows at once, carrying per row the three cells that have
received error but are not yet quantised (columns ``t, t+1, t+2`` of that row).

Speed (2-core CPU, jax 0.10.2, jitted, after warmup): ``dither_reference`` on a 512×768 PPM with k=3
(grid 171×256, 596 scan steps), points included: best of 20 calls 2.7–3.8 ms, median 3–4 ms when the
machine was quiet, 8–10 ms median while other jobs loaded both cores. The first call per shape
compiles for ~1–2 s.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

__all__ = ["maxpool_ppm", "floyd_steinberg_reference", "dither_reference", "POINT_PAD"]

# Value of the unused rows of ``points``: never a pixel coordinate, so an unmasked use shows up.
POINT_PAD = -1.0


def check_inputs(ppm: jax.Array, k: int, name: str = "ppm") -> None:
    """Raises ValueError unless ``ppm`` is a non-empty ``[H, W]`` array and ``k`` a static int >= 1."""
    if not isinstance(k, int) or isinstance(k, bool) or k < 1:
        raise ValueError(f"k must be a positive Python int (static), got {k=!r}")
    if ppm.ndim != 2:
        raise ValueError(f"{name} must be 2-D [H, W], got shape {ppm.shape}")
    if ppm.shape[0] < 1 or ppm.shape[1] < 1:
        raise ValueError(f"{name} must be non-empty, got shape {ppm.shape}")


def maxpool_ppm(ppm: jax.Array, k: int) -> jax.Array:
    """Replicate-pads the PPM to multiples of ``k`` (bottom/right) and max-pools ``k×k`` patches.

    Args:
      ppm: ``[H, W]`` probabilities in (0, 1).
      k: patch size in pixels (static Python int >= 1).

    Returns:
      ``[Hc, Wc]`` float32, ``Hc = ceil(H / k)``, ``Wc = ceil(W / k)``.
    """
    ppm = jnp.asarray(ppm)
    check_inputs(ppm, k)
    h, w = ppm.shape
    hc, wc = -(-h // k), -(-w // k)
    padded = jnp.pad(ppm.astype(jnp.float32), ((0, hc * k - h), (0, wc * k - w)), mode="edge")
    return padded.reshape(hc, k, wc, k).max(axis=(1, 3))


def skew(grid: jax.Array, num_cols: int, num_lanes: int) -> jax.Array:
    """``[Hc, Wc]`` → ``[num_cols, num_lanes]`` with ``out[t, y] = grid[y, t - 2y]`` (0 outside the grid)."""
    hc, wc = grid.shape
    t = jnp.arange(num_cols, dtype=jnp.int32)[:, None]
    y = jnp.arange(num_lanes, dtype=jnp.int32)[None, :]
    x = t - 2 * y
    inside = (x >= 0) & (x < wc) & (y < hc)
    vals = grid[jnp.clip(y, 0, hc - 1), jnp.clip(x, 0, wc - 1)]
    return jnp.where(inside, vals, jnp.zeros((), grid.dtype))


def unskew(skewed: jax.Array, hc: int, wc: int) -> jax.Array:
    """Inverse of ``skew``: ``[T', lanes]`` → ``[Hc, Wc]`` with ``out[y, x] = skewed[x + 2y, y]``."""
    y = jnp.arange(hc, dtype=jnp.int32)[:, None]
    x = jnp.arange(wc, dtype=jnp.int32)[None, :]
    return skewed[x + 2 * y, y]


def fs_step(
    v: jax.Array, x: jax.Array, y: jax.Array, hc: int, wc: int
) -> tuple[jax.Array, tuple[jax.Array, jax.Array, jax.Array, jax.Array]]:
    """Quantises one cell per row and splits its error (shared by the reference and the kernel).

    Args:
      v: ``[R]`` accumulated values of cells ``(y, x)``.
      x, y: ``[R]`` int32 cell column and row; lanes outside the grid quantise to 0 with no error.
      hc, wc: grid size.

    Returns:
      ``bit [R]`` bool and four ``[R]`` float32 shares of the error: headed right ``(y, x+1)``,
      down-left ``(y+1, x-1)``, down ``(y+1, x)`` and down-right ``(y+1, x+1)``.
    """
    f32 = jnp.float32
    valid = (x >= 0) & (x < wc) & (y < hc)
    bit = valid & ~(v < 0.5)  # as the original: set unless < 0.5
    q = jnp.where(valid, v - bit.astype(f32), f32(0))
    last = y == hc - 1
    single = (x == 0) & (x == wc - 1) & ~last  # one-column grid: everything down
    left = (x == 0) & ~last & ~single
    right = (x == wc - 1) & ~last & ~single

    def pick(last_v, single_v, left_v, right_v, inner_v):  # the cases are mutually exclusive
        out = jnp.where(right, f32(right_v), f32(inner_v))
        out = jnp.where(left, f32(left_v), out)
        out = jnp.where(single, f32(single_v), out)
        return jnp.where(last, f32(last_v), out)

    # Non-left denominators are powers of two, so ``p * inv`` equals ``p / den`` exactly and avoids a
    # division (approximate in Triton). The left column divides by 13 elementwise: XLA turns
    # ``p / 13`` and ``p / broadcast(d)`` into a reciprocal multiply, which is not bit-exact.
    inv = pick(1, 1, 1, 1 / 8, 1 / 16)
    den13 = jnp.where(left, f32(13), f32(1))

    def share(num):
        p = q * num
        return jnp.where(left, p / den13, p * inv)

    shares = (
        share(pick(1, 0, 7, 0, 7)),  # right
        share(pick(0, 0, 0, 3, 3)),  # down-left
        share(pick(0, 1, 5, 5, 5)),  # down
        share(pick(0, 0, 1, 0, 1)),  # down-right
    )
    return bit, shares


def points_from_mask(
    mask: jax.Array, k: int, height: int | jax.Array, width: int | jax.Array
) -> tuple[jax.Array, jax.Array]:
    """Points of the set cells that overlap the ``height × width`` image: cell centres, clamped
    into the image (a cut last cell's point on its last pixel centre).

    Args:
      mask: ``[Hc, Wc]`` bool.
      k: cell size in pixels.
      height, width: image size in pixels: the unpadded PPM's, or (traced, e.g. per image under
        ``vmap``) that of a smaller image at the top left of the grid, whose other cells are
        dropped, as dithering that image alone would not have them.

    Returns:
      ``points [Hc*Wc, 2]`` float32 ``(x, y)`` in pixels, row-major order, rows ``>= count`` equal to
      ``POINT_PAD``; ``count`` int32 scalar.
    """
    hc, wc = mask.shape
    left_x = jnp.arange(wc, dtype=jnp.float32) * k
    left_y = jnp.arange(hc, dtype=jnp.float32) * k
    mask = mask & (left_y[:, None] < height) & (left_x[None, :] < width)
    centre_x = jnp.minimum(left_x + k / 2, width - 0.5)
    centre_y = jnp.minimum(left_y + k / 2, height - 0.5)
    (idx,) = jnp.nonzero(mask.ravel(), size=hc * wc, fill_value=hc * wc)
    used = idx < hc * wc
    safe = jnp.minimum(idx, hc * wc - 1)
    xy = jnp.stack([centre_x[safe % wc], centre_y[safe // wc]], axis=-1)
    points = jnp.where(used[:, None], xy, jnp.float32(POINT_PAD))
    return points, mask.sum(dtype=jnp.int32)


def floyd_steinberg_reference(grid: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Floyd–Steinberg with the original's rules on a ``[Hc, Wc]`` grid (pure JAX, jit/vmap-able).

    Returns:
      ``mask [Hc, Wc]`` bool and ``values [Hc, Wc]`` float32: each cell's accumulated value when it
      was quantised (for bit-exactness checks; XLA drops it when unused).
    """
    grid = jnp.asarray(grid, jnp.float32)
    check_inputs(grid, 1, "grid")
    return _floyd_steinberg(grid)


@jax.jit
def _floyd_steinberg(grid: jax.Array) -> tuple[jax.Array, jax.Array]:
    hc, wc = grid.shape
    num_steps = wc + 2 * (hc - 1)
    cols = skew(grid, num_steps + 3, hc)
    y = jnp.arange(hc, dtype=jnp.int32)

    def step(acc, inputs):  # acc [3, Hc]: per row, the cells at columns x, x+1, x+2
        t, incoming = inputs
        bit, shares = fs_step(acc[0], t - 2 * y, y, hc, wc)
        # XLA:CPU contracts ``acc + q * w`` into an FMA, which is not the sequential loop's rounding.
        shares = jax.lax.optimization_barrier(jnp.stack(shares))  # [4, Hc]
        # Row y-1 is at column x+2 of row y: its down-left/down/down-right land on x+1, x+2, x+3.
        from_above = jnp.pad(shares[1:, :-1], ((0, 0), (1, 0)))
        new = jnp.concatenate([acc[1:], incoming[None]]) + from_above
        return new.at[0].add(shares[0]), (bit, acc[0])  # up-right before left: the sequential order

    steps = jnp.arange(num_steps, dtype=jnp.int32)
    _, (bits, values) = jax.lax.scan(step, cols[:3], (steps, cols[3:]))
    return unskew(bits, hc, wc), unskew(values, hc, wc)


def dither_reference(ppm: jax.Array, k: int) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Max-pools the PPM and Floyd–Steinberg dithers it (pure JAX; jit- and vmap-able, ``k`` static).

    Args:
      ppm: ``[H, W]`` float32 probabilities in (0, 1).
      k: cell size in pixels (3 for training, 4 or 5 for fewer Gaussians).

    Returns:
      ``mask [Hc, Wc]`` bool (the dithered grid), ``points [Hc*Wc, 2]`` float32 pixel ``(x, y)`` of the
      set cells inside the image in row-major order, padded with ``POINT_PAD``, and ``count`` int32
      (number of valid points).
    """
    ppm = jnp.asarray(ppm)
    check_inputs(ppm, k)
    return _dither_reference(ppm, k)


@functools.partial(jax.jit, static_argnums=1)
def _dither_reference(ppm: jax.Array, k: int) -> tuple[jax.Array, jax.Array, jax.Array]:
    height, width = ppm.shape
    mask, _ = _floyd_steinberg(maxpool_ppm(ppm, k))
    points, count = points_from_mask(mask, k, height, width)
    return mask, points, count
