"""The paper's Table 3 ablations of the net init, built from the network's stages.

* ``grad-dither``: dither the image-gradient map (:func:`gradient_ppm`, scaled so that it dithers to
  the net's point count, :func:`match_count`) instead of the predicted PPM; the net's fields still
  make the Gaussians.
* ``ellipse``: the net's PPM and triangles, but no fields: each triangle's fitted ellipse becomes a
  Gaussian as in the quad-tree init (centroid, std = 0.54 × semi-axes, image colour at the centre).

The ``net`` init itself is :func:`igi_jax.net.gaussians_for_image`; these two swap one of its stages,
which that function does not expose, so they call the stages (:mod:`igi_jax.net.inference`) here.
:func:`ppm_and_points` recomputes the net's PPM and triangle vertices for plots (untimed).
"""

from __future__ import annotations

import math
import time
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx
from scipy import ndimage

from igi_jax.data.pseudo_ppm import normalise
from igi_jax.gaussians import Gaussians, from_pixels
from igi_jax.geometry.dither import dither
from igi_jax.geometry.ellipse import ellipse_cov
from igi_jax.init.quadtree import MIN_STD, SCALE, sample_bilinear
from igi_jax.net.geometry import Geometry, host_geometry_with_info
from igi_jax.net.inference import fields_stage, predict_stage
from igi_jax.net.model import InstantGINet


def gradient_ppm(image: np.ndarray) -> np.ndarray:
    """Image-gradient map as a PPM: ``[H, W, 3]`` image → ``[H, W]`` float32 in [0, 1].

    Sobel gradient magnitude of the luminance (blurred with σ = 1 px), normalised robustly as the
    pseudo-PPM labels are (mean ± 3 std). :func:`match_count` then scales it to the net's point count.
    """
    lum = ndimage.gaussian_filter(np.asarray(image, np.float64) @ [0.299, 0.587, 0.114], 1.0)
    mag = np.hypot(ndimage.sobel(lum, axis=0), ndimage.sobel(lum, axis=1))
    return normalise(mag).astype(np.float32)


def match_count(ppm: np.ndarray, count: int, k: int, backend: str = "auto", iters: int = 24) -> np.ndarray:
    """``clip(s · ppm, 0, 1)`` whose dithered point count is closest to ``count`` (bisection on log s).

    Scaling to the same mean is not enough: max-pooling favours a spiky map (a gradient map gives
    ~1/3 more points than the net's PPM of equal mean), and an ablation at another count compares
    counts, not maps. The count grows with s up to Floyd–Steinberg's rounding.

    Args:
      ppm: ``[H, W]`` float in [0, 1], not all zero.
      count: the point count wanted.
      k: dithering cell size.
    """

    def points(scale: float) -> int:
        scaled = np.clip(ppm * scale, 0.0, 1.0).astype(np.float32)
        return int(dither(jnp.asarray(scaled), k, backend=backend)[2])

    lo, hi = -8.0, 8.0  # log2 s; the first probe is s = 1
    best = (math.inf, 0.0)
    for _ in range(iters):
        mid = 0.5 * (lo + hi)
        n = points(2.0**mid)
        best = min(best, (abs(n - count), mid))
        if n == count:
            break
        lo, hi = (mid, hi) if n < count else (lo, mid)
    return np.clip(ppm * 2.0 ** best[1], 0.0, 1.0).astype(np.float32)


def _vertices(geom: Geometry) -> np.ndarray:
    """``[P, 2]`` pixels: every vertex of a real triangle (the dithered and the border points)."""
    return np.unique(np.asarray(geom.vertices[0])[np.asarray(geom.mask[0])].reshape(-1, 2), axis=0)


