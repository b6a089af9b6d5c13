"""A one-line progress bar on stderr: step, rate, ETA and the latest metrics."""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO


def _hms(seconds: float) -> str:
    seconds = int(max(seconds, 0))
    h, rest = divmod(seconds, 3600)
    return f"{h}:{rest // 60:02d}:{rest % 60:02d}" if h else f"{rest // 60}:{rest % 60:02d}"


class Progress:
    """``Progress(total, start)``; ``update(step, metrics)`` redraws at most 4× a second."""

    def __init__(self, total: int, start: int = 0, *, enabled: bool = True, stream: TextIO = sys.stderr):
        self.total, self.start, self.enabled, self.stream = total, start, enabled, stream
        self.t0 = time.perf_counter()
        self.shown: dict[str, Any] = {}
        self._last_draw = 0.0

    def update(self, step: int, metrics: dict[str, Any] | None = None) -> None:
        if metrics:
            self.shown = {k: metrics[k] for k in ("loss", "psnr", "val_psnr") if k in metrics} | {
                k: v for k, v in self.shown.items() if k == "val_psnr" and "val_psnr" not in metrics
            }
        now = time.perf_counter()
        if not self.enabled or (now - self._last_draw < 0.25 and step < self.total):
            return
        self._last_draw = now
        done = step - self.start
        rate = done / (now - self.t0) if done else 0.0
        eta = (self.total - step) / rate if rate else float("nan")
        width = 24
        fill = int(width * step / max(self.total, 1))
        extras = "  ".join(f"{k} {v:.4g}" for k, v in self.shown.items())
        line = (
            f"\r[{'#' * fill}{'.' * (width - fill)}] {step}/{self.total}  {rate:.2f} step/s  "
            f"ETA {_hms(eta) if rate else '?'}  {extras}"
        )
        self.stream.write(line.ljust(100))
        self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\n")
            self.stream.flush()
