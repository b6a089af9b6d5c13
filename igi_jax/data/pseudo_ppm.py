"""Pseudo position-probability maps: where a fitted Gaussian set put its centres, as a density.

Instant-GI's label for the position field. For every pixel centre, ``d`` is the distance to the
K-th nearest Gaussian centre (K = 10, ``scipy.spatial.cKDTree``); the density ``K / sqrt(d)`` is
normalised robustly, ``lo = max(mean − 3 std, min)``, ``hi = min(mean + 3 std, max)``, and
clamped to [0, 1]. Pixel (i, j) is evaluated at its centre (j + 0.5, i + 0.5), the project's
convention, and Gaussians whose mask is off are ignored.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

NEIGHBOURS = 10


def density(centres: np.ndarray, height: int, width: int, *, k: int = NEIGHBOURS) -> np.ndarray:
    """Unnormalised density ``k / sqrt(d_k)`` at every pixel centre.

    Args:
      centres: ``[N, 2]`` Gaussian means (x, y) in pixels, N ≥ k.
      height, width: image size.
      k: which nearest neighbour sets the distance.

    Returns:
      ``[H, W]`` float64.
    """
    centres = np.asarray(centres, np.float64)
    if centres.ndim != 2 or centres.shape[1] != 2:
        raise ValueError(f"centres must be [N, 2], got {centres.shape}")
    if len(centres) < k:
        raise ValueError(f"need at least {k} centres for the {k}-NN density, got {len(centres)}")
    if not np.isfinite(centres).all():
        raise ValueError("centres contain NaN or inf")
    ys, xs = np.mgrid[0:height, 0:width]
    queries = np.stack([xs.ravel() + 0.5, ys.ravel() + 0.5], axis=1)
    dist, _ = cKDTree(centres).query(queries, k=[k], workers=-1)
    # A centre exactly on a pixel centre with 9 duplicates would give d = 0; floor at 1e-6 px.
    return (k / np.sqrt(np.maximum(dist[:, 0], 1e-6))).reshape(height, width)


def normalise(d: np.ndarray) -> np.ndarray:
    """Robust [0, 1] normalisation of a density map (mean ± 3 std, clipped to its range)."""
    mean, std = float(d.mean()), float(d.std())
    lo = max(mean - 3 * std, float(d.min()))
    hi = min(mean + 3 * std, float(d.max()))
    if hi <= lo:  # a perfectly uniform set: every pixel is equally likely
        return np.full(d.shape, 0.5, np.float32)
    return np.clip((d - lo) / (hi - lo), 0.0, 1.0).astype(np.float32)


def pseudo_ppm(centres: np.ndarray, height: int, width: int, mask: np.ndarray | None = None) -> np.ndarray:
    """The training label: ``[H, W]`` float32 in [0, 1] from ``centres [N, 2]`` (pixels).

    ``mask [N]`` (bool) drops padded Gaussians.
    """
    centres = np.asarray(centres)
    if mask is not None:
        centres = centres[np.asarray(mask, bool)]
    return normalise(density(centres, height, width))
