"""Bjøntegaard deltas: known shifts of a curve come back exactly; bad curves are refused."""

import numpy as np
import pytest

from igi_jax.experiments.bjontegaard import bd_quality, bd_rate, quality_at

RATES = [0.12, 0.25, 0.5, 1.0, 1.5]
PSNR = [24.0, 26.5, 29.0, 32.0, 33.5]


def test_a_curve_against_itself_is_zero():
    assert bd_quality(RATES, PSNR, RATES, PSNR) == pytest.approx(0.0, abs=1e-12)
    assert bd_rate(RATES, PSNR, RATES, PSNR) == pytest.approx(0.0, abs=1e-9)


def test_a_quality_shift_is_the_bd_psnr():
    assert bd_quality(RATES, PSNR, RATES, [p + 0.7 for p in PSNR]) == pytest.approx(0.7)
    assert bd_quality(RATES, [p + 0.7 for p in PSNR], RATES, PSNR) == pytest.approx(-0.7)


def test_a_rate_scale_is_the_bd_rate():
    assert bd_rate(RATES, PSNR, [r * 0.8 for r in RATES], PSNR) == pytest.approx(-20.0)
    assert bd_rate(RATES, PSNR, [r * 1.25 for r in RATES], PSNR) == pytest.approx(25.0)


def test_only_the_common_range_counts_and_order_does_not_matter():
    # the test curve covers half the range, shifted by 1 dB there: the delta is 1, not diluted
    # (PSNR linear in log-rate, which PCHIP reproduces exactly from any subset of points)
    line = [30 + 8 * np.log10(r) for r in RATES]
    test_r, test_q = RATES[2:], [p + 1 for p in line[2:]]
    assert bd_quality(RATES, line, test_r[::-1], test_q[::-1]) == pytest.approx(1.0)


def test_bad_curves_are_refused():
    with pytest.raises(ValueError, match="do not overlap"):
        bd_quality([0.1, 0.2], [20, 21], [0.5, 0.9], [25, 26])
    with pytest.raises(ValueError, match="rise strictly"):
        bd_rate(RATES, [24, 26, 25, 30, 31], RATES, PSNR)
    with pytest.raises(ValueError, match="≥ 2"):
        bd_rate([0.5], [30], RATES, PSNR)
    with pytest.raises(ValueError, match="finite"):
        bd_quality(RATES, [24, 26, np.nan, 30, 31], RATES, PSNR)


def test_quality_at_reads_the_curve_inside_its_rates_only():
    line = [30 + 8 * np.log10(r) for r in RATES]  # linear in log-rate: PCHIP reproduces it
    for at in (0.12, 0.3, 0.71, 1.5, 0.119, 1.52):  # the last two: within the 2 % slack
        assert quality_at(RATES, line, at) == pytest.approx(30 + 8 * np.log10(at))
    assert quality_at(RATES, PSNR, 0.5) == pytest.approx(29.0)
    assert np.isnan(quality_at(RATES, PSNR, 0.11)) and np.isnan(quality_at(RATES, PSNR, 1.6))
