"""Dense reference renderer: every pixel × every Gaussian, gradients by autodiff.

The source of truth for the tiled backends. Only the conic and the Mahalanobis term come from
:mod:`igi_jax.covariance` (the one shared function for that math); which (pixel, Gaussian)
pairs count is decided here, per pair, straight from the definitions in the design notes, and
shares no code with the tiled binning (:mod:`igi_jax.render.binning`), so a bug there cannot
hide behind the reference:

* A Gaussian is *live* when its mask is set, its mean is finite and its covariance is positive
  definite (``xx > 0`` and ``det > 0``); otherwise it contributes nothing.
* Pixel ``(i, j)`` is sampled at ``p = (j + 0.5, i + 0.5)``; ``σ = ½ dᵀ Σ⁻¹ d`` with ``d = p − μ``,
  and the pair is skipped when ``σ < 0`` or ``exp(−σ) < 1/255`` (the α cut).
* ``support="tiles"`` (default, what every tiled backend renders): GaussianImage's tile rule on
  top of the α cut. The radius is ``r = ceil(3 sqrt(λ_max))`` with ``λ_max = b + sqrt(max(0.1,
  b² − det))``, ``b = (xx + yy)/2``; the pair counts only when the closed box
  ``[μx − r, μx + r] × [μy − r, μy + r]`` meets the pixel's 16×16 tile, the half-open rectangle
  ``[16 tx, 16 tx + 16) × [16 ty, 16 ty + 16)`` clipped to the image, ``tx = j // 16``,
  ``ty = i // 16``.
* ``support="exact"``: the α cut alone, the render's mathematical definition. It differs from
  ``"tiles"`` only on pairs outside the ``3 sqrt(λ_max)`` box, where ``σ ≥ 9/2``, so by at most
  ``exp(−9/2) Σ_n |c_n|`` per pixel (``tests/render/test_dense.py`` checks the bound).

``jax.grad`` of it is the exact gradient of the piecewise-smooth render. Memory is
``O(H·W·N)``: small images only.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from igi_jax import covariance

SUPPORTS = ("tiles", "exact")
_TILE = 16  # GaussianImage's tile side, pixels
_ALPHA_CUT = 1.0 / 255.0
_RADIUS_SIGMAS = 3.0


def _live(means: jax.Array, cov: jax.Array, mask: jax.Array) -> jax.Array:
    """``[N]`` bool: masked in, finite mean, positive-definite covariance."""
    xx, xy, yy = cov[:, 0], cov[:, 1], cov[:, 2]
    return mask & jnp.isfinite(means).all(axis=-1) & (xx > 0) & (xx * yy - xy * xy > 0)


def _tile_radius(cov: jax.Array) -> jax.Array:
    """``[N]`` GaussianImage's binning radius ``ceil(3 sqrt(λ_max))``, pixels."""
    xx, xy, yy = cov[:, 0], cov[:, 1], cov[:, 2]
    b = 0.5 * (xx + yy)
    lam_max = b + jnp.sqrt(jnp.maximum(0.1, b * b - (xx * yy - xy * xy)))
    return jnp.ceil(_RADIUS_SIGMAS * jnp.sqrt(lam_max))


def _box_meets_tile(centre: jax.Array, radius: jax.Array, pixel: jax.Array, size: int) -> jax.Array:
    """Along one axis: ``[c − r, c + r]`` meets the pixel's tile ``[16 t, min(16 t + 16, size))``.

    ``centre``/``radius`` are ``[N]``, ``pixel`` integer indices ``[P, 1]``; returns ``[P, N]``.
    """
    lo = (pixel // _TILE) * _TILE
    hi = jnp.minimum(lo + _TILE, size)
    return (centre - radius < hi) & (centre + radius >= lo)


def render_dense(
    means: jax.Array,
    cov: jax.Array,
    colors: jax.Array,
    mask: jax.Array,
    height: int,
    width: int,
    *,
    support: str = "tiles",
) -> jax.Array:
    """Render by brute force over all (pixel, Gaussian) pairs.

    Args:
      means: ``[N, 2]`` centres ``(x, y)``, pixels.
      cov: ``[N, 3]`` covariances ``(xx, xy, yy)``, pixels².
      colors: ``[N, 3]``.
      mask: ``[N]`` bool; masked Gaussians contribute nothing.
      height, width: output size (static).
      support: ``"tiles"`` (the tiled backends' support) or ``"exact"`` (the α cut only); see
        the module docstring.

    Returns:
      ``[H, W, 3]`` image.
    """
    if support not in SUPPORTS:
        raise ValueError(f"{support=} is not one of {SUPPORTS}")
    ys, xs = jnp.meshgrid(jnp.arange(height), jnp.arange(width), indexing="ij")
    xs, ys = xs.reshape(-1, 1), ys.reshape(-1, 1)  # [P, 1] integer pixel indices
    dx = xs.astype(jnp.float32) + 0.5 - means[:, 0]  # [P, N]
    dy = ys.astype(jnp.float32) + 0.5 - means[:, 1]
    sigma = covariance.mahalanobis(covariance.conic_from_cov(cov), dx, dy)
    alpha = jnp.exp(-sigma)
    keep = _live(means, cov, mask) & (sigma >= 0) & (alpha >= _ALPHA_CUT)
    if support == "tiles":
        r = _tile_radius(cov)
        keep &= _box_meets_tile(means[:, 0], r, xs, width) & _box_meets_tile(means[:, 1], r, ys, height)
    w = jnp.where(keep, alpha, 0.0)
    return (w @ colors).reshape(height, width, 3)
