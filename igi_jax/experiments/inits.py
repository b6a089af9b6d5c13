"""The inits an experiment compares, including the paper's Table 3 ablations, timed warm.

An init *spec* is a base name with an optional ``+solve`` suffix (the least-squares colour solve,
:mod:`igi_jax.init.color_solve`, :data:`SOLVE_ITERS` CG iterations, timed as part of the init):

* ``net`` — the network: PPM → dithering (cell ``k``) → Delaunay → BC / Σ / opacity fields; its
  Gaussians as predicted (the paper's protocol; ``igi fit --init net`` narrows them 0.8× before
  fine-tuning, experiments do not).
* ``grad-dither`` — ablation: dither the image-gradient map (:func:`gradient_ppm`, scaled so that
  it dithers to the net's point count, :func:`match_count`) instead of the predicted PPM; the
  net's fields still make the Gaussians.
* ``ellipse`` — ablation: the net's PPM and triangles, but no fields: each triangle's fitted
  ellipse becomes a Gaussian as in the quad-tree init (centroid, std = 0.54 × semi-axes, image
  colour at the centre).
* ``quadtree`` — the official non-learned init (:mod:`igi_jax.init.quadtree`).
* ``random`` / ``random-gi`` — Instant-GI's / GaussianImage's random init, with a given count
  (the runner passes the net's count at the same ``k``, as the paper does).

``k`` applies to the net-based inits (``k = 4`` runs the network trained at 3 without
retraining); the others ignore it, except that random takes the net's count at that ``k``.

Every init is run twice and the second, warm run is timed: init time excludes compilation, as
the fit's clock does. The net's stages are called one by one (so the PPM and the dithered points
are available for plots); ``tests/experiments`` checks that the ``net`` init equals
:func:`igi_jax.net.gaussians_for_image` exactly.
"""

from __future__ import annotations

import dataclasses
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
from igi_jax.init import color_solve, initialize
from igi_jax.init.quadtree import MIN_STD, SCALE, sample_bilinear
from igi_jax.net.geometry import host_geometry_with_info
from igi_jax.net.inference import fields_stage, predict_stage
from igi_jax.net.model import InstantGINet

NET_INITS = ("net", "grad-dither", "ellipse")
OTHER_INITS = ("quadtree", "random", "random-gi")
BASES = NET_INITS + OTHER_INITS
SOLVE_ITERS = 8  # CG iterations of "+solve" (the quad-tree default, igi_jax.init.choices)


@dataclasses.dataclass(frozen=True)
class InitSpec:
    """A parsed init spec: ``base`` in :data:`BASES`, ``solve`` = colour solve after it."""

    base: str
    solve: bool

    @property
    def name(self) -> str:
        return self.base + ("+solve" if self.solve else "")

    @property
    def uses_net(self) -> bool:
        return self.base in NET_INITS

    @property
    def uses_k(self) -> bool:
        """Whether the result may depend on ``k`` (net-based inits; random through the net's count,
        when there is a net)."""
        return self.base in NET_INITS or self.base.startswith("random")


def parse_spec(text: str) -> InitSpec:
    """``"net+solve"`` → ``InitSpec("net", True)``; raises ``ValueError`` on an unknown name."""
    base, _, suffix = text.strip().partition("+")
    if base not in BASES or suffix not in ("", "solve"):
        raise ValueError(
            f"unknown init {text!r}; expected one of {', '.join(BASES)}, each optionally with '+solve'"
        )
    return InitSpec(base, suffix == "solve")


@dataclasses.dataclass
class InitOutcome:
    """An init's Gaussians, warm wall time (s), details, and for net inits the PPM and points.

    ``ppm`` is ``[H, W]`` float32 in [0, 1] (what was dithered), ``points`` ``[P, 2]`` pixels.
    """

    gaussians: Gaussians
    seconds: float
    info: dict[str, Any]
    ppm: np.ndarray | None = None
    points: np.ndarray | None = None


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


