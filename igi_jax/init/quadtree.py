"""Quad-tree initialisation: Instant-GI's non-learned content-adaptive init (its ``quard`` mode).

The recipe (official ``quard_image.py``; see DESIGN.md "Initialisations"):

1. Blur the image (Gaussian, σ = 1 px; the original uses PIL, whose output is 8-bit) and pad it
   with black on the right/bottom to a ``S × S`` square, ``S = max(H, W)``.
2. Split the root breadth-first. A region is a leaf when its shorter side is ≤ 4 px or it is
   *uniform*: max over channels of its std < ``0.0207916 − 0.0001979 · size`` (size = longer side,
   px; the threshold is negative past 105 px, so large regions always split). Otherwise its left
   and right halves are tried first and each uniform one becomes a leaf; only if neither is uniform
   are the top and bottom halves tried the same way. The quadrants not covered by an accepted half
   are queued.
3. Leaf centres inside the image, plus edge points (:func:`edge_points`: the 4 image corners and
   every border leaf's centre projected onto its edge; the official uses the corners alone), are
   Delaunay-triangulated; each
   triangle gives the least-squares ellipse of its vertices + edge midpoints
   (:mod:`igi_jax.geometry.ellipse`), dropped if its centre is outside the image or its axis ratio
   exceeds 10. A Gaussian sits at each ellipse centre with std devs ``scale × semi-axes``
   (official: 0.27 × full axes, ``scale = 0.54``), floored at 0.5 px as GaussianImage's
   ``clamp(relu(s), 0.5)`` does for initialised scales.
4. A round Gaussian is added at every vertex whose summed incident ellipse area exceeds twice the
   mean over vertices, with semi-axis ``0.4 · sqrt(ratio · mean ellipse area / π)`` (ratio = the
   vertex's area over the mean; the mean ellipse area counts dropped triangles as 0), then the same
   ``scale``.
   Ours adds a round Gaussian on every edge point, at the outermost pixel centres, with semi-axis
   half its mean distance to its two neighbours along the edge, then the same ``scale``: every
   other Gaussian is centred inside, so the sum along the edges had half the coverage and the
   200-step fits kept a dark band there (:func:`edge_points`).
5. Colour = the *unblurred* image sampled bilinearly at the Gaussian centre (our pixel-centre
   convention; the original samples with ``align_corners=True``, off by up to half a pixel).

The split is vectorised: integral images of x and x² give every region's per-channel std in O(1),
and the tree is processed one level at a time with NumPy, so a 768 × 512 image splits in about
0.1 s on 2 CPU cores (Delaunay, ~0.35 s, then dominates the init). Leaves are
``(x0, y0, x1, y1)`` in pixels of the padded square.
"""

from __future__ import annotations

import time
from typing import Any, Literal

import jax
import jax.numpy as jnp
import numpy as np
from scipy import ndimage
from scipy.spatial import cKDTree

from igi_jax.buckets import bucket
from igi_jax.errors import InputError
from igi_jax.gaussians import Gaussians, Kind, from_pixels
from igi_jax.geometry.ellipse import MAX_AXIS_RATIO, ellipse_cov, ellipse_filter, triangle_ellipses
from igi_jax.geometry.triangulate import triangulate
from igi_jax.sampling import bilinear

# thr(size) = _THR_A − _THR_B · size (official "dynamic threshold": 0.02 at 4 px, 0.001 at 100 px).
_THR_A = 0.0207916
_THR_B = 0.0001979
MIN_SIZE = 4  # a region whose shorter side is ≤ this is a leaf
SCALE = 0.54  # std dev per semi-axis (= official 0.27 per full axis)
MIN_STD = 0.5  # GaussianImage's floor on initialised scales, px
CIRCLE_FACTOR = 0.4  # official radius factor of the extra round Gaussians (on the equal-area radius)
PadMode = Literal["zeros", "edge"]


def threshold(size: np.ndarray | float) -> np.ndarray:
    """The official std threshold for a region whose longer side is ``size`` pixels."""
    return _THR_A - _THR_B * np.asarray(size, np.float64)