def ppm_and_points(
    model: InstantGINet, image: np.ndarray, k: int, backend: str = "auto"
) -> tuple[np.ndarray, np.ndarray]:
    """The net's PPM ``[H, W]`` and its triangles' vertices ``[P, 2]`` (pixels), for plots."""
    graphdef, state = nnx.split(model)
    _, ppm = predict_stage(graphdef, state, jnp.asarray(image, jnp.float32)[None])
    ppm = np.asarray(ppm)
    geom, _ = host_geometry_with_info(ppm, k, backend=backend, threads=1)
    return ppm[0], _vertices(geom)


def ablation_init(
    name: str,
    model: InstantGINet,
    image: np.ndarray,
    k: int,
    backend: str = "auto",
    *,
    ppm: np.ndarray | None = None,
) -> tuple[Gaussians, dict[str, Any], np.ndarray, np.ndarray]:
    """One run of an ablation (``name``: ``grad-dither`` or ``ellipse``, the registry's
    :data:`igi_jax.init.choices.ABLATIONS`), timed per stage. ``ppm`` (``grad-dither`` only,
    ``[H, W]``): the map dithered instead of the image-gradient one (e.g. a training label,
    ``bench/label_length.py``), scaled to the net's point count likewise.

    Returns:
      The RS Gaussians (padded, masked), an info dict (stage seconds, ``seconds`` their sum,
      ``gaussians``, ``points``, ``k``, ``ppm_mean``), the PPM that was dithered ``[H, W]`` and the
      triangle vertices ``[P, 2]`` (pixels).
    """
    if name not in ("grad-dither", "ellipse"):  # not imported from the registry: no cycle
        raise ValueError(f"unknown ablation {name!r}; expected 'grad-dither' or 'ellipse'")
    if ppm is not None and name != "grad-dither":
        raise ValueError(f"ppm= replaces the map of 'grad-dither', not of {name!r}")
    other = ppm
    height, width = image.shape[:2]
    graphdef, state = nnx.split(model)
    x = jnp.asarray(image, jnp.float32)
    t0 = time.perf_counter()
    features, ppm = jax.block_until_ready(predict_stage(graphdef, state, x[None]))
    ppm = np.asarray(ppm)
    if name == "grad-dither":  # the search for the net's count is timed as part of this init
        net_points = int(dither(jnp.asarray(ppm[0]), k, backend=backend)[2])
        ppm = match_count(gradient_ppm(image) if other is None else other, net_points, k, backend)[None]
    t1 = time.perf_counter()
    geom, ginfo = host_geometry_with_info(ppm, k, backend=backend, threads=1)
    t2 = time.perf_counter()
    if name == "ellipse":
        live = np.asarray(geom.mask[0])
        centre = np.asarray(geom.centre[0])[live].astype(np.float64)
        semi = np.asarray(geom.semi_axes[0])[live].astype(np.float64)
        cov = ellipse_cov(np.maximum(SCALE * semi, MIN_STD), np.asarray(geom.angle[0])[live])
        colors = sample_bilinear(image, centre)
        g = from_pixels(centre, cov, colors, height, width, kind="rs", capacity=geom.capacity)
        jax.block_until_ready(g)
    else:
        args = (geom.vertices, geom.neighbors, geom.centre, geom.semi_axes, geom.angle)
        xy, shape, colors = jax.block_until_ready(
            fields_stage(graphdef, state, x, features[0], *(a[0] for a in args))
        )
        g = Gaussians(
            xy=xy, shape=shape, colors=colors, mask=geom.mask[0], kind="rs", height=height, width=width
        )
    t3 = time.perf_counter()
    info = {
        "t_network": t1 - t0,
        "t_dither": ginfo["t_dither"],
        "t_delaunay": ginfo["t_delaunay"],
        "t_pad": ginfo["t_pad"],
        "t_fields": t3 - t2,
        "seconds": t3 - t0,
        "gaussians": int(ginfo["triangles"][0]),
        "points": int(ginfo["points"][0]),
        "k": k,
        "ppm_mean": float(ppm.mean()),
    }
    return g, info, ppm[0], _vertices(geom)
