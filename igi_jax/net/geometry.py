"""The non-differentiable stage between the network's PPM and its fields: PPM → triangles.

``host_geometry(ppm [B, H, W], k)`` runs, per image: the landed dithering (jitted,
:func:`dither_batch`) → points + border points → ``scipy.spatial.Delaunay`` on the host → the
closed-form triangle ellipses → padding to one triangle count ``T`` shared by the batch (a size
bucket, so a training run compiles a handful of shapes). The result, :class:`Geometry`, is a
pytree that the jitted loss and the inference path take as input.

Why a host stage between two jitted stages (and not ``jax.pure_callback`` inside one step): the
render needs a static list capacity, which is only known once the triangles are (see
:func:`render_capacity_bound`); with a callback both the triangle count and the list capacity would
have to be worst-case static bounds (every cell set, every Gaussian at the largest scale), far
larger than what a real PPM gives. The price is one extra forward pass of the network per
training step to obtain the PPM (the loss recomputes it with gradients); see ``bench/net_init.py``
for the measured host cost.

The train step splits it in two: :func:`dither_batch` runs inside its jitted predict stage and only
the points come to the host, where :func:`geometry_from_points` triangulates them without a
device call, so the host work overlaps the update that is running on the devices.

Images of a batch are triangulated in a thread pool: Qhull runs with the GIL released, so the
Delaunay of several images overlaps.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import math
import os
import time
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from igi_jax import backend as backend_lib
from igi_jax.buckets import bucket
from igi_jax.covariance import SIGMA_MAX
from igi_jax.geometry import ellipse as ellipse_lib
from igi_jax.geometry import triangulate as tri_lib
from igi_jax.geometry.dither import dither
from igi_jax.render import api as render_api
from pallas_kernels.dither_reference import points_from_mask

# The Σ field's scale activation is bounded by this factor of the ellipse semi-axes.
MAX_SCALE_FACTOR = 3.0
KERNEL_SIZES = (3, 4, 5)


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class Geometry:
    """Padded triangles of a batch of images (leading axis ``B``, ``T`` triangles per image).

    Attributes:
      vertices: ``[B, T, 3, 2]`` float32 triangle vertices, pixels (x right, y down).
      neighbors: ``[B, T, 3]`` int32 index of the triangle across each edge (own index on the hull
        and for padding).
      centre: ``[B, T, 2]`` float32 ellipse centre (= centroid), pixels.
      semi_axes: ``[B, T, 2]`` float32 ellipse semi-axes (major, minor), pixels.
      angle: ``[B, T]`` float32 major-axis angle, radians in [0, π).
      mask: ``[B, T]`` bool, real triangles (padding is a small valid dummy triangle).
      render_capacity: static render list length that any Gaussian the fields can produce fits in
        (see :func:`render_capacity_bound`), for the resolved ``backend``.
      backend: static resolved render backend the capacity was sized for.
    """

    vertices: jax.Array
    neighbors: jax.Array
    centre: jax.Array
    semi_axes: jax.Array
    angle: jax.Array
    mask: jax.Array
    render_capacity: int = dataclasses.field(default=1024, metadata=dict(static=True))
    backend: str = dataclasses.field(default="reference", metadata=dict(static=True))

    @property
    def capacity(self) -> int:
        """Padded triangle count ``T``."""
        return self.mask.shape[-1]

    def image(self, b: int) -> Geometry:
        """The ``b``-th image's geometry, keeping a batch axis of 1."""
        return jax.tree.map(lambda x: x[b : b + 1], self)

    def num_triangles(self) -> np.ndarray:
        """``[B]`` real triangle counts (host)."""
        return np.asarray(self.mask).sum(axis=-1)


def _dither_backend(backend: str) -> str:
    """The dithering backend for a render backend name (the native CPU kernel renders only)."""
    return backend_lib.resolve_backend("reference" if backend == "cpu-native" else backend, kernel="dither")


