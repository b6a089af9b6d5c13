"""Covariance / conic math for 2D Gaussians, shared by every backend.

A covariance is stored as its three unique entries ``cov = (xx, xy, yy)`` in pixels², and a
conic (the inverse covariance) as ``conic = (a, b, c)`` so that the Mahalanobis term is
``sigma = 0.5 * (a dx² + 2 b dx dy + c dy²)``. The rasterizers (XLA and Pallas), the binning
and the dense reference all go through the functions here, so the geometry they see is identical.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

# Pairs whose exp(-sigma) falls below this are skipped (GaussianImage / gsplat convention).
ALPHA_MIN = 1.0 / 255.0
# Binning radius in units of sqrt(lambda_max) (GaussianImage: 3 sigma).
RADIUS_SIGMAS = 3.0


def cov_from_rs(scales: jax.Array, theta: jax.Array) -> jax.Array:
    """Σ = (R S)(R S)ᵀ with R(θ) = [[cos, −sin], [sin, cos]], S = diag(s1, s2).

    Args:
      scales: ``[N, 2]`` standard deviations along the rotated axes, pixels.
      theta: ``[N]`` rotation, radians.

    Returns:
      ``[N, 3]`` covariance ``(xx, xy, yy)``, pixels².
    """
    c, s = jnp.cos(theta), jnp.sin(theta)
    s1, s2 = scales[..., 0] ** 2, scales[..., 1] ** 2
    xx = c * c * s1 + s * s * s2
    xy = c * s * (s1 - s2)
    yy = s * s * s1 + c * c * s2
    return jnp.stack([xx, xy, yy], axis=-1)


def cov_from_cholesky(chol: jax.Array) -> jax.Array:
    """Σ = L Lᵀ with L = [[l11, 0], [l21, l22]].

    Args:
      chol: ``[N, 3]`` as ``(l11, l21, l22)``, pixels.

    Returns:
      ``[N, 3]`` covariance ``(xx, xy, yy)``, pixels².
    """
    l11, l21, l22 = chol[..., 0], chol[..., 1], chol[..., 2]
    return jnp.stack([l11 * l11, l11 * l21, l21 * l21 + l22 * l22], axis=-1)


def conic_from_cov(cov: jax.Array) -> jax.Array:
    """Inverse of a 2×2 symmetric covariance: ``[N, 3]`` → ``[N, 3]`` conic ``(a, b, c)``.

    A degenerate covariance (det ≤ 0) yields a zero conic; callers mask such Gaussians out
    through :func:`valid_cov`, so the zero never reaches a render.
    """
    xx, xy, yy = cov[..., 0], cov[..., 1], cov[..., 2]
    det = xx * yy - xy * xy
    ok = det > 0
    inv = jnp.where(ok, 1.0 / jnp.where(ok, det, 1.0), 0.0)
    return jnp.stack([yy * inv, -xy * inv, xx * inv], axis=-1)


def valid_cov(cov: jax.Array) -> jax.Array:
    """``[N, 3]`` → ``[N]`` bool: the covariance is positive definite."""
    return (cov[..., 0] > 0) & (cov[..., 0] * cov[..., 2] - cov[..., 1] ** 2 > 0)


def radius_from_cov(cov: jax.Array, sigmas: float = RADIUS_SIGMAS) -> jax.Array:
    """Screen radius used for tile binning: ``ceil(sigmas · sqrt(λ_max))``, pixels, ``[N]``.

    λ_max = b + sqrt(max(0.1, b² − det)) with b = (xx + yy)/2, exactly as GaussianImage's
    CUDA preprocessing, so our tile lists match the original's.
    """
    xx, xy, yy = cov[..., 0], cov[..., 1], cov[..., 2]
    b = 0.5 * (xx + yy)
    det = xx * yy - xy * xy
    lam = b + jnp.sqrt(jnp.maximum(0.1, b * b - det))
    return jnp.ceil(sigmas * jnp.sqrt(lam))


def mahalanobis(conic: jax.Array, dx: jax.Array, dy: jax.Array) -> jax.Array:
    """``sigma = 0.5 (a dx² + 2 b dx dy + c dy²)``; ``conic`` broadcasts against ``dx``/``dy``."""
    return mahalanobis_abc(conic[..., 0], conic[..., 1], conic[..., 2], dx, dy)


def mahalanobis_abc(a: jax.Array, b: jax.Array, c: jax.Array, dx: jax.Array, dy: jax.Array) -> jax.Array:
    """:func:`mahalanobis` on a conic held as three arrays (structure of arrays, as Triton needs)."""
    return 0.5 * (a * dx * dx + c * dy * dy) + b * dx * dy


def splat_weight(sigma: jax.Array) -> jax.Array:
    """exp(−σ) with the cuts every backend applies: 0 where σ < 0 or exp(−σ) < 1/255."""
    alpha = jnp.exp(-sigma)
    return jnp.where((sigma >= 0) & (alpha >= ALPHA_MIN), alpha, 0.0)


SIGMA_MAX = -math.log(ALPHA_MIN)  # exp(-sigma) >= ALPHA_MIN  <=>  sigma <= SIGMA_MAX
