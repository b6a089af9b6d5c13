"""Rate control shared by the content-adaptive inits: exactly ``N`` Gaussians from a 1-D search.

Each counted init has one knob whose Gaussian count grows with it: the quad-tree's split threshold
(:mod:`igi_jax.init.quadtree_count`, searched on ``−log2`` of its factor) and the scale of the
network's PPM (:mod:`igi_jax.net.count`). :func:`search_count` bisects that knob for the fewest
Gaussians still ≥ ``N`` (stopping once within :data:`SLACK` above), and :func:`least_energy_keep`
drops the surplus that contribute least to the image (``|colour| · σ₁σ₂``), so the set has exactly
``N``. The codec's rate points use both (:mod:`igi_jax.codec`).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

import numpy as np

from igi_jax.errors import InputError

if TYPE_CHECKING:
    from igi_jax.gaussians import Gaussians


class CountOutOfRange(InputError):
    """A count the init cannot give this image; ``fewest`` and ``most`` are what it can."""

    def __init__(self, message: str, fewest: int, most: int):
        super().__init__(message)
        self.fewest, self.most = fewest, most


ITERS = 24
SLACK = 0.02  # stop once the count is within this fraction above N
T = TypeVar("T")


def search_count(
    build: Callable[[float], tuple[T, int]],
    n: int,
    lo: float,
    hi: float,
    *,
    init: str,
    remedy: str = "",
) -> tuple[T, float, int]:
    """The result of ``build(x)`` with the fewest Gaussians that are still ≥ ``n``, ``x ∈ [lo, hi]``.

    Args:
      build: ``x`` → (result, its Gaussian count); the count must not fall as ``x`` grows.
      n: the count wanted.
      lo, hi: the knob's range.
      init: the init's name, for the error.
      remedy: appended to the error (what would widen the range).

    Returns:
      ``(result, x, builds)``.

    Raises:
      CountOutOfRange: ``n`` is outside ``[count(lo), count(hi)]`` (the message names that range).
    """
    fewest, most = build(lo), build(hi)
    if most[1] < n or fewest[1] > n:
        raise CountOutOfRange(
            f"the {init} init gives this image {fewest[1]:,} to {most[1]:,} Gaussians; "
            f"{n:,} is outside that range{remedy}",
            fewest[1],
            most[1],
        )
    if fewest[1] == n:
        return fewest[0], lo, 2
    best, best_x, tries = most, hi, 2
    for _ in range(ITERS):
        if best[1] <= math.ceil(n * (1 + SLACK)):
            break
        mid = 0.5 * (lo + hi)
        out, tries = build(mid), tries + 1
        if out[1] >= n:
            hi = mid
            if out[1] <= best[1]:
                best, best_x = out, mid
        else:
            lo = mid
    return best[0], best_x, tries


def least_energy_keep(cov: np.ndarray, colors: np.ndarray, surplus: int) -> np.ndarray:
    """Indices (ascending) of all but the ``surplus`` Gaussians of least energy ``|colour| · σ₁σ₂``.

    Args:
      cov: ``[N, 3]`` pixel covariances ``(a, b, c)`` of ``[[a, b], [b, c]]``.
      colors: ``[N, 3]``.
      surplus: how many to drop (≥ 0).
    """
    cov = np.asarray(cov, np.float64)
    sigma_area = np.sqrt(np.maximum(cov[:, 0] * cov[:, 2] - cov[:, 1] ** 2, 0.0))
    energy = np.linalg.norm(np.asarray(colors, np.float64), axis=1) * sigma_area
    return np.sort(np.argsort(energy, kind="stable")[max(int(surplus), 0) :])


def keep_count(g: Gaussians, n: int) -> tuple[Gaussians, int]:
    """``g`` with all but ``n`` live Gaussians masked off, those of least energy first; and how
    many were dropped."""
    import jax

    from igi_jax.gaussians import pad_to_bucket

    mask = np.asarray(g.mask)
    live = np.flatnonzero(mask)
    surplus = len(live) - n
    if surplus <= 0:
        return g, 0
    cov = np.asarray(pad_to_bucket(g).covariances())
    keep = least_energy_keep(cov[live], np.asarray(g.colors)[live], surplus)
    new = np.zeros_like(mask)
    new[live[keep]] = True
    return dataclasses.replace(g, mask=jax.device_put(new)), surplus
