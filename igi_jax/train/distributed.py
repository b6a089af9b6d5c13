"""Multi-host start-up: ``jax.distributed`` with the collectives each platform needs.

    python train.py --distributed ...   # on every host, with JAX_COORDINATOR_ADDRESS etc. set

On GPUs the collectives are NCCL's; on CPUs JAX needs a cross-process implementation chosen
before its backend starts (gloo), or every cross-host reduction fails. Tests run 2 processes on
one machine this way (``tests/train/test_multihost.py``).
"""

from __future__ import annotations

import os

import jax

ENV = {"num_processes": "JAX_NUM_PROCESSES", "process_id": "JAX_PROCESS_ID"}


def initialize(**kwargs) -> None:
    """``jax.distributed.initialize(**kwargs)`` (arguments default to the environment), CPU-ready.

    ``num_processes`` and ``process_id`` default to ``JAX_NUM_PROCESSES`` / ``JAX_PROCESS_ID``
    when set: jax 0.10 reads only ``JAX_COORDINATOR_ADDRESS`` itself (and SLURM / Open MPI's
    variables), so without this the documented command failed with "Number of processes must be
    defined". Must run before any other JAX call of the process.
    """
    for arg, var in ENV.items():
        if kwargs.get(arg) is None and os.environ.get(var):
            kwargs[arg] = int(os.environ[var])
    jax.config.update("jax_cpu_collectives_implementation", "gloo")  # no effect on GPU runs
    jax.distributed.initialize(**kwargs)
