"""SIGINT and SIGTERM as one exception, so that ``with`` blocks (the output lock, staged temp
files) clean up on either: SIGTERM is what ``timeout``, SLURM and ``kill`` send, and its default
action ends the process on the spot, leaving the lock behind."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(KeyboardInterrupt):
    """A signal of :data:`SIGNALS` arrived; ``exit_code`` follows the shell's 128 + signal number."""

    def __init__(self, signum: int):
        self.signal_name = signal.Signals(signum).name
        self.exit_code = 128 + signum
        super().__init__(self.signal_name)


def describe(e: KeyboardInterrupt) -> tuple[str, int]:
    """``(signal name, exit code)`` of an interruption (a plain ``KeyboardInterrupt`` is SIGINT)."""
    if isinstance(e, Interrupted):
        return e.signal_name, e.exit_code
    return "SIGINT", 128 + signal.SIGINT


@contextlib.contextmanager
def signals_raise() -> Iterator[None]:
    """Within the block, SIGINT and SIGTERM raise :class:`Interrupted` (main thread only: Python
    lets no other thread set handlers); the previous handlers come back on exit."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame) -> None:
        raise Interrupted(signum)

    saved = {s: signal.signal(s, handler) for s in SIGNALS}
    try:
        yield
    finally:
        for s, h in saved.items():
            signal.signal(s, h)
