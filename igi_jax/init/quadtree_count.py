"""Rate control for the quad-tree init: exactly ``N`` Gaussians, from a search on its threshold.

The official split threshold is scaled by a factor ``detail`` (:func:`quadtree.split_square`);
the Gaussian count falls as it grows. A bisection on ``log2(detail)`` finds the largest factor
whose count is still ≥ ``N`` (stopping early once within 2 % above), then the surplus Gaussians
with the least energy (``|colour| · σ₁σ₂``, what they add to the image) are dropped, so the set
has exactly ``N``. The codec's rate points use it (:mod:`igi_jax.codec`).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from igi_jax.errors import InputError
from igi_jax.init.quadtree import quadtree_geometry

LOG2_RANGE = (-10.0, 10.0)  # detail factors searched: 1/1024 … 1024 × the official threshold
ITERS = 24
SLACK = 0.02  # stop once the count is within this fraction above N


def geometry_for_count(
    image: np.ndarray, num_gaussians: int, **kwargs: Any
) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
    """:func:`quadtree_geometry` with exactly ``num_gaussians`` Gaussians.

    Raises:
      InputError: the count is outside what the quad-tree can give this image (the message
        names the range).
    """
    n = int(num_gaussians)

    def build(log2_detail: float):
        return quadtree_geometry(image, detail=2.0**log2_detail, **kwargs)

    lo, hi = LOG2_RANGE
    most, fewest = build(lo), build(hi)
    if most[3]["gaussians"] < n or fewest[3]["gaussians"] > n:
        raise InputError(
            f"the quad-tree init gives this image {fewest[3]['gaussians']:,} to {most[3]['gaussians']:,} "
            f"Gaussians; {n:,} is outside that range"
        )
    best, tries = most, 2  # the fewest Gaussians seen that are still ≥ n
    for _ in range(ITERS):
        if best[3]["gaussians"] <= math.ceil(n * (1 + SLACK)):
            break
        mid = 0.5 * (lo + hi)
        out, tries = build(mid), tries + 1
        if out[3]["gaussians"] >= n:
            lo, best = mid, min(best, out, key=lambda o: o[3]["gaussians"])
        else:
            hi = mid
    means, cov, colors, info = best
    surplus = len(means) - n
    if surplus > 0:
        sigma_area = np.sqrt(np.maximum(cov[:, 0] * cov[:, 2] - cov[:, 1] ** 2, 0.0))
        energy = np.linalg.norm(colors, axis=1) * sigma_area
        keep = np.sort(np.argsort(energy, kind="stable")[surplus:])
        means, cov, colors = means[keep], cov[keep], colors[keep]
    info = {
        **info,
        "gaussians": len(means),
        "detail": 2.0**lo,
        "dropped_for_count": max(surplus, 0),
        "count_tries": tries,
    }
    return means, cov, colors, info
