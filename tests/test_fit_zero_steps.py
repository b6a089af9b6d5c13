"""``fit`` of 0 steps (``igi fit --steps 0``) compiles no fit program, only the forward render,
and gives what a fit's step-0 entry gives (issue 33)."""

from __future__ import annotations

import jax
import numpy as np
import pytest

from igi_jax import fit as fit_lib
from igi_jax import gaussians as G
from igi_jax.fit import FitConfig, fit

H, W = 32, 40


def _target():
    y, x = np.mgrid[0:H, 0:W] / np.float32(max(H, W))
    return np.stack([x, y, 0.5 + 0.4 * np.sin(6 * x * y)], -1).astype(np.float32)


def test_zero_steps_compile_no_fit_and_match_the_step_0_entry(monkeypatch):
    g = G.random_init(jax.random.key(0), 96, H, W, variant="igi")
    fitted = fit(g, _target(), FitConfig(steps=20, log_every=20, lr=1e-2), init_seconds=0.5)
    with monkeypatch.context() as m:
        m.setattr(fit_lib, "_program", lambda *a, **k: pytest.fail("compiled a fit for 0 steps"))
        seen = []
        res = fit(g, _target(), FitConfig(steps=0), init_seconds=0.5, callback=seen.append, snapshots={0})
    assert res.steps == 0 and res.fit_seconds == 0.0 and seen == res.history
    assert [h["step"] for h in res.history] == [0] and res.history[0]["seconds"] == 0.5
    # The same step-0 PSNR as the fit's own (its render is on a padded canvas: float32 rounding).
    assert res.history[0]["psnr"] == pytest.approx(fitted.history[0]["psnr"], abs=1e-3)
    np.testing.assert_array_equal(np.asarray(res.gaussians.params()["xy"]), np.asarray(g.params()["xy"]))
    assert res.image.shape == (H, W, 3) and res.snapshots[0].shape == (H, W, 3)
