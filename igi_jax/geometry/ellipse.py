"""Per-triangle ellipses in closed form (Instant-GI's ellipse fit without a solver).

Instant-GI fits, for every Delaunay triangle, a least-squares ellipse to its 3 vertices and 3
edge midpoints (``cv2.fitEllipse`` in the quad-tree init, a CUDA port in the network). Both fits are
equivariant under linear maps about the centroid, so the answer is the affine image of the
equilateral case: a circle about the centroid through which the vertices (radius R) and the
midpoints (R/2) miss by the least squares, u = R²·k minimising (u − 1)² + (u/4 − 1)² → u = 20/17.
Hence the fit is the Steiner circumellipse (vertices at Mahalanobis radius 1) scaled by √(17/20):
its shape matrix is ``E = (17/10) · C`` with ``C = (1/3) Σ (p_k − g)(p_k − g)ᵀ`` the vertex
covariance about the centroid ``g``, and every vertex sits at Mahalanobis radius √(20/17).

All functions take NumPy arrays (and return NumPy, float64 kept) or JAX arrays (and return JAX,
so they can run under ``jit``). Coordinates are pixels, x right and y down; angles are radians,
measured from +x towards +y, the same sense as ``R(θ)`` in :mod:`igi_jax.covariance`.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

# LSQ ellipse of vertices + midpoints = (17/20) × Steiner ellipse (2 C) in the shape matrix.
_LSQ_FACTOR = 17.0 / 10.0
MAX_AXIS_RATIO = 10.0


def _xp(*arrays: Any):
    """``jnp`` if any input is a JAX array (or tracer), else ``np``."""
    return jnp if any(isinstance(a, jax.Array) for a in arrays) else np


def triangle_shape_matrix(vertices):
    """Shape matrix ``E`` of the LSQ ellipse, ``(x − g)ᵀ E⁻¹ (x − g) = 1``.

    Args:
      vertices: ``[..., 3, 2]`` triangle vertices, pixels.

    Returns:
      ``centre [..., 2]`` (the centroid) and ``E [..., 3]`` as ``(xx, xy, yy)``, pixels².
    """
    xp = _xp(vertices)
    centre = vertices.mean(axis=-2)
    d = vertices - centre[..., None, :]
    dx, dy = d[..., 0], d[..., 1]
    scale = _LSQ_FACTOR / 3.0
    e = xp.stack([(dx * dx).sum(-1), (dx * dy).sum(-1), (dy * dy).sum(-1)], axis=-1) * scale
    return centre, e


def sym_eig(m):
    """Eigen-decomposition of symmetric 2×2 matrices ``[..., 3]`` (xx, xy, yy).

    Returns:
      ``lam [..., 2]`` (largest first, ≥ 0) and the major-axis angle ``[...]`` in [0, π).
    """
    xp = _xp(m)
    xx, xy, yy = m[..., 0], m[..., 1], m[..., 2]
    b = 0.5 * (xx + yy)
    r = xp.sqrt(0.25 * (xx - yy) ** 2 + xy * xy)
    lam = xp.stack([b + r, xp.maximum(b - r, 0.0)], axis=-1)
    angle = xp.mod(0.5 * xp.arctan2(2.0 * xy, xx - yy), np.pi)
    # mod can round a tiny negative up to exactly π; fold it back into [0, π).
    angle = xp.where(angle >= np.pi, 0.0, angle)
    return lam, angle


def triangle_ellipses(vertices):
    """Least-squares ellipse of each triangle's vertices + edge midpoints, in closed form.

    Args:
      vertices: ``[M, 3, 2]`` (any leading dims) triangle vertices, pixels.

    Returns:
      ``centre [M, 2]`` (the centroid), ``semi_axes [M, 2]`` as (major, minor) in pixels, and
      ``angle [M]`` of the major axis, radians in [0, π). A degenerate (collinear) triangle gets a
      zero minor axis, which :func:`ellipse_filter` rejects.
    """
    xp = _xp(vertices)
    centre, e = triangle_shape_matrix(vertices)
    lam, angle = sym_eig(e)
    return centre, xp.sqrt(lam), angle


def ellipse_cov(semi_axes, angle, scale: float = 1.0):
    """Covariance whose standard deviations are ``scale × semi_axes`` along the ellipse axes.

    Args:
      semi_axes: ``[M, 2]`` (major, minor), pixels.
      angle: ``[M]`` radians.
      scale: std dev per semi-axis (Instant-GI's quad-tree uses 0.54 = 0.27 × full axes).

    Returns:
      ``[M, 3]`` covariance ``(xx, xy, yy)``, pixels²; equals ``covariance.cov_from_rs``.
    """
    xp = _xp(semi_axes, angle)
    c, s = xp.cos(angle), xp.sin(angle)
    s1 = (scale * semi_axes[..., 0]) ** 2
    s2 = (scale * semi_axes[..., 1]) ** 2
    return xp.stack([c * c * s1 + s * s * s2, c * s * (s1 - s2), s * s * s1 + c * c * s2], axis=-1)


def ellipse_filter(centre, semi_axes, height: int, width: int, max_ratio: float = MAX_AXIS_RATIO):
    """The official keep-mask: centre inside ``[0, W] × [0, H]`` and major/minor ≤ ``max_ratio``.

    Args:
      centre: ``[M, 2]`` pixels; semi_axes: ``[M, 2]`` (major, minor) pixels.

    Returns:
      ``[M]`` bool, True = keep. A degenerate ellipse (minor 0, or NaN) is dropped.
    """
    x, y = centre[..., 0], centre[..., 1]
    inside = (x >= 0) & (x <= width) & (y >= 0) & (y <= height)
    # Written as a product so minor = 0 and NaN both fail without a division.
    thin = ~(semi_axes[..., 0] <= max_ratio * semi_axes[..., 1])
    return inside & ~thin & (semi_axes[..., 1] > 0)
