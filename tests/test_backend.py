"""``auto`` picks only Pallas kernels recorded as verified on the platform; forcing others warns."""

from __future__ import annotations

import warnings

import pytest

from igi_jax import backend as backend_lib
from igi_jax.render import api as render_api


@pytest.fixture
def on_gpu(monkeypatch):
    monkeypatch.setattr(backend_lib.jax, "default_backend", lambda: "gpu")


@pytest.mark.parametrize("kernel", backend_lib.KERNELS)
def test_auto_is_the_reference_on_gpu_until_verified(on_gpu, monkeypatch, kernel):
    assert backend_lib.resolve_backend("auto", kernel=kernel) == "reference"
    monkeypatch.setitem(backend_lib.VERIFIED_PALLAS, "gpu", frozenset({kernel}))
    assert backend_lib.resolve_backend("auto", kernel=kernel) == "pallas"


def test_auto_without_a_kernel_needs_every_kernel_verified(on_gpu, monkeypatch):
    monkeypatch.setitem(backend_lib.VERIFIED_PALLAS, "gpu", frozenset({"splat"}))
    assert backend_lib.resolve_backend("auto") == "reference"
    monkeypatch.setitem(backend_lib.VERIFIED_PALLAS, "gpu", frozenset(backend_lib.KERNELS))
    assert backend_lib.resolve_backend("auto") == "pallas"


def test_auto_is_a_cpu_path_on_cpu_even_if_gpu_verified(monkeypatch):
    monkeypatch.setitem(backend_lib.VERIFIED_PALLAS, "gpu", frozenset(backend_lib.KERNELS))
    assert backend_lib.jax.default_backend() == "cpu"
    monkeypatch.setattr(backend_lib, "VERIFIED_NATIVE", False)
    assert render_api.resolve_backend("auto") == "reference"
    assert backend_lib.resolve_backend("auto", kernel="dither") == "reference"


def test_forced_unverified_pallas_warns_naming_the_kernel(on_gpu):
    with pytest.warns(UserWarning, match=r"splat.*not passed bench/gpu_check.sh on 'gpu'"):
        assert render_api.resolve_backend("pallas") == "pallas"
    with pytest.warns(UserWarning, match="dither"):
        backend_lib.resolve_backend("pallas", kernel="dither")


def test_forced_verified_pallas_and_interpret_are_silent(on_gpu, monkeypatch):
    monkeypatch.setitem(backend_lib.VERIFIED_PALLAS, "gpu", frozenset({"splat"}))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert render_api.resolve_backend("pallas") == "pallas"
        assert backend_lib.resolve_backend("pallas-interpret", kernel="dither") == "pallas-interpret"


def test_unknown_names():
    with pytest.raises(ValueError, match="backend='triton'"):
        backend_lib.resolve_backend("triton", kernel="splat")
    with pytest.raises(ValueError, match="kernel='conv'"):
        backend_lib.resolve_backend("auto", kernel="conv")
