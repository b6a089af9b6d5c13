"""The one progress line of the project (``igi fit`` and the pretraining loop): phase lines with a
live clock, then a bar with steps, rate, ETA and the latest metrics.

Hand-written (≈120 lines) rather than tqdm/rich: what it shows is specific (the fit clock that
starts at the init and excludes compilation, live PSNR), it must print whole lines when stderr
is not a terminal (logs, CI), and neither library would remove more code than it adds.

On a terminal the line is redrawn in place (``\\r``) and, during the init and the compilation
(which report nothing until they end), a background thread redraws the phase line every
:data:`TICK` seconds with the elapsed time, so a long phase is visibly alive. Updates without
metrics (the training loop's every step) redraw at most every :data:`REDRAW` seconds, and only on
a terminal; an update with metrics (a log point) is always drawn, off a terminal as its own line.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Mapping
from typing import IO, TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # a leaf module: the training loop imports it without the inits
    from igi_jax.init import InitResult

TICK = 0.5  # seconds between redraws of a phase line on a terminal
REDRAW = 0.25  # seconds between redraws for updates that carry no metrics
BAR = 24  # characters
# Metrics shown on the bar, in this order, each kept until a newer value arrives.
SHOWN = {"psnr": "PSNR {:6.2f} dB", "val_psnr": "val PSNR {:6.2f} dB", "loss": "loss {:.4g}"}


class Progress:
    """Progress on ``stream`` for a run from step ``start`` to ``total`` (or a ``seconds`` budget).

    Args:
      total: the last step (the fit's step limit, or the training run's end).
      start: the first step (a resumed run's).
      seconds: a time budget in seconds on the fit clock; the bar then fills with time.
      enabled: ``False`` writes nothing (``--quiet``).
      stream: where to write (default stderr).
      label: the name of the init in ``igi fit``'s phase lines.
    """

    def __init__(
        self,
        total: int,
        start: int = 0,
        *,
        seconds: float | None = None,
        enabled: bool = True,
        stream: IO[str] | None = None,
        label: str = "init",
    ):
        self.stream = sys.stderr if stream is None else stream
        self.total, self.start, self.seconds, self.enabled, self.label = total, start, seconds, enabled, label
        self.tty = enabled and self.stream.isatty()
        self.t0 = time.perf_counter()
        self._lock = threading.Lock()
        self._phase: tuple[str, float] | None = None  # (text, start) of the running phase
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None
        self._origin: tuple[int, float] | None = None  # (step, clock) the rate is measured from
        self._shown: dict[str, float] = {}
        self._last_draw = -np.inf

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
        """``igi fit``: the image is loaded (``notes`` say what was done to it); the init starts."""
        for note in notes:  # always shown: they say what was done to the input
            with self._lock:
                self.stream.write(f"igi: note: {note}\n")
        self.phase(f"{image.shape[1]}×{image.shape[0]} px; running the {self.label}")

    def on_init(self, init: InitResult) -> None:
        """``igi fit``: the init is done; compilation starts."""
        n = init.gaussians.num_live()
        budget = f"{self.seconds:g} s" if self.seconds else f"{self.total} steps"
        self.phase(f"{self.label}: {n:,} Gaussians in {init.seconds:.1f} s; compiling a fit of {budget}")

    def on_entry(self, entry: Mapping[str, float]) -> None:
        """A fit history entry (``step``, ``seconds`` on the fit clock, ``psnr``, ``loss``)."""
        self.update(int(entry["step"]), entry)

    def update(self, step: int, metrics: Mapping[str, float] | None = None) -> None:
        """Step ``step`` is done; ``metrics`` (optional) may hold ``seconds`` (the run's own clock,
        else the wall clock since construction) and the values of :data:`SHOWN`."""
        self._phase = None
        metrics = metrics or {}
        self._shown.update({k: float(metrics[k]) for k in SHOWN if k in metrics})
        now = time.perf_counter()
        clock = float(metrics["seconds"]) if "seconds" in metrics else now - self.t0
        if self._origin is None:
            self._origin = (step, clock) if "seconds" in metrics else (self.start, 0.0)
        if not any(k in metrics for k in SHOWN) and (not self.tty or now - self._last_draw < REDRAW):
            return
        self._last_draw = now
        frac = clock / self.seconds if self.seconds else step / max(self.total, 1)
        filled = int(round(BAR * min(max(frac, 0.0), 1.0)))
        limit = f"{clock:6.1f}/{self.seconds:g} s" if self.seconds else f"{step}/{self.total} steps"
        shown = "".join(SHOWN[k].format(v) + "  " for k, v in sorted(self._shown.items(), key=_order))
        self._write(
            f"[{'#' * filled}{'.' * (BAR - filled)}] {limit}  {self._rate(step, clock)}"
            f"{shown}({now - self.t0:.0f} s)"
        )

    def _rate(self, step: int, clock: float) -> str:
        """``12.3 steps/s, ETA 40 s  `` from the time so far (empty before any step)."""
        done, spent = step - self._origin[0], clock - self._origin[1]
        if done <= 0 or spent <= 0:
            return ""
        rate = done / spent
        left = max(self.seconds - clock, 0.0) if self.seconds else (self.total - step) / rate
        return f"{rate:.3g} steps/s, ETA {_duration(left)}  "

    def close(self) -> None:
        """Stop the phase clock and end the line."""
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join()
        if self.tty:
            with self._lock:
                self.stream.write("\n")
                self.stream.flush()


def _order(item: tuple[str, float]) -> int:
    return list(SHOWN).index(item[0])


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"
