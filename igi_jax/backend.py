"""Backend names shared by every op that has a Pallas kernel and a pure-JAX path, and the record of
which Pallas kernels have actually run.

``"auto"`` picks a kernel's Pallas path only on a platform listed for it in :data:`VERIFIED_PALLAS`
and the pure-JAX path everywhere else (on CPU the Pallas interpreter is correct but slow).
``"pallas"``, ``"pallas-interpret"`` and ``"reference"`` force one; forcing a compiled Pallas kernel
that is not verified on this (non-CPU) platform warns, naming the kernel.
"""

from __future__ import annotations

import warnings

import jax

KERNEL_BACKENDS = ("auto", "reference", "pallas", "pallas-interpret")
KERNELS = ("splat", "dither")  # the ops of pallas_kernels/

# Platform → kernels whose compiled Pallas path has passed ``bench/gpu_check.sh`` there (parity with
# the reference, forward and backward). The only place to flip once a GPU run passes, e.g.
# ``{"gpu": frozenset({"splat", "dither"})}``. Interpret mode is not listed: CI runs it on CPU.
VERIFIED_PALLAS: dict[str, frozenset[str]] = {"gpu": frozenset()}


def is_verified(kernel: str, platform: str | None = None) -> bool:
    """Whether ``kernel``'s compiled Pallas path has passed its check on ``platform`` (default: JAX's)."""
    if kernel not in KERNELS:
        raise ValueError(f"unknown {kernel=}; expected one of {KERNELS}")
    return kernel in VERIFIED_PALLAS.get(platform or jax.default_backend(), frozenset())


def resolve_backend(backend: str, extra: tuple[str, ...] = (), *, kernel: str | None = None) -> str:
    """Validate ``backend`` against :data:`KERNEL_BACKENDS` + ``extra`` and resolve ``"auto"``.

    Args:
      backend: a name from :data:`KERNEL_BACKENDS` or ``extra``.
      extra: further names the caller accepts (returned unchanged).
      kernel: the op being dispatched (one of :data:`KERNELS`); ``None`` means every kernel the
        caller may run, so ``"auto"`` picks Pallas only when all of them are verified.

    Returns:
      ``backend``, with ``"auto"`` replaced by ``"pallas"`` or ``"reference"``.
    """
    allowed = KERNEL_BACKENDS + extra
    if backend not in allowed:
        raise ValueError(f"unknown {backend=}; expected one of {allowed}")
    kernels = KERNELS if kernel is None else (kernel,)
    unverified = [k for k in kernels if not is_verified(k)]
    if backend == "auto":
        return "reference" if unverified else "pallas"
    platform = jax.default_backend()
    if backend == "pallas" and unverified and platform != "cpu":  # on CPU it fails to compile anyway
        warnings.warn(
            f"backend='pallas': the Pallas kernel(s) {', '.join(unverified)} have not passed "
            f"bench/gpu_check.sh on {platform!r}; their results are unverified "
            "(use 'reference' for the tested path)",
            UserWarning,
            stacklevel=2,
        )
    return backend
