"""Bilinear sampling of an image or feature map at continuous pixel positions: the one sampler of
the project (the network's features and colours, the quad-tree init's colours).

Convention (the project's, shared with the renderer): pixel ``(i, j)`` covers
``[j, j+1) × [i, i+1)`` and its value sits at its centre ``(x, y) = (j + 0.5, i + 0.5)``. So the
value at ``(x, y)`` interpolates the four pixels around ``(x − 0.5, y − 0.5)`` in index space. In
normalised coordinates ``u = 2x/W − 1`` this is ``grid_sample(align_corners=False)``; outside the
outermost centres the border pixel is repeated (``padding_mode="border"``).

Deviation: the official network samples features and colours with integer-centre rendering but
``align_corners=False`` sampling, half a pixel apart, and pads with zeros (a border vertex sees half
black). Here sampling and rendering agree and the border is replicated.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


@jax.jit  # eager callers compile one program per shape, not one per primitive
def bilinear(grid: jax.Array, xy: jax.Array) -> jax.Array:
    """Sample ``grid [H, W, C]`` at ``xy [..., 2]`` (x, y in pixels) → ``[..., C]``.

    Differentiable in ``grid`` (and piecewise in ``xy``); jit/vmap-able; NumPy inputs are taken
    as they come (float32 on the default JAX config). Non-finite positions give non-finite values.
    """
    h, w, c = grid.shape
    fx = xy[..., 0] - 0.5
    fy = xy[..., 1] - 0.5
    x0 = jnp.floor(fx)
    y0 = jnp.floor(fy)
    wx = (fx - x0)[..., None]
    wy = (fy - y0)[..., None]
    x0i = x0.astype(jnp.int32)
    y0i = y0.astype(jnp.int32)
    flat = grid.reshape(h * w, c)

    def at(yi, xi):
        return flat[jnp.clip(yi, 0, h - 1) * w + jnp.clip(xi, 0, w - 1)]

    top = at(y0i, x0i) * (1 - wx) + at(y0i, x0i + 1) * wx
    bottom = at(y0i + 1, x0i) * (1 - wx) + at(y0i + 1, x0i + 1) * wx
    return top * (1 - wy) + bottom * wy
