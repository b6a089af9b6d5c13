"""Rate control for the net init: exactly ``N`` Gaussians, from a search on a scale of its PPM.

The network picks its own count through the PPM it dithers. Scaling that map, ``clip(s · ppm, 0, 1)``,
moves the count without touching where the density goes: the dithered points (and with them the
Delaunay triangles, one Gaussian each) grow with ``s`` until every ``k × k`` cell holds a point.
:func:`geometry_for_count` bisects ``log2 s`` (:func:`igi_jax.init.rate.search_count`) for the fewest
triangles still ≥ ``N``; :func:`igi_jax.net.inference.gaussians_for_image` then drops the surplus of
least energy, so the codec (and a matched-count comparison) gets the net's init at any count.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from igi_jax.init import rate
from igi_jax.net.geometry import Geometry, host_geometry_with_info

LOG2_RANGE = (-12.0, 12.0)  # PPM scales searched: 1/4096 … 4096 × the network's own


def geometry_for_count(
    ppm: np.ndarray, num_gaussians: int, k: int, *, backend: str = "auto"
) -> tuple[Geometry, dict[str, Any], float]:
    """The triangles of ``clip(s · ppm, 0, 1)`` for the ``s`` giving the fewest ≥ ``num_gaussians``.

    Args:
      ppm: ``[1, H, W]`` the network's PPM.
      num_gaussians: the count wanted.
      k: dithering cell size.
      backend: as :func:`host_geometry_with_info`.

    Returns:
      The geometry, its info (:func:`host_geometry_with_info`, plus ``ppm_scale`` and
      ``count_tries``) and the scaled PPM's mean.

    Raises:
      InputError: the count is outside what this PPM can give at this ``k`` (message names the range).
    """
    ppm = np.asarray(ppm, np.float32)

    def build(log2_scale: float):
        scaled = np.clip(ppm * np.float32(2.0**log2_scale), 0.0, 1.0)
        geom, info = host_geometry_with_info(scaled, k, backend=backend, threads=1)
        return (geom, info, float(scaled.mean())), int(info["triangles"][0])

    remedy = "; a smaller --kernel-size gives more" if k > 3 else ""
    (geom, info, mean), x, tries = rate.search_count(
        build, int(num_gaussians), *LOG2_RANGE, init="net", remedy=remedy
    )
    return geom, {**info, "ppm_scale": 2.0**x, "count_tries": tries}, mean
