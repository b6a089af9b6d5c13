"""Bjøntegaard deltas between two rate–distortion curves: BD-rate and BD-PSNR.

Each curve is interpolated as quality against ``log10(rate)`` by a piecewise-cubic Hermite
(PCHIP) interpolant, the variant of today's codec test conditions, which does not overshoot
between points as the original cubic polynomial can; the deltas are the mean gaps over the
interval both curves cover.

* :func:`bd_rate`: the mean rate change of ``test`` against ``anchor`` at equal quality, in
  percent (negative: ``test`` needs fewer bits).
* :func:`bd_quality`: the mean quality gain of ``test`` at equal rate (dB for PSNR).

Both need ≥ 2 points per curve, strictly increasing in rate and in quality once sorted by
rate, and overlapping ranges; otherwise ``ValueError`` says which.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.integrate import trapezoid
from scipy.interpolate import PchipInterpolator

_SAMPLES = 1001


def _curve(rates: Sequence[float], quality: Sequence[float], name: str) -> tuple[np.ndarray, np.ndarray]:
    r, q = np.asarray(rates, np.float64), np.asarray(quality, np.float64)
    if r.shape != q.shape or r.ndim != 1 or len(r) < 2:
        raise ValueError(f"{name}: need ≥ 2 (rate, quality) points, got {r.shape} and {q.shape}")
    if not (np.isfinite(r).all() and np.isfinite(q).all() and (r > 0).all()):
        raise ValueError(f"{name}: rates must be > 0 and every value finite")
    order = np.argsort(r)
    r, q = r[order], q[order]
    if (np.diff(r) <= 0).any() or (np.diff(q) <= 0).any():
        raise ValueError(f"{name}: quality must rise strictly with rate (got rates {r}, quality {q})")
    return np.log10(r), q


def _mean_gap(x0: np.ndarray, y0: np.ndarray, x1: np.ndarray, y1: np.ndarray, what: str) -> float:
    lo, hi = max(x0[0], x1[0]), min(x0[-1], x1[-1])
    if not hi > lo:
        raise ValueError(f"the curves' {what} ranges do not overlap")
    grid = np.linspace(lo, hi, _SAMPLES)
    gap = PchipInterpolator(x1, y1)(grid) - PchipInterpolator(x0, y0)(grid)
    return float(trapezoid(gap, grid) / (hi - lo))


def _pair(anchor_rates, anchor_quality, test_rates, test_quality) -> tuple[tuple, tuple]:
    return _curve(anchor_rates, anchor_quality, "anchor"), _curve(test_rates, test_quality, "test")


def bd_quality(
    anchor_rates: Sequence[float],
    anchor_quality: Sequence[float],
    test_rates: Sequence[float],
    test_quality: Sequence[float],
) -> float:
    """BD-PSNR (or BD of any quality): mean of ``test − anchor`` quality over the common log-rate range."""
    (lr0, q0), (lr1, q1) = _pair(anchor_rates, anchor_quality, test_rates, test_quality)
    return _mean_gap(lr0, q0, lr1, q1, "rate")


def bd_rate(
    anchor_rates: Sequence[float],
    anchor_quality: Sequence[float],
    test_rates: Sequence[float],
    test_quality: Sequence[float],
) -> float:
    """BD-rate in percent: ``test``'s mean rate change against ``anchor`` over the common quality range."""
    (lr0, q0), (lr1, q1) = _pair(anchor_rates, anchor_quality, test_rates, test_quality)
    return float((10.0 ** _mean_gap(q0, lr0, q1, lr1, "quality") - 1.0) * 100.0)


def quality_at(rates: Sequence[float], quality: Sequence[float], at: float, slack: float = 0.02) -> float:
    """The curve's quality at rate ``at`` (PCHIP on log-rate, as the deltas), NaN where ``at`` lies
    more than ``slack`` (relative) outside the curve's rates: a mean rate a hair below a curve's
    first point still reads it, a rate beyond its end does not."""
    lr, q = _curve(rates, quality, "curve")
    x = np.log10(at)
    if not lr[0] + np.log10(1 - slack) <= x <= lr[-1] + np.log10(1 + slack):
        return float("nan")
    return float(PchipInterpolator(lr, q, extrapolate=True)(x))
