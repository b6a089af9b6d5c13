"""Pure-JAX references for :mod:`pallas_kernels.splat`, re-exported (no logic of their own).

* :func:`splat_reference` — the tiled XLA rasterizer with its hand-written VJP; the SAME signature
  as :func:`pallas_kernels.splat.rasterize` (minus ``interpret``), so tests swap one for the other.
* :func:`splat_dense` — every pixel × every Gaussian with autodiff gradients, the source of truth;
  takes covariances and a mask: ``splat_dense(means, cov, colors, mask, height, width)``.
"""

from igi_jax.render.dense import render_dense as splat_dense
from igi_jax.render.rasterize import rasterize as splat_reference

__all__ = ["splat_dense", "splat_reference"]
