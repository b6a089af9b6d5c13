"""Multi-host start-up: ``jax.distributed`` with the collectives each platform needs.

    python train.py --distributed ...   # on every host, with JAX_COORDINATOR_ADDRESS etc. set

On GPUs the collectives are NCCL's; on CPUs JAX needs a cross-process implementation chosen
before its backend starts (gloo), or every cross-host reduction fails. Tests run 2 processes on
one machine this way (``tests/train/test_multihost.py``).
"""

from __future__ import annotations

import jax


def initialize(**kwargs) -> None:
    """``jax.distributed.initialize(**kwargs)`` (arguments default to the environment), CPU-ready.

    Must run before any other JAX call of the process.
    """
    jax.config.update("jax_cpu_collectives_implementation", "gloo")  # no effect on GPU runs
    jax.distributed.initialize(**kwargs)
