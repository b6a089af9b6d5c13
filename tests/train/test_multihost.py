"""Multi-device and multi-host pretraining, on this machine's CPU.

* The paper-shaped config (``configs/net_paper.py``: batch 1 per device, grain workers; tiny widths
  and crops here) runs on 2 forced CPU devices, with a global batch of 2.
* Two processes joined by ``jax.distributed`` on localhost: the union of their slices is the
  global batch of the one-process stream, and killing both after step 2 and resuming both gives
  the parameters of the uninterrupted two-process run (each host restores its own data-order
  file, written by grain's checkpoint handler).
"""

from __future__ import annotations

import dataclasses
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from igi_jax.data import pipeline

REPO = Path(__file__).resolve().parents[2]
STEPS = 4

_PAPER = """
import json, sys, jax
from configs.net_paper import get_config
from igi_jax.train.config import TrainConfig
from igi_jax.train.loop import train_and_evaluate
tiny = TrainConfig.from_dict(json.loads(sys.argv[1]))
paper = get_config()
data = paper.data.__class__(**{**paper.data.__dict__, "dataset_root": tiny.data.dataset_root,
    "sources": tiny.data.sources, "exclude": tiny.data.exclude, "val": tiny.data.val,
    "cache_dir": tiny.data.cache_dir, "crop": tiny.data.crop})
cfg = paper.replace(net="tiny", data=data, steps=2, log_every=1, val_every=2, ckpt_every=2, warmup=1)
logs = []
out = train_and_evaluate(cfg, sys.argv[2], progress=False, log=logs.append)
print(jax.device_count(), out["stepper"].global_batch, json.dumps(out["last_metrics"]))
print("\\n".join(logs), file=sys.stderr)
"""

_HOST = """
import json, sys
from igi_jax.train.distributed import initialize
port, pid, mode, cfg_json, work, out_path = sys.argv[1:7]
initialize(coordinator_address=f"localhost:{port}", num_processes=2, process_id=int(pid))
import jax, numpy as np
from flax import nnx
from jax.experimental import multihost_utils
from igi_jax.data import pipeline
from igi_jax.train.config import TrainConfig
from igi_jax.train.loop import train_and_evaluate
from igi_jax.train.step import Stepper
cfg = TrainConfig.from_dict(json.loads(cfg_json))
if mode == "slices":
    st = Stepper(cfg)
    it = iter(pipeline.make_dataset(cfg.data, seed=cfg.seed, host_batch=st.host_batch,
                                    process_index=jax.process_index(), process_count=2))
    rows = [multihost_utils.process_allgather(st.to_global(next(it))["image"], tiled=True)
            for _ in range(3)]
    if jax.process_index() == 0:
        np.save(out_path, np.stack(rows))
else:
    stop = None if mode == "full" else int(mode)
    out = train_and_evaluate(cfg, work, stop_after=stop, progress=False, log=lambda m: None)
    model = out["stepper"].model(out["state"])
    leaves = [np.asarray(x) for x in jax.tree.leaves(nnx.state(model, nnx.Param))]
    if jax.process_index() == 0:
        np.savez(out_path, *leaves)
print("host", jax.process_index(), "of", jax.process_count(), "devices", jax.device_count(), flush=True)
"""


def _env(devices: int) -> dict[str, str]:
    return {
        **os.environ,
        "XLA_FLAGS": f"--xla_force_host_platform_device_count={devices}",
        "JAX_PLATFORMS": "cpu",
    }


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def _two_hosts(mode: str, cfg, work: Path, out: Path) -> None:
    """Run ``_HOST`` as processes 0 and 1 of one job (1 CPU device each); both must succeed."""
    port = str(_free_port())
    args = [mode, json.dumps(cfg.to_dict()), str(work), str(out)]
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _HOST, port, str(pid), *args],
            env=_env(1),
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for pid in (0, 1)
    ]
    for pid, p in enumerate(procs):
        stdout, stderr = p.communicate(timeout=900)
        assert p.returncode == 0, f"process {pid}:\n{stderr[-3000:]}"
        assert f"host {pid} of 2 devices 2" in stdout


def _small(cfg):
    data = dataclasses.replace(cfg.data, batch_per_device=1)
    return cfg.replace(data=data, steps=STEPS, log_every=1, val_every=STEPS, ckpt_every=2)


@pytest.mark.slow
def test_paper_shaped_config_runs_on_two_devices(tiny_setup, tmp_path):
    cfg, _ = tiny_setup
    proc = subprocess.run(
        [sys.executable, "-c", _PAPER, json.dumps(cfg.to_dict()), str(tmp_path / "paper")],
        env=_env(2),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    devices, global_batch, metrics = proc.stdout.strip().splitlines()[-1].split(" ", 2)
    assert (int(devices), int(global_batch)) == (2, 2)  # 1 per device × 2 devices
    assert "global batch 2 (1 per device)" in proc.stderr
    metrics = json.loads(metrics)
    assert metrics["step"] == 2 and np.isfinite(metrics["loss"]) and metrics["val_gaussians"] > 10


@pytest.mark.slow
def test_two_hosts_slices_make_the_global_batch(tiny_setup, tmp_path):
    cfg, _ = tiny_setup
    cfg = _small(cfg)
    _two_hosts("slices", cfg, tmp_path / "unused", tmp_path / "rows.npy")
    two_hosts = np.load(tmp_path / "rows.npy")  # [3 steps, 2 rows, c, c, 3]
    one = iter(pipeline.make_dataset(cfg.data, seed=cfg.seed, host_batch=2))
    expected = np.stack([next(one)["image"] for _ in range(3)])
    assert two_hosts.shape == expected.shape == (3, 2, cfg.data.crop, cfg.data.crop, 3)
    np.testing.assert_array_equal(two_hosts, expected)
    # and the two hosts' rows differ (each read its own slice, not host 0's)
    assert not np.array_equal(two_hosts[:, 0], two_hosts[:, 1])


@pytest.mark.slow
def test_two_hosts_kill_and_resume_is_exact(tiny_setup, tmp_path):
    cfg, _ = tiny_setup
    cfg = _small(cfg)
    _two_hosts("full", cfg, tmp_path / "full", tmp_path / "full.npz")
    _two_hosts("2", cfg, tmp_path / "resumed", tmp_path / "half.npz")  # both killed after step 2
    ckpt = tmp_path / "resumed" / "checkpoints" / "2" / "data_iter"
    # one data-order state per host, each written by its own process (not host 0's for both)
    assert sorted(p.name for p in ckpt.glob("process_*")) == ["process_0-of-2.json", "process_1-of-2.json"]
    _two_hosts("full", cfg, tmp_path / "resumed", tmp_path / "resumed.npz")
    full, resumed, half = (np.load(tmp_path / f"{n}.npz") for n in ("full", "resumed", "half"))
    assert any(not np.array_equal(full[k], half[k]) for k in full.files)  # steps 3-4 moved them
    for k in full.files:
        np.testing.assert_allclose(resumed[k], full[k], rtol=1e-6, atol=1e-7)
