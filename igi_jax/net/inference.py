"""Inference: one image → the network's Gaussians (the landed ``Gaussians``, RS), timed per stage.

Stages, each synchronised (``block_until_ready``) so the timings add up to the wall time:

* ``t_network``: ConvNeXt-UNet + position field (jitted, one compile per image size);
* ``t_dither``: max-pool + Floyd–Steinberg (jitted, Pallas on GPU);
* ``t_delaunay``: border points, Qhull, ellipses (host);
* ``t_pad``: the render-capacity bound and padding to a size bucket (host);
* ``t_fields``: feature organisation + BC / Σ / opacity fields (jitted, one compile per bucket).

Compilation is done ahead of time (``lower().compile()``, cached per network, image size and
triangle bucket) and reported separately as ``compile_seconds``, so the stage times are warm.

The Gaussians come out padded to the triangle bucket with their mask, RS-parameterised exactly
(``scale = |s + 0.5|`` with ``s = scale − 0.5``, ``θ = sigmoid(r)·2π`` with ``r`` the field's
pre-sigmoid rotation), so the fitter continues from precisely what the fields produced.
"""

from __future__ import annotations

import collections
import functools
import time
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from igi_jax.gaussians import SCALE_OFFSET, Gaussians
from igi_jax.init import rate
from igi_jax.net import count as count_lib
from igi_jax.net.geometry import host_geometry_with_info
from igi_jax.net.model import InstantGINet, TriangleGaussians, predict_ppm, triangle_gaussians

_MEAN_EPS = 1e-5


@functools.partial(jax.jit, static_argnums=0)
def predict_stage(graphdef, state, images):
    """Jitted ``images [B, H, W, 3]`` → ``(features [B, H, W, F], ppm [B, H, W])``."""
    return predict_ppm(nnx.merge(graphdef, state), images)


@functools.partial(jax.jit, static_argnums=0)
def fields_stage(graphdef, state, image, features, vertices, neighbors, centre, semi_axes, angle):
    """Jitted fields on one image's triangles → raw RS ``(xy [T, 2], shape [T, 3], colors [T, 3])``."""
    g = triangle_gaussians(
        nnx.merge(graphdef, state), image, features, vertices, neighbors, centre, semi_axes, angle
    )
    return _raw(g, image.shape[0], image.shape[1])


def _raw(g: TriangleGaussians, height: int, width: int) -> tuple[jax.Array, jax.Array, jax.Array]:
    half = jnp.asarray([width / 2, height / 2], jnp.float32)
    xy = jnp.arctanh(jnp.clip(g.means / half - 1.0, -1.0 + _MEAN_EPS, 1.0 - _MEAN_EPS))
    shape = jnp.concatenate([g.scales - SCALE_OFFSET, g.rot_logit[:, None]], axis=-1)
    return xy, shape, g.colors


def _sync(x):
    return jax.block_until_ready(x)


_CACHE: collections.OrderedDict = collections.OrderedDict()
_CACHE_SIZE = 32


def _run(fn, key, graphdef, *args) -> tuple[Any, float]:
    """Call the jitted ``fn`` through a cached AOT executable; returns (result, compile seconds)."""
    key = (fn.__name__, graphdef, key)
    compile_s = 0.0
    if key not in _CACHE:
        t0 = time.perf_counter()
        _CACHE[key] = fn.lower(graphdef, *args).compile()
        compile_s = time.perf_counter() - t0
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    _CACHE.move_to_end(key)
    return _sync(_CACHE[key](*args)), compile_s


def gaussians_for_image(
    model: InstantGINet,
    image: np.ndarray | jax.Array,
    k: int = 3,
    *,
    backend: str = "auto",
    capacity: int | None = None,
    num_gaussians: int | None = None,
    ppm_scale: float = 1.0,
) -> tuple[Gaussians, dict[str, Any]]:
    """Initialise Gaussians for ``image [H, W, 3]`` (float in [0, 1]) with the network.

    Args:
      model: the (trained) network.
      image: the target image.
      k: dithering cell size: 3 (as trained), 4 or 5 (fewer Gaussians).
      backend: dithering backend (and the render backend the geometry is sized for).
      capacity: padded Gaussian count (default: the size bucket of the triangle count).
      num_gaussians: exactly this many Gaussians (:func:`igi_jax.net.count.geometry_for_count`
        scales the PPM, the surplus of least energy is dropped); ``None``: the network's own count.
      ppm_scale: the PPM dithered is ``clip(ppm_scale · ppm, 0, 1)`` (a density calibration, see
        :func:`igi_jax.net.weights.ppm_scale`); ignored with ``num_gaussians``, whose search sets it.

    Returns:
      ``Gaussians`` (kind ``"rs"``, padded, masked) and an info dict: per-stage seconds (see the
      module docstring), ``seconds`` (their sum, compilation excluded), ``compile_seconds``,
      ``gaussians``, ``points``, ``k``, ``ppm_mean`` (of the PPM that was dithered), ``ppm_scale``
      (when not 1); with a count, also ``count_tries`` and ``dropped_for_count``.
    """
    image = jnp.asarray(image, jnp.float32)
    if image.ndim != 3 or image.shape[-1] != 3:
        raise ValueError(f"image must be [H, W, 3], got shape {image.shape}")
    height, width = image.shape[:2]
    graphdef, state = nnx.split(model)
    t0 = time.perf_counter()
    (features, ppm), c_net = _run(predict_stage, image.shape, graphdef, state, image[None])
    t1 = time.perf_counter()
    ppm = np.asarray(ppm)
    if num_gaussians is None:
        if ppm_scale != 1.0:
            ppm = np.clip(ppm * np.float32(ppm_scale), 0.0, 1.0)
        geom, ginfo = host_geometry_with_info(ppm, k, capacity=capacity, backend=backend, threads=1)
        ppm_mean, extra = float(ppm.mean()), ({"ppm_scale": ppm_scale} if ppm_scale != 1.0 else {})
    else:
        geom, ginfo, ppm_mean = count_lib.geometry_for_count(ppm, num_gaussians, k, backend=backend)
        extra = {"ppm_scale": ginfo["ppm_scale"], "count_tries": ginfo["count_tries"]}
    t2 = time.perf_counter()
    args = (
        state,
        image,
        features[0],
        geom.vertices[0],
        geom.neighbors[0],
        geom.centre[0],
        geom.semi_axes[0],
        geom.angle[0],
    )
    (xy, shape, colors), c_fields = _run(fields_stage, (image.shape, geom.capacity), graphdef, *args)
    g = Gaussians(xy=xy, shape=shape, colors=colors, mask=geom.mask[0], kind="rs", height=height, width=width)
    if num_gaussians is not None:
        g, extra["dropped_for_count"] = rate.keep_count(g, num_gaussians)
    t3 = time.perf_counter()
    info = {
        "t_network": t1 - t0 - c_net,
        "t_dither": ginfo["t_dither"],
        "t_delaunay": ginfo["t_delaunay"],
        "t_pad": ginfo["t_pad"],
        "t_host": t2 - t1,
        "t_fields": t3 - t2 - c_fields,
        "seconds": t3 - t0 - c_net - c_fields,
        "compile_seconds": c_net + c_fields,
        "gaussians": int(ginfo["triangles"][0]) - extra.get("dropped_for_count", 0),
        "points": int(ginfo["points"][0]),
        "k": k,
        "ppm_mean": ppm_mean,
        **extra,
    }
    return g, info
