"""Backend dispatch of the dithering stage (kernel/reference parity lives in tests/pallas_kernels)."""

import jax
import numpy as np
import pytest

from igi_jax.backend import resolve_backend
from igi_jax.geometry.dither import dither


def test_auto_picks_reference_on_cpu_and_backends_agree():
    assert jax.default_backend() == "cpu"
    assert resolve_backend("auto") == "reference"
    ppm = np.random.default_rng(0).uniform(0.05, 0.95, (13, 17)).astype(np.float32)
    ref = dither(ppm, 3, backend="auto")
    interp = dither(ppm, 3, backend="pallas-interpret")
    for a, b in zip(ref, interp, strict=True):
        np.testing.assert_array_equal(a, b)
    assert 0 < int(ref[2]) <= ref[0].size


def test_unknown_backend():
    with pytest.raises(ValueError, match="backend"):
        dither(np.zeros((4, 4), np.float32), 3, backend="triton")
