"""Host-side Delaunay triangulation, border points and padding to a static triangle count.

Instant-GI triangulates the dithered points on the CPU with ``scipy.spatial.Delaunay`` (Qhull,
``incremental=True``); so do we. The network stage runs under ``jit`` and needs static shapes, so
:func:`pad_triangles` pads the triangle list to the planar bound (a triangulation of P points has
at most 2P − 5 triangles for P ≥ 3) or to a caller-chosen bucket, with a validity mask.

Coordinates are continuous pixels (pixel (i, j) covers [j, j+1) × [i, i+1), x right, y down).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from scipy.spatial import Delaunay, QhullError, cKDTree


class Triangulation(NamedTuple):
    """A Delaunay triangulation, all NumPy.

    Attributes:
      vertices: ``[P, 2]`` float64 points, pixels.
      triangles: ``[M, 3]`` int32 vertex indices.
      neighbors: ``[M, 3]`` int32; ``neighbors[m, k]`` is the triangle opposite vertex k of
        triangle m, or m itself on the hull (Instant-GI replaces Qhull's −1 by the own index).
    """

    vertices: np.ndarray
    triangles: np.ndarray
    neighbors: np.ndarray


def _check_points(points: np.ndarray, name: str = "points") -> np.ndarray:
    points = np.asarray(points, dtype=np.float64)
    if points.ndim != 2 or points.shape[1] != 2:
        raise ValueError(f"{name} must have shape [P, 2], got {points.shape}")
    if not np.isfinite(points).all():
        raise ValueError(f"{name} contain NaN or inf ({int((~np.isfinite(points)).any(1).sum())} rows)")
    return points


def triangulate(points: np.ndarray) -> Triangulation:
    """Delaunay-triangulate ``points [P, 2]`` with Qhull on the host.

    Duplicate points are allowed (Qhull leaves the copies out of every triangle).

    Raises:
      ValueError: fewer than 3 points, NaN/inf, or all points collinear.
    """
    points = _check_points(points)
    if len(points) < 3:
        raise ValueError(f"Delaunay needs at least 3 points, got {len(points)}")
    try:
        tri = Delaunay(points, incremental=True)
    except QhullError:
        # Incremental mode drops Qhull's "Qz", so an initial simplex of cocircular points (e.g. only
        # the 4 corners of a rectangle) fails; the one-shot mode handles those.
        try:
            tri = Delaunay(points)
        except QhullError as err:
            first = str(err).strip().splitlines()[0] if str(err).strip() else ""
            raise ValueError(
                f"cannot triangulate {len(points)} points: they are collinear or coincident (Qhull: {first})"
            ) from err
    simplices = np.asarray(tri.simplices, np.int32)
    nbrs = np.asarray(tri.neighbors, np.int32)
    if len(simplices) == 0:
        raise ValueError(
            f"cannot triangulate {len(points)} points: Qhull returned no triangle (collinear points?)"
        )
    own = np.broadcast_to(np.arange(len(nbrs), dtype=np.int32)[:, None], nbrs.shape)
    nbrs = np.where(nbrs < 0, own, nbrs)
    return Triangulation(vertices=points, triangles=simplices, neighbors=nbrs)


def mean_nn_distance(points: np.ndarray) -> float:
    """Mean distance from each point to its nearest other point (distinct points), pixels."""
    points = np.unique(_check_points(points), axis=0)
    if len(points) < 2:
        raise ValueError(
            f"need at least 2 distinct points for a nearest-neighbour distance, got {len(points)}"
        )
    dist, _ = cKDTree(points).query(points, k=2)
    return float(dist[:, 1].mean())


def border_points(points: np.ndarray, height: int, width: int, *, inset: float = 0.0) -> np.ndarray:
    """Evenly spaced points on the image border, spaced about 3× the mean nearest-neighbour distance.

    Follows Instant-GI's ``add_boundary_points``: with d the mean nearest-neighbour distance of
    ``points``, ``ceil(W / 3d)`` points on the top and bottom edges and ``ceil(H / 3d)`` on the left
    and right edges, each edge from corner to corner (``linspace``), so the 4 corners are included
    once each. We place the edges on the image rectangle, x ∈ {inset, W − inset} and
    y ∈ {inset, H − inset}; the default ``inset=0`` makes the triangulation cover the whole image.
    The original puts them on the outermost pixel centres, 0 and W − 1 in its integer-centre
    convention, which is ``inset=0.5`` in ours. Unlike the original we use at least 2 points per edge,
    so the corners are always there even when 3d exceeds the image size.

    Args:
      points: ``[P, 2]`` interior points (e.g. dithered), pixels, P ≥ 2.
      height, width: image size, pixels.
      inset: distance of the border lines from the image edges, pixels.

    Returns:
      ``[B, 2]`` float64 border points without duplicates: corners, then top, bottom, left, right.
    """
    if height < 1 or width < 1:
        raise ValueError(f"image size must be positive, got {height=} {width=}")
    if not 0 <= 2 * inset < min(height, width):
        raise ValueError(f"{inset=} must be in [0, min(H, W)/2) for {height=} {width=}")
    d = mean_nn_distance(points)
    if d <= 0:
        raise ValueError("mean nearest-neighbour distance is zero")
    nx = max(2, math.ceil(width / (3.0 * d)))
    ny = max(2, math.ceil(height / (3.0 * d)))
    x0, x1, y0, y1 = inset, width - inset, inset, height - inset
    xs = np.linspace(x0, x1, nx)[1:-1]  # interior of the horizontal edges
    ys = np.linspace(y0, y1, ny)[1:-1]
    corners = np.array([[x0, y0], [x1, y0], [x0, y1], [x1, y1]], np.float64)
    top = np.stack([xs, np.full_like(xs, y0)], -1)
    bottom = np.stack([xs, np.full_like(xs, y1)], -1)
    left = np.stack([np.full_like(ys, x0), ys], -1)
    right = np.stack([np.full_like(ys, x1), ys], -1)
    return np.concatenate([corners, top, bottom, left, right], axis=0)


def with_border(points: np.ndarray, height: int, width: int, *, inset: float = 0.0) -> np.ndarray:
    """``points`` followed by their :func:`border_points`: ``[P + B, 2]``."""
    points = _check_points(points)
    return np.concatenate([points, border_points(points, height, width, inset=inset)], axis=0)


def max_triangles(num_points: int) -> int:
    """Planar bound on the number of triangles of ``num_points`` ≥ 3 points: 2P − 5."""
    if num_points < 3:
        raise ValueError(f"need at least 3 points, got {num_points=}")
    return 2 * num_points - 5


def pad_triangles(
    tri: Triangulation, capacity: int | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pad triangles and neighbours to a static count, for jitted consumers.

    Padded triangles are ``(0, 0, 0)`` (a valid vertex index, zero area) and their own neighbours,
    so gathers stay in bounds; ``mask`` marks the real ones.

    Args:
      tri: a :class:`Triangulation`.
      capacity: padded size; defaults to the planar bound ``2P − 5``.

    Returns:
      ``triangles [C, 3]`` int32, ``neighbors [C, 3]`` int32, ``mask [C]`` bool.
    """
    m = len(tri.triangles)
    if capacity is None:
        capacity = max_triangles(len(tri.vertices))
    if capacity < m:
        raise ValueError(f"{m=} triangles exceed {capacity=}")
    extra = capacity - m
    triangles = np.concatenate([tri.triangles, np.zeros((extra, 3), np.int32)], axis=0)
    pad_nbrs = np.repeat(np.arange(m, capacity, dtype=np.int32)[:, None], 3, axis=1)
    neighbors = np.concatenate([tri.neighbors, pad_nbrs], axis=0)
    mask = np.arange(capacity) < m
    return triangles.astype(np.int32), neighbors.astype(np.int32), mask
