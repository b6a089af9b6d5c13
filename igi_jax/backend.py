"""Backend names shared by every op that has a Pallas kernel and a pure-JAX path.

``"auto"`` picks the Pallas kernel on GPU and the pure-JAX path elsewhere (on CPU the Pallas
interpreter is correct but slow); ``"pallas"``, ``"pallas-interpret"`` and ``"reference"`` force one.
"""

from __future__ import annotations

import jax

KERNEL_BACKENDS = ("auto", "reference", "pallas", "pallas-interpret")


def resolve_backend(backend: str, extra: tuple[str, ...] = ()) -> str:
    """Validate ``backend`` against :data:`KERNEL_BACKENDS` + ``extra`` and resolve ``"auto"``."""
    allowed = KERNEL_BACKENDS + extra
    if backend not in allowed:
        raise ValueError(f"unknown {backend=}; expected one of {allowed}")
    if backend == "auto":
        return "pallas" if jax.default_backend() == "gpu" else "reference"
    return backend