def render_capacity_bound(
    vertices: np.ndarray, semi_major: np.ndarray, height: int, width: int, *, cell: int
) -> int:
    """Render list entries that suffice for any Gaussian the fields can put on these triangles.

    A Gaussian's mean lies in its triangle (a convex combination of the vertices) and its std devs
    are at most ``MAX_SCALE_FACTOR × semi_major``, so its binning box lies inside the triangle's
    bounding box grown by the largest reach either binning rule can give (the 3σ tile radius with
    GaussianImage's ``λ`` and the α-cut reach ``sqrt(2 SIGMA_MAX) σ``). The bound is the sum over
    triangles of the cells that grown box covers. Exact upper bound, not an estimate.

    Args:
      vertices: ``[M, 3, 2]`` pixels; semi_major: ``[M]`` pixels.
      height, width: image size; cell: list cell size of the backend (8 reference, 16 Pallas).
    """
    s = MAX_SCALE_FACTOR * semi_major.astype(np.float64)
    tile_r = np.ceil(3.0 * np.sqrt(s * s + math.sqrt(0.1))) + 1.0
    alpha_r = np.sqrt(2.0 * SIGMA_MAX) * s * 1.001 + 1.0
    r = np.maximum(tile_r, alpha_r)
    lo, hi = vertices.min(axis=1) - r[:, None], vertices.max(axis=1) + r[:, None]
    size = np.asarray([width, height], np.float64)
    n_cells = np.ceil(size / cell)
    c0 = np.clip(np.floor(lo / cell), 0, n_cells - 1)
    c1 = np.clip(np.floor(hi / cell), 0, n_cells - 1)
    return int(np.prod(c1 - c0 + 1, axis=1).sum())


@dataclasses.dataclass
class _Tri:
    vertices: np.ndarray  # [M, 3, 2]
    neighbors: np.ndarray  # [M, 3]
    centre: np.ndarray  # [M, 2]
    semi_axes: np.ndarray  # [M, 2]
    angle: np.ndarray  # [M]
    num_points: int
    seconds: float


def triangles_from_points(points: np.ndarray, height: int, width: int) -> _Tri:
    """Points ``[P, 2]`` (pixels) → border points → Delaunay → ellipses, all on the host."""
    t0 = time.perf_counter()
    points = np.asarray(points, np.float64).reshape(-1, 2)
    corners = np.asarray([[0, 0], [width, 0], [0, height], [width, height]], np.float64)
    # Border spacing needs 2 distinct points; an (almost) empty PPM falls back to the corners.
    spacing = points if len(np.unique(points, axis=0)) >= 2 else corners
    everything = np.concatenate([points, tri_lib.border_points(spacing, height, width)], axis=0)
    tri = tri_lib.triangulate(everything)
    verts = tri.vertices[tri.triangles]  # [M, 3, 2]
    centre, semi, angle = ellipse_lib.triangle_ellipses(verts)
    return _Tri(verts, tri.neighbors, centre, semi, angle, len(everything), time.perf_counter() - t0)


def dither_batch(
    ppm: jax.Array, k: int, *, sizes: jax.Array | None = None, backend: str = "auto"
) -> tuple[jax.Array, jax.Array]:
    """Dither every PPM of a batch on the device (jittable; the train step's predict stage runs it).

    Args:
      ppm: ``[B, H, W]`` float32 in (0, 1).
      k: dithering cell size.
      sizes: ``[B, 2]`` int32 ``(h, w)`` of the image at the top left of each ``H × W`` crop, the
        rest padding (``DataConfig.edge_jitter``): the padding's PPM is zeroed, and only the cells
        that overlap the image give points, a cut last cell's on the image's last pixel centre, as
        dithering the ``h × w`` image alone gives.
      backend: dithering backend (resolved here, so it is static under ``jit``).

    Returns:
      ``points [B, P, 2]`` float32 pixels (−1 padded, ``P = ceil(H/k)·ceil(W/k)``) and
      ``counts [B]`` int32, the real points of each image.
    """
    backend = _dither_backend(backend)
    if sizes is None:
        _, points, counts = jax.vmap(lambda p: dither(p, k, backend=backend))(ppm)
        return points, counts
    _, h, w = ppm.shape
    inside = (jnp.arange(h)[None, :, None] < sizes[:, 0, None, None]) & (
        jnp.arange(w)[None, None, :] < sizes[:, 1, None, None]
    )
    masks, _, _ = jax.vmap(lambda p: dither(p, k, backend=backend))(jnp.where(inside, ppm, 0.0))
    return jax.vmap(lambda m, s: points_from_mask(m, k, s[0], s[1]))(masks, sizes)


