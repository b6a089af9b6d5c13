"""The errors a user can cause, which the ``igi`` CLI reports as one line (everything else is a bug
and keeps its traceback)."""

from __future__ import annotations


class InputError(ValueError):
    """A user-facing problem with an input file, flag or config; the message is one clear line."""


class FitDivergedError(ValueError):
    """The loss became NaN or infinite (the fit is stopped; nothing of it should be used)."""
