"""The progress line of ``igi fit``: phase lines with a live clock, then a bar with rate and ETA.

Hand-written (≈100 lines) rather than tqdm/rich: what it shows is specific (the fit clock that
starts at the init and excludes compilation, live PSNR), it must print whole lines when stderr
is not a terminal (logs, CI), and neither library would remove more code than it adds.

On a terminal the line is redrawn in place (``\\r``) and, during the init and the compilation
(which report nothing until they end), a background thread redraws the phase line every
:data:`TICK` seconds with the elapsed time, so a long phase is visibly alive. Otherwise each
update is its own line.
"""

from __future__ import annotations

import threading
import time
from typing import IO

import numpy as np

from igi_jax.init import InitResult

TICK = 0.5  # seconds between redraws of a phase line on a terminal
BAR = 24  # characters


class Progress:
    """Progress on ``stream`` for one fit of ``steps`` steps (or a ``seconds`` budget)."""

    def __init__(
        self, stream: IO[str], steps: int, seconds: float | None, enabled: bool = True, label: str = "init"
    ):
        self.stream, self.steps, self.seconds, self.enabled = stream, steps, seconds, enabled
        self.label = label
        self.tty = enabled and stream.isatty()
        self.t0 = time.perf_counter()
        self._lock = threading.Lock()
        self._phase: tuple[str, float] | None = None  # (text, start) of the running phase
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None
        self._first: dict[str, float] | None = None  # first history entry (the fit's start)

    def _write(self, text: str) -> None:
        if not self.enabled:
            return
        with self._lock:
            self.stream.write("\r\033[K" + text if self.tty else text + "\n")
            self.stream.flush()

    def phase(self, text: str) -> None:
        """Start a phase that reports nothing until it ends (init, compilation)."""
        self._phase = (text, time.perf_counter())
        self._write(f"{text}…")
        if self.tty and self._ticker is None:
            self._ticker = threading.Thread(target=self._tick, daemon=True)
            self._ticker.start()

    def _tick(self) -> None:
        while not self._stop.wait(TICK):
            phase = self._phase
            if phase is not None:
                self._write(f"{phase[0]}… {time.perf_counter() - phase[1]:.0f} s")

    def on_start(self, image: np.ndarray, notes: list[str]) -> None:
        for note in notes:  # always shown: they say what was done to the input
            with self._lock:
                self.stream.write(f"igi: note: {note}\n")
        self.phase(f"{image.shape[1]}×{image.shape[0]} px; running the {self.label}")

    def on_init(self, init: InitResult) -> None:
        n = init.gaussians.num_live()
        budget = f"{self.seconds:g} s" if self.seconds else f"{self.steps} steps"
        self.phase(f"{self.label}: {n:,} Gaussians in {init.seconds:.1f} s; compiling a fit of {budget}")

    def update(self, entry: dict[str, float]) -> None:
        """A history entry (``step``, ``seconds``, ``psnr``): bar, rate, ETA, PSNR, wall clock."""
        self._phase = None
        if self._first is None:
            self._first = entry
        step, t = int(entry["step"]), entry["seconds"]
        frac = t / self.seconds if self.seconds else step / max(self.steps, 1)
        filled = int(round(BAR * min(max(frac, 0.0), 1.0)))
        limit = f"{t:6.1f}/{self.seconds:g} s" if self.seconds else f"{step}/{self.steps} steps"
        self._write(
            f"[{'#' * filled}{'.' * (BAR - filled)}] {limit}  {self._rate(step, t)}"
            f"PSNR {entry['psnr']:6.2f} dB  ({time.perf_counter() - self.t0:.0f} s)"
        )

    def _rate(self, step: int, t: float) -> str:
        """``12.3 steps/s, ETA 40 s  `` from the fitting time so far (empty before any step)."""
        done, spent = step - self._first["step"], t - self._first["seconds"]
        if done <= 0 or spent <= 0:
            return ""
        rate = done / spent
        left = max(self.seconds - t, 0.0) if self.seconds else (self.steps - step) / rate
        return f"{rate:.3g} steps/s, ETA {_duration(left)}  "

    def close(self) -> None:
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join()
        if self.tty:
            with self._lock:
                self.stream.write("\n")
                self.stream.flush()


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"