_dither_batch_jit = jax.jit(dither_batch, static_argnums=1, static_argnames="backend")


_DUMMY = np.asarray([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]])


def pad_batch(tris: list[_Tri], capacity: int | None, render_capacity: int, backend: str) -> Geometry:
    """Pad a list of per-image triangulations to one ``T`` (default: the bucket of the largest)."""
    m_max = max(len(t.vertices) for t in tris)
    t_cap = bucket(m_max) if capacity is None else int(capacity)
    if t_cap < m_max:
        raise ValueError(f"{m_max=} triangles exceed {capacity=}")
    b = len(tris)
    verts = np.tile(_DUMMY, (b, t_cap, 1, 1))
    nbrs = np.tile(np.arange(t_cap, dtype=np.int32)[None, :, None], (b, 1, 3))
    centre = np.tile(_DUMMY.mean(0), (b, t_cap, 1))
    semi = np.ones((b, t_cap, 2))
    angle = np.zeros((b, t_cap))
    mask = np.zeros((b, t_cap), bool)
    for i, t in enumerate(tris):
        m = len(t.vertices)
        verts[i, :m], nbrs[i, :m], centre[i, :m] = t.vertices, t.neighbors, t.centre
        semi[i, :m], angle[i, :m], mask[i, :m] = t.semi_axes, t.angle, True
    f32 = np.float32
    return Geometry(
        vertices=jnp.asarray(verts, f32),
        neighbors=jnp.asarray(nbrs, jnp.int32),
        centre=jnp.asarray(centre, f32),
        semi_axes=jnp.asarray(semi, f32),
        angle=jnp.asarray(angle, f32),
        mask=jnp.asarray(mask),
        render_capacity=render_capacity,
        backend=backend,
    )


def _check_k(k: int) -> None:
    if k not in KERNEL_SIZES:
        raise ValueError(f"kernel size k={k!r} must be one of {KERNEL_SIZES}")


def geometry_from_points(
    points: np.ndarray | jax.Array,
    counts: np.ndarray | jax.Array,
    height: int,
    width: int,
    *,
    capacity: int | None = None,
    backend: str = "auto",
    threads: int | None = None,
    min_render_capacity: int = 1024,
    sizes: np.ndarray | None = None,
) -> tuple[Geometry, dict[str, Any]]:
    """The host half of :func:`host_geometry`: dithered points → padded triangles (no device call).

    Args:
      points: ``[B, P, 2]`` pixels, as :func:`dither_batch` gives (only the first ``counts[b]``
        rows of image ``b`` are read).
      counts: ``[B]`` real points per image.
      height, width: image size in pixels.
      capacity, backend, threads, min_render_capacity: as :func:`host_geometry`.
      sizes: ``[B, 2]`` ``(h, w)`` of the image inside each ``height × width`` crop (the rest is
        padding, ``DataConfig.edge_jitter``; its points as ``dither_batch(..., sizes=)`` gives
        them): each image's border points lie on its own edges.

    Returns:
      The geometry and ``{"t_delaunay", "t_pad", "points" [B], "triangles" [B]}`` (seconds).
    """
    points, counts = np.asarray(points), np.asarray(counts)
    if points.ndim != 3 or points.shape[-1] != 2 or counts.shape != points.shape[:1]:
        raise ValueError(f"points must be [B, P, 2] with counts [B], got {points.shape} and {counts.shape}")
    backend = render_api.resolve_backend(backend)
    per_image = [p[: int(c)] for p, c in zip(points, counts, strict=True)]
    b = len(per_image)
    hw = [(height, width)] * b
    if sizes is not None:
        hw = [(int(h), int(w)) for h, w in np.asarray(sizes).reshape(b, 2)]
    t1 = time.perf_counter()
    workers = min(b, os.cpu_count() or 1) if threads is None else max(1, threads)
    if workers > 1:
        with concurrent.futures.ThreadPoolExecutor(workers) as pool:
            jobs = zip(per_image, hw, strict=True)
            tris = list(pool.map(lambda a: triangles_from_points(a[0], *a[1]), jobs))
    else:
        tris = [triangles_from_points(p, *s) for p, s in zip(per_image, hw, strict=True)]
    t2 = time.perf_counter()
    cell = render_api.list_cell(backend)
    need = max(render_capacity_bound(t.vertices, t.semi_axes[:, 0], height, width, cell=cell) for t in tris)
    geom = pad_batch(tris, capacity, max(bucket(need, minimum=1024), int(min_render_capacity)), backend)
    t3 = time.perf_counter()
    info = {
        "t_delaunay": t2 - t1,
        "t_pad": t3 - t2,
        "points": [t.num_points for t in tris],
        "triangles": [len(t.vertices) for t in tris],
    }
    return geom, info


