"""Backend names shared by every op that has a Pallas kernel and a pure-JAX path, and the record of
which Pallas kernels have actually run.

``"auto"`` picks a kernel's Pallas path only on a platform listed for it in :data:`VERIFIED_PALLAS`
and the pure-JAX path everywhere else (on CPU the Pallas interpreter is correct but slow).
``"pallas"``, ``"pallas-interpret"`` and ``"reference"`` force one; forcing a compiled Pallas kernel
that is not verified on this (non-CPU) platform warns, naming the kernel. The render alone has a
third path on CPU, the C++ kernel (``"cpu-native"``, :data:`VERIFIED_NATIVE`), which
:func:`igi_jax.render.api.resolve_backend` adds.
"""

from __future__ import annotations

import functools
import sys
import warnings

import jax

KERNEL_BACKENDS = ("auto", "reference", "pallas", "pallas-interpret")
KERNELS = ("splat", "dither")  # the ops of pallas_kernels/

# Platform → kernels whose compiled Pallas path has passed ``bench/gpu_check.sh`` there (parity with
# the reference, forward and backward). The only place to flip once a GPU run passes, e.g.
# ``{"gpu": frozenset({"splat", "dither"})}``. Interpret mode is not listed: CI runs it on CPU.
VERIFIED_PALLAS: dict[str, frozenset[str]] = {"gpu": frozenset()}

# Whether ``"auto"`` may pick the C++ splat kernel on CPU (:mod:`pallas_kernels.splat_native`): set
# once its parity tests (tests/pallas_kernels/test_splat_native.py) passed and ``bench/render.py``
# measured it ≥ 3× the XLA path's fit step on 1 and 2 cores (bench/results/render_native*.md).
VERIFIED_NATIVE = True


def native_ready() -> bool:
    """Whether ``"auto"`` renders with the native CPU kernel here: verified, and it builds.

    A build that fails (or no compiler) prints one note on stderr, once, and keeps the XLA path.
    """
    if not VERIFIED_NATIVE:
        return False
    from pallas_kernels import splat_native

    reason = splat_native.unavailable_reason()
    if reason is not None:
        _note_once(f"igi-jax: using the XLA CPU renderer; {reason}")
    return reason is None


@functools.cache
def _note_once(message: str) -> None:
    print(message, file=sys.stderr)


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
