"""Init registry: name → Gaussian set, timed."""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import jax
import numpy as np

from igi_jax import gaussians as gaussians_lib
from igi_jax.gaussians import Gaussians, Kind

INITS = ("random", "random-gi", "quadtree")
MAX_GAUSSIANS = 4_000_000


@dataclasses.dataclass
class InitResult:
    """An initial set, how long it took (seconds, synchronised) and init-specific details."""

    gaussians: Gaussians
    seconds: float
    info: dict[str, Any]


def initialize(
    name: str,
    image: np.ndarray,
    *,
    key: jax.Array | None = None,
    num_gaussians: int | None = None,
    kind: Kind = "rs",
    scale: float | None = None,
) -> InitResult:
    """Initialise Gaussians for ``image [H, W, 3]`` (float in [0, 1]).

    Args:
      name: one of :data:`INITS`.
      image: target image.
      key: PRNG key for the random inits (default ``jax.random.key(0)``).
      num_gaussians: count for the random inits (required there; the quad-tree picks its own).
      kind: covariance parameterization.
      scale: quad-tree std dev per ellipse semi-axis (default: the official 0.54).
    """
    if name not in INITS:
        raise ValueError(f"unknown init {name!r}; expected one of {INITS}")
    image = np.asarray(image, np.float32)
    if image.ndim != 3 or image.shape[-1] != 3:
        raise ValueError(f"image must be [H, W, 3], got shape {image.shape}")
    height, width = image.shape[:2]
    t0 = time.perf_counter()
    if name == "quadtree":
        from igi_jax.init import quadtree

        kwargs = {} if scale is None else {"scale": scale}
        g, info = quadtree.quadtree_init(image, kind=kind, **kwargs)
    else:
        if num_gaussians is None:
            raise ValueError(f"init {name!r} needs num_gaussians")
        if not 1 <= num_gaussians <= MAX_GAUSSIANS:
            raise ValueError(f"num_gaussians={num_gaussians} is out of range [1, {MAX_GAUSSIANS:,}]")
        key = jax.random.key(0) if key is None else key
        variant = "igi" if name == "random" else "gi"
        g = gaussians_lib.random_init(key, num_gaussians, height, width, kind=kind, variant=variant)
        info = {"gaussians": num_gaussians}
    jax.block_until_ready(g)
    return InitResult(gaussians=g, seconds=time.perf_counter() - t0, info=info)
