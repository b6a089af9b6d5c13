"""Per-triangle feature organisation and the field activations (pure functions, no parameters).

Feature organisation (Instant-GI, 86 dims per triangle, coordinates normalised as ``u = 2x/W − 1``,
``v = 2y/H − 1``):

* ellipse, 4: centre (u, v) clamped to ±0.99999, aspect ``minor / (major + 1e-4)``, major-axis
  angle / 2π (the official angle in degrees / 360) clamped to [1e-5, 1 − 1e-5];
* triangle, 6: vertices minus centroid, times ``sqrt(1 / area)`` (normalised coordinates);
* colours, 12: the image at the 3 vertices and the centre;
* features, 64: the feature map at the same 4 points (4 × 64) through the reduction MLP + LayerNorm.

The Σ and opacity fields add 8 stop-gradient coordinates: the BC-field centre of the triangle and
of its 3 neighbours (normalised) = 94 dims.

Field activations:

* :func:`scale_activation` (official ``scaling_activation``, the paper's eq. 11): with
  ``x' = 50 tanh(0.02 x)``, ``0.5 exp(0.5 x')`` for ``x' < 0`` else ``softplus_β=−2(0.25 x' − 2.5) + 3``;
  range (0, 3), 0.5 at 0; the scale is this times the ellipse semi-axes. As in torch (``threshold=4``)
  the softplus is linear for ``x' < 2``, which makes f_s C¹ at 0 (and leaves the official's jump of
  0.009 at ``x' = 2``).
* :func:`rotation_logit`: ``tanh(out) + logit(angle / 2π)``; θ = sigmoid(that) · 2π, so a zero output
  keeps the ellipse's angle.

Deviation: the aspect uses (minor, major) explicitly; the official takes the fitted ellipse's first
axis over its second in whatever order its fit returned them.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from igi_jax.sampling import bilinear

_ANGLE_EPS = 1e-5
_CENTRE_CLAMP = 0.99999
_AREA_MIN = 1e-12


def scale_activation(x: jax.Array) -> jax.Array:
    """f_s: ℝ → (0, 3), f_s(0) = 0.5, increasing, C¹ at 0."""
    x = 50.0 * jnp.tanh(0.02 * x)
    neg = 0.5 * jnp.exp(0.5 * jnp.minimum(x, 0.0))
    # torch softplus(z, beta=-2, threshold=4) = z where beta·z > 4, else (1/beta) log(1 + exp(beta z)).
    # The linear piece (x' < 2) makes f_s = 0.5 + x'/4 there: C¹ at 0 with the exp branch.
    z = 0.25 * x - 2.5
    pos = jnp.where(-2.0 * z > 4.0, z, -0.5 * jax.nn.softplus(-2.0 * z)) + 3.0
    return jnp.where(x < 0, neg, pos)


def angle_fraction(angle: jax.Array) -> jax.Array:
    """Ellipse angle in radians [0, π) → fraction of a turn, clamped to [1e-5, 1 − 1e-5]."""
    return jnp.clip(angle / (2 * jnp.pi), _ANGLE_EPS, 1.0 - _ANGLE_EPS)


def rotation_logit(out: jax.Array, angle: jax.Array) -> jax.Array:
    """Pre-sigmoid rotation ``tanh(out) + logit(angle / 2π)``; θ = sigmoid(·)·2π. ``[T]`` → ``[T]``."""
    frac = angle_fraction(angle)
    return jnp.tanh(out) + jnp.log(frac) - jnp.log1p(-frac)


def to_normalised(xy: jax.Array, height: int, width: int) -> jax.Array:
    """Pixels → [−1, 1] (``u = 2x/W − 1``), ``[..., 2]``."""
    return xy * jnp.asarray([2.0 / width, 2.0 / height], xy.dtype) - 1.0


def organise(
    image: jax.Array,  # [H, W, 3]
    features: jax.Array,  # [H, W, F]
    vertices: jax.Array,  # [T, 3, 2] pixels
    centre: jax.Array,  # [T, 2] pixels
    semi_axes: jax.Array,  # [T, 2] (major, minor) pixels
    angle: jax.Array,  # [T] radians in [0, π)
    size: tuple[jax.Array, jax.Array] | None = None,
) -> tuple[jax.Array, jax.Array]:
    """The hand-made part of the triangle features and the 4 sampled feature vectors.

    ``size``: ``(height, width)`` of the image inside ``image`` (a training crop whose bottom
    and right edges are padding, :class:`igi_jax.data.config.DataConfig` ``edge_jitter``);
    positions are normalised to it. Default: the whole array.

    Returns:
      ``geo [T, 22]`` (ellipse 4, triangle 6, colours 12) and ``sampled [T, 4·F]`` (the feature
      map at the 3 vertices and the centre, vertex-major), for the reduction MLP.
    """
    height, width = image.shape[:2] if size is None else size
    points = jnp.concatenate([vertices, centre[:, None, :]], axis=1)  # [T, 4, 2]
    colours = bilinear(image, points).reshape(points.shape[0], -1)  # [T, 12]
    sampled = bilinear(features, points).reshape(points.shape[0], -1)  # [T, 4F]
    centre_n = jnp.clip(to_normalised(centre, height, width), -_CENTRE_CLAMP, _CENTRE_CLAMP)
    aspect = semi_axes[:, 1] / (semi_axes[:, 0] + 1e-4)
    ellipse = jnp.concatenate([centre_n, aspect[:, None], angle_fraction(angle)[:, None]], axis=-1)
    v = to_normalised(vertices, height, width)
    d = v - v.mean(axis=1, keepdims=True)
    e1, e2 = v[:, 1] - v[:, 0], v[:, 2] - v[:, 0]
    area = 0.5 * jnp.abs(e1[:, 0] * e2[:, 1] - e2[:, 0] * e1[:, 1])
    tri = (d * jax.lax.rsqrt(jnp.maximum(area, _AREA_MIN))[:, None, None]).reshape(-1, 6)
    return jnp.concatenate([ellipse, tri, colours], axis=-1), sampled


def neighbour_coords(means_n: jax.Array, neighbors: jax.Array) -> jax.Array:
    """Stop-gradient centres of each triangle and its 3 neighbours: ``[T, 2]``, ``[T, 3]`` → ``[T, 8]``."""
    m = jax.lax.stop_gradient(means_n)
    return jnp.concatenate([m, m[neighbors[:, 0]], m[neighbors[:, 1]], m[neighbors[:, 2]]], axis=-1)