def _net_init(base: str, model: InstantGINet, image: np.ndarray, k: int, backend: str) -> InitOutcome:
    """One run of a net-based init (``base`` in :data:`NET_INITS`), timed per stage."""
    height, width = image.shape[:2]
    graphdef, state = nnx.split(model)
    x = jnp.asarray(image, jnp.float32)
    t0 = time.perf_counter()
    features, ppm = jax.block_until_ready(predict_stage(graphdef, state, x[None]))
    ppm = np.asarray(ppm)
    if base == "grad-dither":  # the search for the net's count is timed as part of this init
        net_points = int(dither(jnp.asarray(ppm[0]), k, backend=backend)[2])
        ppm = match_count(gradient_ppm(image), net_points, k, backend)[None]
    t1 = time.perf_counter()
    geom, ginfo = host_geometry_with_info(ppm, k, backend=backend, threads=1)
    t2 = time.perf_counter()
    if base == "ellipse":
        live = np.asarray(geom.mask[0])
        centre = np.asarray(geom.centre[0])[live].astype(np.float64)
        semi = np.asarray(geom.semi_axes[0])[live].astype(np.float64)
        cov = ellipse_cov(np.maximum(SCALE * semi, MIN_STD), np.asarray(geom.angle[0])[live])
        g = from_pixels(
            centre, cov, sample_bilinear(image, centre), height, width, kind="rs", capacity=geom.capacity
        )
        jax.block_until_ready(g)
    else:
        xy, shape, colors = jax.block_until_ready(
            fields_stage(
                graphdef,
                state,
                x,
                features[0],
                geom.vertices[0],
                geom.neighbors[0],
                geom.centre[0],
                geom.semi_axes[0],
                geom.angle[0],
            )
        )
        g = Gaussians(
            xy=xy, shape=shape, colors=colors, mask=geom.mask[0], kind="rs", height=height, width=width
        )
    t3 = time.perf_counter()
    # Every vertex of a real triangle (the dithered points and the border points).
    points = np.asarray(geom.vertices[0])[np.asarray(geom.mask[0])].reshape(-1, 2)
    info = {
        "t_network": t1 - t0,
        "t_dither": ginfo["t_dither"],
        "t_delaunay": ginfo["t_delaunay"],
        "t_pad": ginfo["t_pad"],
        "t_fields": t3 - t2,
        "gaussians": int(ginfo["triangles"][0]),
        "points": int(ginfo["points"][0]),
        "k": k,
        "ppm_mean": float(ppm.mean()),
    }
    return InitOutcome(g, t3 - t0, info, ppm=ppm[0], points=np.unique(points, axis=0))


def init_once(
    spec: InitSpec,
    image: np.ndarray,
    *,
    k: int,
    model: InstantGINet | None,
    num_gaussians: int | None,
    seed: int,
    backend: str,
) -> InitOutcome:
    """One (cold) run of an init; :func:`run_init` times a warm one. Arguments as there."""
    if spec.uses_net:
        if model is None:
            raise ValueError(f"init {spec.name!r} needs network weights (--weights)")
        out = _net_init(spec.base, model, image, k, backend)
    else:
        res = initialize(
            spec.base,
            image,
            key=jax.random.key(seed),
            num_gaussians=num_gaussians,
            solve_colors=0,
            backend=backend,
        )
        out = InitOutcome(res.gaussians, res.seconds, dict(res.info))
    if spec.solve:
        t0 = time.perf_counter()
        g, solve = color_solve.solve_colors_with_info(
            out.gaussians, image, iters=SOLVE_ITERS, backend=backend
        )
        jax.block_until_ready(g)
        t_solve = time.perf_counter() - t0 - solve["compile_seconds"]
        out.info.update(
            t_solve=t_solve,
            solve_iters=SOLVE_ITERS,
            mse_before_solve=solve["mse_before"],
            mse_after_solve=solve["mse_after"],
        )
        out = dataclasses.replace(out, gaussians=g, seconds=out.seconds + t_solve)
    return out


def run_init(
    spec: InitSpec,
    image: np.ndarray,
    *,
    k: int = 3,
    model: InstantGINet | None = None,
    num_gaussians: int | None = None,
    seed: int = 0,
    backend: str = "auto",
) -> InitOutcome:
    """Initialise Gaussians for ``image [H, W, 3]`` (float32 in [0, 1]) with ``spec``.

    Args:
      spec: the init (see the module docstring).
      image: the target.
      k: dithering cell of the net-based inits.
      model: the network (net-based inits only).
      num_gaussians: count of the random inits.
      seed: PRNG seed of the random inits.
      backend: render backend (colour solve) and dithering backend.

    Returns:
      The outcome of the second of two identical runs (the first compiles; the quad-tree's
      ``scale`` is the one its colour solve was tuned for when ``+solve``, else the official one).
    """
    if spec.base == "quadtree" and spec.solve:
        # initialize() picks the quad-tree scale by whether a solve follows: ask for its own solve.
        def once() -> InitOutcome:
            res = initialize("quadtree", image, solve_colors=SOLVE_ITERS, backend=backend)
            return InitOutcome(res.gaussians, res.seconds, dict(res.info))
    else:

        def once() -> InitOutcome:
            return init_once(
                spec, image, k=k, model=model, num_gaussians=num_gaussians, seed=seed, backend=backend
            )

    once()  # compile (network, fields, colour solve, binning) outside the timed run
    out = once()
    out.info = {key: v for key, v in out.info.items() if np.ndim(v) == 0}
    return out
