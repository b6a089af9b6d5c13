"""The ``igi fit`` progress line: rate and ETA on the bar, a live clock on phase lines (terminal)."""

from __future__ import annotations

import io as std_io
import time

from igi_jax import progress
from igi_jax.progress import Progress


class Terminal(std_io.StringIO):
    def isatty(self) -> bool:
        return True


def test_bar_shows_rate_and_eta():
    out = std_io.StringIO()
    p = Progress(out, steps=100, seconds=None)
    p.update({"step": 0, "seconds": 2.0, "psnr": 20.0})
    p.update({"step": 20, "seconds": 6.0, "psnr": 25.0})  # 20 steps in 4 s: 5 steps/s, 80 left
    p.close()
    first, second = out.getvalue().splitlines()
    assert "steps/s" not in first and "0/100 steps" in first
    assert "20/100 steps  5 steps/s, ETA 16 s  PSNR  25.00 dB" in second


def test_seconds_budget_eta_is_the_time_left():
    out = std_io.StringIO()
    p = Progress(out, steps=10**9, seconds=300.0)
    p.update({"step": 0, "seconds": 1.0, "psnr": 20.0})
    p.update({"step": 50, "seconds": 101.0, "psnr": 25.0})
    assert "0.5 steps/s, ETA 3 min 19 s" in out.getvalue()


def test_phase_line_ticks_on_a_terminal(monkeypatch):
    monkeypatch.setattr(progress, "TICK", 0.05)
    out = Terminal()
    p = Progress(out, steps=10, seconds=None)
    p.phase("compiling")
    time.sleep(1.2)
    p.close()
    assert "\r\033[Kcompiling…" in out.getvalue() and "compiling… 1 s" in out.getvalue()


def test_quiet_writes_nothing():
    out = Terminal()
    p = Progress(out, steps=10, seconds=None, enabled=False)
    p.phase("compiling")
    p.update({"step": 0, "seconds": 0.0, "psnr": 1.0})
    p.close()
    assert out.getvalue() == ""
