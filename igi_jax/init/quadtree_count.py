"""Rate control for the quad-tree init: exactly ``N`` Gaussians, from a search on its threshold.

The official split threshold is scaled by a factor ``detail`` (:func:`quadtree.split_square`);
the Gaussian count falls as it grows. :func:`igi_jax.init.rate.search_count` bisects
``−log2(detail)`` for the fewest Gaussians still ≥ ``N`` (within 2 % above), then the surplus with
the least energy is dropped (:func:`igi_jax.init.rate.least_energy_keep`), so the set has exactly
``N``. The codec's rate points use it (:mod:`igi_jax.codec`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from igi_jax.init import rate
from igi_jax.init.quadtree import quadtree_geometry

LOG2_RANGE = (-10.0, 10.0)  # detail factors searched: 1/1024 … 1024 × the official threshold


def geometry_for_count(
    image: np.ndarray, num_gaussians: int, **kwargs: Any
) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
    """:func:`quadtree_geometry` with exactly ``num_gaussians`` Gaussians.

    Raises:
      InputError: the count is outside what the quad-tree can give this image (the message
        names the range).
    """
    n = int(num_gaussians)

    def build(x: float):
        out = quadtree_geometry(image, detail=2.0**-x, **kwargs)
        return out, out[3]["gaussians"]

    lo, hi = LOG2_RANGE
    best, x, tries = rate.search_count(build, n, -hi, -lo, init="quad-tree")
    means, cov, colors, info = best
    surplus = len(means) - n
    if surplus > 0:
        keep = rate.least_energy_keep(cov, colors, surplus)
        means, cov, colors = means[keep], cov[keep], colors[keep]
    info = {
        **info,
        "gaussians": len(means),
        "detail": 2.0**-x,
        "dropped_for_count": max(surplus, 0),
        "count_tries": tries,
    }
    return means, cov, colors, info
