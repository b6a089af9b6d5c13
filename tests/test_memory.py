"""The memory the fit's model is checked against: the accelerator's own on a device, host RAM on CPU."""

from __future__ import annotations

import dataclasses

import pytest

from igi_jax import memory
from igi_jax.errors import InputError


@dataclasses.dataclass
class FakeDevice:
    platform: str
    stats: dict | None = None

    def memory_stats(self):
        if self.stats == "unsupported":
            raise NotImplementedError
        return self.stats


@pytest.fixture
def no_env(monkeypatch):
    monkeypatch.delenv(memory.ENV_VAR, raising=False)


def _use(monkeypatch, device: FakeDevice) -> None:
    monkeypatch.setattr(memory.jax, "devices", lambda: [device])


def test_on_a_gpu_the_device_memory_counts_not_host_ram(monkeypatch, no_env):
    _use(monkeypatch, FakeDevice("gpu", {"bytes_limit": 141_000_000_000, "bytes_in_use": 5}))
    monkeypatch.setattr(memory, "host_bytes", lambda: pytest.fail("host RAM consulted on a GPU"))
    assert memory.available_bytes() == 141e9


@pytest.mark.parametrize("stats", [None, {}, "unsupported"])
def test_a_device_without_a_limit_falls_back_to_host_ram(monkeypatch, no_env, stats):
    _use(monkeypatch, FakeDevice("gpu", stats))
    monkeypatch.setattr(memory, "host_bytes", lambda: 8e9)
    assert memory.device_bytes() is None
    assert memory.available_bytes() == 8e9


def test_on_cpu_host_ram_counts(monkeypatch, no_env):
    _use(monkeypatch, FakeDevice("cpu", {"bytes_limit": 1}))  # a CPU's stats say nothing about RAM
    monkeypatch.setattr(memory, "host_bytes", lambda: 8e9)
    assert memory.available_bytes() == 8e9


def test_the_real_cpu_device_reads_host_ram(no_env):
    assert memory.device_bytes() is None  # tests run on CPU
    have = memory.available_bytes()
    assert have is None or have > 0


def test_env_overrides_the_device(monkeypatch):
    _use(monkeypatch, FakeDevice("gpu", {"bytes_limit": 80e9}))
    monkeypatch.setenv(memory.ENV_VAR, "1.5G")
    assert memory.available_bytes() == 1.5e9
    monkeypatch.setenv(memory.ENV_VAR, "lots")
    with pytest.raises(InputError, match="expected a size"):
        memory.available_bytes()


# Peak RSS of `igi fit PHOTO --init net --steps 20` (/usr/bin/time -v, CPU, 2026-12-04) and the
# largest of issue 33's 1.79–1.92 GiB on 1–1.1 MP photos, put on the smallest canvas such a photo has.
NET_PEAKS = [((850, 1276), 1.964e9), ((730, 1436), 1.941e9), ((1000, 1000), 1.92 * 2**30)]


@pytest.mark.parametrize("size, peak", NET_PEAKS)
def test_the_model_bounds_the_measured_net_peaks(size, peak):
    from igi_jax.compile_cache import canvas_size

    h, w = canvas_size(*size)
    assert memory.estimate_bytes(h * w, "net") >= peak
