"""The progress line of ``igi fit`` and of training: rate and ETA on the bar, a live clock on phase lines."""

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
    p = Progress(100, stream=out)
    p.on_entry({"step": 0, "seconds": 2.0, "psnr": 20.0})
    p.on_entry({"step": 20, "seconds": 6.0, "psnr": 25.0})  # 20 steps in 4 s: 5 steps/s, 80 left
    p.close()
    first, second = out.getvalue().splitlines()
    assert "steps/s" not in first and "0/100 steps" in first
    assert "20/100 steps  5 steps/s, ETA 16 s  PSNR  25.00 dB" in second


def test_seconds_budget_eta_is_the_time_left():
    out = std_io.StringIO()
    p = Progress(10**9, seconds=300.0, stream=out)
    p.on_entry({"step": 0, "seconds": 1.0, "psnr": 20.0})
    p.on_entry({"step": 50, "seconds": 101.0, "psnr": 25.0})
    assert "0.5 steps/s, ETA 3 min 19 s" in out.getvalue()


def test_phase_line_ticks_on_a_terminal(monkeypatch):
    monkeypatch.setattr(progress, "TICK", 0.05)
    out = Terminal()
    p = Progress(10, stream=out)
    p.phase("compiling")
    time.sleep(1.2)
    p.close()
    assert "\r\033[Kcompiling…" in out.getvalue() and "compiling… 1 s" in out.getvalue()


def test_quiet_writes_nothing():
    out = Terminal()
    p = Progress(10, stream=out, enabled=False)
    p.phase("compiling")
    p.on_entry({"step": 0, "seconds": 0.0, "psnr": 1.0})
    p.close()
    assert out.getvalue() == ""


def test_training_steps_draw_only_log_points_off_a_terminal(monkeypatch):
    clock = iter([0.0, 10.0, 20.0, 30.0, 40.0, 50.0, 60.0])
    monkeypatch.setattr(progress.time, "perf_counter", lambda: next(clock))
    out = std_io.StringIO()
    p = Progress(total=100, start=50, stream=out)  # a resumed run: the rate counts from step 50
    p.update(51)
    p.update(52, {"loss": 0.5, "psnr": 20.0})  # 2 steps in 20 s
    p.update(53, {"val_psnr": 22.0})
    p.close()
    first, second = out.getvalue().splitlines()
    assert "52/100 steps  0.1 steps/s, ETA 8 min 00 s  PSNR  20.00 dB  loss 0.5  (20 s)" in first
    assert "PSNR  20.00 dB  val PSNR  22.00 dB  loss 0.5" in second  # earlier metrics are kept


def test_bare_steps_redraw_a_terminal_at_most_every_redraw_interval(monkeypatch):
    clock = iter([0.0, 0.1, 0.2, 0.5])
    monkeypatch.setattr(progress.time, "perf_counter", lambda: next(clock))
    out = Terminal()
    p = Progress(total=10, stream=out)
    p.update(1)
    p.update(2)  # 0.1 s after the first draw: skipped
    p.update(3)
    assert [line.split("]")[1].split("  ")[0] for line in out.getvalue().split("\r\033[K")[1:]] == [
        " 1/10 steps",
        " 3/10 steps",
    ]
