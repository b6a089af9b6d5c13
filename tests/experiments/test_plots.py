"""The PSNR-vs-time averages behind the plots, from hand-made fit logs."""

import numpy as np
import pytest

from igi_jax.experiments import plots


def _entry(image, init, log, log_seconds=None):
    """``log``: ``[(step, seconds, psnr)]`` of the step-budget fit; ``log_seconds`` of the wall-clock one."""

    def as_dicts(rows):
        return [{"step": s, "seconds": t, "psnr": p} for s, t, p in rows]

    return {
        "image": image,
        "init": init,
        "k": 3,
        "impl": "jax",
        "history": as_dicts(log),
        "history_seconds": as_dicts(log_seconds) if log_seconds else None,
    }


def test_mean_curves_by_step_and_in_time():
    # Image b is twice as slow: by step its log stops at step 10 (when a's reaches 20).
    a = _entry(
        "a",
        "net",
        [(0, 1.0, 20.0), (10, 2.0, 22.0), (20, 3.0, 24.0)],
        [(0, 1.0, 20.0), (10, 2.0, 22.0), (20, 3.0, 24.0), (30, 4.0, 26.0)],
    )
    b = _entry("b", "net", [(0, 2.0, 10.0), (10, 4.0, 12.0)], [(0, 2.0, 10.0), (10, 4.0, 12.0)])
    x, y = plots.mean_curves([a, b])["net k=3"]
    np.testing.assert_allclose(x, [1.5, 3.0])  # steps 0 and 10, the ones both logged
    np.testing.assert_allclose(y, [15.0, 17.0])
    # In time: from 2 s (b's init done) to 4 s (both stopped), interpolated per image.
    x, y = plots.mean_curves_in_time([a, b], limit=5.0, points=11)["net k=3"]
    np.testing.assert_allclose(x, [2.0, 2.5, 3.0, 3.5, 4.0])
    a_at, b_at = np.array([22, 23, 24, 25, 26]), np.array([10, 10.5, 11, 11.5, 12])
    np.testing.assert_allclose(y, (a_at + b_at) / 2)
    # Entries without a wall-clock log fall back to the step-budget one.
    assert set(plots.mean_curves_in_time([_entry("a", "random", [(0, 0.0, 5.0), (10, 1.0, 6.0)])], 2.0)) == {
        "random k=3"
    }


@pytest.mark.parametrize("seconds, limit", [([2.0, 10.0, 20.0], 25.0), ([], 25.0), ([4.0], 5.0)])
def test_zoom_limit(seconds, limit):
    assert plots.zoom_limit({"settings": {"seconds": seconds}}) == limit


def test_crop_box_finds_where_the_ppm_varies():
    ppm = np.zeros((40, 80), np.uint8)
    ppm[20:30, 40:60:2] = 255  # stripes: the only variation
    x0, y0, w, h = plots.crop_box(ppm)
    assert (w, h) == (20, 10) and (x0, y0) == (40, 20)
    assert plots.crop_box(np.zeros((3, 3))) == (0, 0, 1, 1)  # flat and tiny: the first window
