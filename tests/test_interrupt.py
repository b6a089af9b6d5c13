"""SIGTERM and SIGINT during ``igi fit`` (issue 33): one line naming the signal and the step,
exit 128 + signal number, and neither the output lock nor a temp file left behind."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_during_fit_is_one_line_and_leaves_nothing(tmp_path, sig):
    y, x = np.mgrid[0:32, 0:40]
    Image.fromarray(np.stack([x * 6, y * 7, (x + y) * 3], -1).astype(np.uint8)).save(tmp_path / "a.png")
    out = tmp_path / "out"
    argv = ["fit", tmp_path / "a.png", "--init", "random", "--gaussians", "100", "--seconds", "300"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "igi_jax.cli", *map(str, argv), "--backend", "dense", "--out", out],
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "JAX_PLATFORMS": "cpu", "IGI_JAX_CACHE_DIR": "0"},
    )
    lines = []
    for line in proc.stderr:  # wait until the fit reports progress, i.e. it is running
        lines.append(line)
        if "PSNR" in line:
            break
    proc.send_signal(sig)
    lines += proc.stderr.readlines()
    assert proc.wait(timeout=60) == 128 + sig, "".join(lines)
    last = lines[-1].strip()
    name = signal.Signals(sig).name
    assert re.fullmatch(rf"igi: interrupted \({name}\) at step \d+; nothing was written", last), lines
    assert "Traceback" not in "".join(lines)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png"]  # no out/, no lock, no temp file