def _check_image(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim == 2:
        image = image[..., None]
    if image.ndim != 3 or image.shape[0] < 1 or image.shape[1] < 1 or image.shape[2] < 1:
        raise ValueError(f"image must be [H, W, C] (or [H, W]) with H, W, C ≥ 1, got {image.shape}")
    image = image.astype(np.float64)
    if not np.isfinite(image).all():
        raise ValueError("image contains NaN or inf")
    return image


def prepare_image(
    image: np.ndarray, *, blur_sigma: float = 1.0, quantize: bool = True, pad_mode: PadMode = "zeros"
) -> np.ndarray:
    """Blur ``[H, W, C]`` in [0, 1] and pad it to ``[S, S, C]``, ``S = max(H, W)`` (float64).

    ``quantize`` rounds the blur to 8 bit as PIL does in the original; ``pad_mode="zeros"`` is the
    original's (PIL crops past the border with black, which refines regions along the
    bottom/right edges); ``"edge"`` replicates the last row/column instead.
    """
    image = _check_image(image)
    if pad_mode not in ("zeros", "edge"):
        raise ValueError(f"unknown {pad_mode=}; expected 'zeros' or 'edge'")
    blurred = image
    if blur_sigma > 0:
        blurred = ndimage.gaussian_filter(image, sigma=(blur_sigma, blur_sigma, 0), mode="nearest")
    if quantize:
        blurred = np.round(np.clip(blurred, 0.0, 1.0) * 255.0) / 255.0
    h, w, _ = blurred.shape
    s = max(h, w)
    pad = ((0, s - h), (0, s - w), (0, 0))
    return np.pad(blurred, pad, mode="constant") if pad_mode == "zeros" else np.pad(blurred, pad, mode="edge")


class _BoxStats:
    """Per-channel std of axis-aligned boxes from integral images of x and x² (float64)."""

    def __init__(self, img: np.ndarray, detail: float = 1.0):
        self.detail = detail  # factor on the threshold: above 1 fewer leaves, below 1 more
        zero = ((1, 0), (1, 0), (0, 0))
        self.s1 = np.pad(img.cumsum(0).cumsum(1), zero)
        self.s2 = np.pad((img * img).cumsum(0).cumsum(1), zero)

    @staticmethod
    def _box(s: np.ndarray, x0, y0, x1, y1) -> np.ndarray:
        return s[y1, x1] - s[y0, x1] - s[y1, x0] + s[y0, x0]  # [K, C]

    def uniform(self, x, y, xs, ys) -> np.ndarray:
        """``[K]`` bool: max over channels of the box std < threshold(max(xs, ys))."""
        x1, y1 = x + xs, y + ys
        n = (xs * ys).astype(np.float64)[:, None]
        mean = self._box(self.s1, x, y, x1, y1) / n
        var = np.maximum(self._box(self.s2, x, y, x1, y1) / n - mean * mean, 0.0)
        return np.sqrt(var).max(axis=1) < self.detail * threshold(np.maximum(xs, ys))


def split_square(img: np.ndarray, *, min_size: int = MIN_SIZE, detail: float = 1.0) -> np.ndarray:
    """Quad-tree split of a prepared square image ``[S, S, C]``, one tree level at a time.

    ``detail`` scales the threshold (1: the official one); the rate control of
    :mod:`igi_jax.init.quadtree_count` searches it for a Gaussian count.

    Returns:
      ``[L, 4]`` int64 leaves ``(x0, y0, x1, y1)`` tiling ``[0, S)²`` exactly.
    """
    stats = _BoxStats(img, detail)
    s = img.shape[0]
    nodes = np.array([[0, 0, s, s]], np.int64)  # (x, y, xs, ys)
    leaves = []
    while len(nodes):
        x, y, xs, ys = nodes.T
        leaf = (np.minimum(xs, ys) <= min_size) | stats.uniform(x, y, xs, ys)
        leaves.append(nodes[leaf])
        x, y, xs, ys = nodes[~leaf].T
        xh, yh = xs // 2, ys // 2
        halves = {  # left, right, top, bottom
            "l": (x, y, xh, ys),
            "r": (x + xh, y, xs - xh, ys),
            "t": (x, y, xs, yh),
            "b": (x, y + yh, xs, ys - yh),
        }
        u_l, u_r = stats.uniform(*halves["l"]), stats.uniform(*halves["r"])
        neither = ~u_l & ~u_r  # the original tries top/bottom only when no vertical half was taken
        u_t = neither & stats.uniform(*halves["t"])
        u_b = neither & stats.uniform(*halves["b"])
        for key, ok in (("l", u_l), ("r", u_r), ("t", u_t), ("b", u_b)):
            leaves.append(np.stack(halves[key], axis=1)[ok])
        quads = [
            ((x, y, xh, yh), u_l | u_t),
            ((x + xh, y, xs - xh, yh), u_r | u_t),
            ((x, y + yh, xh, ys - yh), u_l | u_b),
            ((x + xh, y + yh, xs - xh, ys - yh), u_r | u_b),
        ]
        nodes = np.concatenate([np.stack(q, axis=1)[~covered] for q, covered in quads], axis=0)
    out = np.concatenate(leaves, axis=0)
    return np.concatenate([out[:, :2], out[:, :2] + out[:, 2:]], axis=1)


def quadtree_leaves(
    image: np.ndarray,
    *,
    blur_sigma: float = 1.0,
    quantize: bool = True,
    pad_mode: PadMode = "zeros",
    min_size: int = MIN_SIZE,
) -> np.ndarray:
    """Leaves of the official quad-tree for ``image [H, W, C]`` in [0, 1].

    Returns:
      ``[L, 4]`` int64 ``(x0, y0, x1, y1)`` in pixels of the padded ``max(H, W)`` square; they tile
      it exactly. Leaves lying in the padding are included.
    """
    return split_square(
        prepare_image(image, blur_sigma=blur_sigma, quantize=quantize, pad_mode=pad_mode), min_size=min_size
    )


def leaf_points(leaves: np.ndarray, height: int, width: int) -> np.ndarray:
    """Leaf centres ``[P, 2]`` (x, y) pixels, keeping those inside the image (as the original, < W, H)."""
    centre = 0.5 * (leaves[:, :2] + leaves[:, 2:]).astype(np.float64)
    return centre[(centre[:, 0] < width) & (centre[:, 1] < height)]


def edge_points(leaves: np.ndarray, height: int, width: int) -> np.ndarray:
    """The 4 image corners and the centre of every leaf touching an image edge, projected onto it.

    With the corners alone, the triangles along an edge run from corner to corner through leaf
    centres up to half a leaf inside; thinner than the axis-ratio cut, they are dropped, and the
    render was black along the edges (top row error 208/255 at step 0 on a 1024×426 photo, 49/255
    after 200 steps). One edge point per border leaf follows the leaves' density, as the net's
    :func:`~igi_jax.geometry.triangulate.border_points` follow the dithered points'. With them alone
    the first row's error after 200 steps was still 2–3× the interior's (the ellipses are centred
    inside): :func:`quadtree_geometry` puts a round Gaussian on each one too. Mean error (/255) of
    the 2 outermost rows / columns against the interior's after ``igi fit --steps 200``::

        photo (sunhays80)          top   bottom  left  right  interior   PSNR (dB)  Gaussians
        coast  1024×426, before   45.2   15.2   13.5   29.2    4.8        29.73     33,167
                         points   12.4    6.0    4.6    9.7    4.4        32.39     33,999
                         + edge G  6.4    3.6    3.0    6.0    4.4        32.80     34,455
        hayfield 1024×620, before 33.8   13.5   14.5   15.8    3.7        32.67     40,782
                         points    8.9    3.8    3.8    4.6    3.5        34.59     41,956
                         + edge G  4.8    2.9    2.6    3.0    3.5        34.79     42,563

    Args:
      leaves: ``[L, 4]`` ``(x0, y0, x1, y1)`` of :func:`split_square` (padded-square pixels).
      height, width: the image size, pixels.

    Returns:
      ``[B, 2]`` float64 unique points on the image rectangle, corners included.
    """
    leaves = leaves.astype(np.float64)
    x0, y0, x1, y1 = leaves.T
    cx = np.clip(0.5 * (x0 + x1), 0.0, width)
    cy = np.clip(0.5 * (y0 + y1), 0.0, height)
    overlaps = (x0 < width) & (y0 < height)
    # A leaf reaching into the padding touches the bottom / right edge.
    sides = [
        (overlaps & (y0 == 0), cx, np.zeros_like(cy)),
        (overlaps & (y1 >= height), cx, np.full_like(cy, height)),
        (overlaps & (x0 == 0), np.zeros_like(cx), cy),
        (overlaps & (x1 >= width), np.full_like(cx, width), cy),
    ]
    corners = np.array([[0, 0], [width, 0], [0, height], [width, height]], np.float64)
    on_edges = [np.stack([x[m], y[m]], axis=1) for m, x, y in sides]
    return np.unique(np.concatenate([corners, *on_edges], axis=0), axis=0)


def sample_bilinear(image: np.ndarray, xy: np.ndarray) -> np.ndarray:
    """Host adapter of :func:`igi_jax.sampling.bilinear` (the one sampler): NumPy in, NumPy out.

    Args:
      image: ``[H, W, C]`` float; pixel (i, j) has its value at (j + 0.5, i + 0.5).
      xy: ``[N, 2]`` positions in pixels; outside the centres the border is replicated.

    Returns:
      ``[N, C]`` float64 (computed in float32).
    """
    n = len(xy)  # padded to a size bucket: the init's count search samples many different counts
    padded = np.zeros((bucket(n), 2), np.float32)
    padded[:n] = xy
    out = bilinear(jnp.asarray(image, jnp.float32), jnp.asarray(padded))
    return np.asarray(out, np.float64)[:n]


def quadtree_geometry(
    image: np.ndarray,
    *,
    scale: float = SCALE,
    min_std: float = MIN_STD,
    extra_circles: bool = True,
    max_ratio: float = MAX_AXIS_RATIO,
    blur_sigma: float = 1.0,
    quantize: bool = True,
    pad_mode: PadMode = "zeros",
    detail: float = 1.0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
    """The quad-tree init on the host, NumPy only (see the module docstring for the recipe).

    Args:
      image: ``[H, W, C]`` float in [0, 1].
      scale: std dev per ellipse semi-axis (official 0.54; DESIGN's CG prototype used 1.0).
      min_std: floor on the std devs, pixels (0 disables).
      extra_circles: add the official round Gaussians at vertices with a large incident area.
      max_ratio: drop ellipses with major/minor above this.
      blur_sigma, quantize, pad_mode: see :func:`prepare_image`.
      detail: factor on the split threshold (see :func:`split_square`).

    Returns:
      ``means [N, 2]`` pixels, ``cov [N, 3]`` pixels², ``colors [N, C]`` (all float64) and an info
      dict: counts (``leaves``, ``points``, ``triangles``, ``dropped_outside``, ``dropped_ratio``,
      ``ellipses``, ``circles``, ``edge_gaussians``, ``gaussians``) and timings in seconds
      (``t_prepare``, ``t_split``, ``t_triangulate``, ``t_ellipse``, ``t_color``).

    Raises:
      ValueError: bad image array.
      InputError: no ellipse survives (e.g. a 1-pixel-thin image): the image does not suit the init.
    """
    t0 = time.perf_counter()
    image = _check_image(image)
    height, width, _ = image.shape
    prepared = prepare_image(image, blur_sigma=blur_sigma, quantize=quantize, pad_mode=pad_mode)
    t1 = time.perf_counter()
    leaves = split_square(prepared, detail=detail)
    t2 = time.perf_counter()

    points = leaf_points(leaves, height, width)
    edges = edge_points(leaves, height, width)
    vertices = np.concatenate([points, edges], axis=0)
    tri = triangulate(vertices)  # the corners make the hull the image rectangle: never collinear
    t3 = time.perf_counter()

    centre, semi, angle = triangle_ellipses(vertices[tri.triangles])
    inside = ellipse_filter(centre, semi, height, width, max_ratio=np.inf)
    keep = inside & ellipse_filter(centre, semi, height, width, max_ratio=max_ratio)
    if not keep.any():
        raise InputError(
            f"quad-tree init kept no ellipse for a {height}x{width} image "
            f"({len(tri.triangles)} triangles, all thinner than {max_ratio=}); "
            "the image is too thin for this init"
        )
    means, semis, angles = centre[keep], semi[keep], angle[keep]
    n_circles = 0
    if extra_circles:
        # Areas up to the factor π, which cancels in the ratios below.
        area = np.where(keep, semi[:, 0] * semi[:, 1], 0.0)
        vertex_area = np.bincount(tri.triangles.ravel(), weights=np.repeat(area, 3), minlength=len(vertices))
        mean_vertex = vertex_area.mean()
        add = vertex_area > 2.0 * mean_vertex
        n_circles = int(add.sum())
        radius = CIRCLE_FACTOR * np.sqrt(vertex_area[add] / mean_vertex * area.mean())
        means = np.concatenate([means, vertices[add]], axis=0)
        semis = np.concatenate([semis, np.stack([radius, radius], axis=1)], axis=0)
        angles = np.concatenate([angles, np.zeros(n_circles)], axis=0)
    n_edge = len(edges)
    spacing = cKDTree(edges).query(edges, k=3)[0][:, 1:].mean(axis=1)  # the two neighbours
    edge_centre = np.clip(edges, 0.5, [width - 0.5, height - 0.5])  # outermost pixel centres
    means = np.concatenate([means, edge_centre], axis=0)
    semis = np.concatenate([semis, np.repeat(0.5 * spacing[:, None], 2, axis=1)], axis=0)
    angles = np.concatenate([angles, np.zeros(n_edge)], axis=0)
    cov = ellipse_cov(np.maximum(scale * semis, min_std), angles)
    t4 = time.perf_counter()

    colors = sample_bilinear(image, means)
    t5 = time.perf_counter()
    info = {
        "leaves": len(leaves),
        "points": len(points),
        "triangles": len(tri.triangles),
        "dropped_outside": int((~inside).sum()),
        "dropped_ratio": int((inside & ~keep).sum()),
        "ellipses": int(keep.sum()),
        "circles": n_circles,
        "edge_gaussians": n_edge,
        "gaussians": len(means),
        "t_prepare": t1 - t0,
        "t_split": t2 - t1,
        "t_triangulate": t3 - t2,
        "t_ellipse": t4 - t3,
        "t_color": t5 - t4,
    }
    return means, cov, colors, info


def quadtree_init(
    image: np.ndarray,
    *,
    scale: float = SCALE,
    kind: Kind = "rs",
    capacity: int | None = None,
    num_gaussians: int | None = None,
    **kwargs: Any,
) -> tuple[Gaussians, dict[str, Any]]:
    """Quad-tree init of a padded Gaussian set for ``image [H, W, 3]`` in [0, 1].

    Args:
      image: ``[H, W, 3]`` float in [0, 1].
      scale: std dev per ellipse semi-axis (official 0.54).
      kind: covariance parameterization of the returned set.
      capacity: padded size; defaults to ``bucket(N)``.
      num_gaussians: exactly this many Gaussians (:func:`igi_jax.init.quadtree_count.geometry_for_count`);
        ``None``: the official threshold's own count.
      **kwargs: the other options of :func:`quadtree_geometry`.

    Returns:
      The set and the info dict of :func:`quadtree_geometry` plus ``t_build`` and ``t_total`` (s).
    """
    t0 = time.perf_counter()
    if num_gaussians is None:
        means, cov, colors, info = quadtree_geometry(image, scale=scale, **kwargs)
    else:
        from igi_jax.init.quadtree_count import geometry_for_count

        means, cov, colors, info = geometry_for_count(image, num_gaussians, scale=scale, **kwargs)
    t1 = time.perf_counter()
    height, width = np.shape(image)[:2]
    g = from_pixels(means, cov, colors, height, width, kind=kind, capacity=capacity)
    jax.block_until_ready(g)
    t2 = time.perf_counter()
    info.update(t_build=t2 - t1, t_total=t2 - t0)
    return g, info