def host_geometry_with_info(
    ppm: np.ndarray | jax.Array,
    k: int,
    *,
    capacity: int | None = None,
    backend: str = "auto",
    threads: int | None = None,
    min_render_capacity: int = 1024,
) -> tuple[Geometry, dict[str, Any]]:
    """:func:`host_geometry`, plus per-stage wall times and counts.

    Returns:
      The geometry and ``{"t_dither", "t_delaunay", "t_pad", "points" [B], "triangles" [B]}``
      (seconds; ``t_delaunay`` is the wall time of the whole host triangulation stage, border
      points and ellipses included).
    """
    _check_k(k)
    ppm = np.asarray(ppm, np.float32)
    if ppm.ndim != 3 or min(ppm.shape) < 1:
        raise ValueError(f"ppm must be [B, H, W], got shape {ppm.shape}")
    if not np.isfinite(ppm).all():
        raise ValueError("ppm contains NaN or inf")
    t0 = time.perf_counter()
    points, counts = jax.device_get(_dither_batch_jit(jnp.asarray(ppm), k, backend=_dither_backend(backend)))
    t1 = time.perf_counter()
    geom, info = geometry_from_points(
        points,
        counts,
        ppm.shape[1],
        ppm.shape[2],
        capacity=capacity,
        backend=backend,
        threads=threads,
        min_render_capacity=min_render_capacity,
    )
    return geom, {"t_dither": t1 - t0, **info}


def host_geometry(
    ppm: np.ndarray | jax.Array,
    k: int,
    *,
    capacity: int | None = None,
    backend: str = "auto",
    threads: int | None = None,
    min_render_capacity: int = 1024,
) -> Geometry:
    """PPMs → padded triangles for the fields (host stage, not differentiable).

    Args:
      ppm: ``[B, H, W]`` position probability maps in (0, 1).
      k: dithering cell size, one of 3 (training), 4, 5 (fewer Gaussians).
      capacity: padded triangle count ``T``; default the size bucket of the batch's largest count.
      backend: render backend the list capacity is sized for (and the dithering backend).
      threads: Delaunay worker threads (default one per image, at most the CPU count).
      min_render_capacity: floor of the render list capacity. The capacity is the size bucket of
        an exact bound (:func:`render_capacity_bound`); a training loop that passes the largest
        value it has seen (and a fixed ``capacity``) stops recompiling once both settle.

    Returns:
      A :class:`Geometry` with leading axis ``B``.
    """
    return host_geometry_with_info(
        ppm, k, capacity=capacity, backend=backend, threads=threads, min_render_capacity=min_render_capacity
    )[0]
