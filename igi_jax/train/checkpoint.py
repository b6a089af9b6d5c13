"""orbax checkpoints of a pretraining run: latest + best by validation PSNR, exact resume.

Each checkpoint holds three items:

* ``state``: the replicated train state (NNX model + optimizer state + step) and the pending
  batch's predicted PPM (the train loop computes batch t+1's geometry from the parameters before
  step t's update, so resuming exactly needs that PPM, not a recomputation);
* ``data_iter``: the grain iterator state *before* the pending batch, one file per process
  (``process_<i>-of-<n>.json``, grain's own checkpoint handler): every host resumes its own slice
  of the data order, not host 0's;
* ``meta``: the config and the step's metrics (JSON).

Retention: the latest checkpoint and the best by ``val_psnr`` (``AnyPreservationPolicy``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import grain
import orbax.checkpoint as ocp
from orbax.checkpoint import checkpoint_managers as policies

BEST_METRIC = "val_psnr"


class _IteratorState:
    """A saved grain iterator state, in the shape grain's checkpoint handler reads and writes.

    The loop checkpoints the state from *before* its pending batch, which the live iterator has
    already passed, so the handler gets this holder (``get_state``/``set_state`` as bytes, the
    protocol grain's handler uses for a non-``DatasetIterator``) instead of the iterator.
    """

    def __init__(self, state: dict[str, Any] | None = None):
        self.state = state

    def get_state(self) -> bytes:
        return json.dumps(self.state, indent=1).encode()

    def set_state(self, state: bytes) -> None:
        self.state = json.loads(state)

    def start_prefetch(self) -> None:  # called by the handler after a restore
        pass


def manager(directory: str | Path) -> ocp.CheckpointManager:
    """A manager over ``directory`` keeping the latest and the best (highest ``val_psnr``)."""
    keep = policies.AnyPreservationPolicy(
        [
            policies.LatestN(n=1),
            policies.BestN(
                get_metric_fn=lambda m: m[BEST_METRIC],
                reverse=False,
                n=1,
                keep_checkpoints_without_metrics=False,
            ),
        ]
    )
    options = ocp.CheckpointManagerOptions(
        best_fn=lambda m: m[BEST_METRIC], best_mode="max", preservation_policy=keep, create=True
    )
    return ocp.CheckpointManager(
        Path(directory).absolute(), item_names=("state", "data_iter", "meta"), options=options
    )


def save(
    mgr: ocp.CheckpointManager,
    step: int,
    state: Any,
    data_iter: dict[str, Any],
    meta: dict[str, Any],
    metrics: dict[str, float] | None = None,
) -> None:
    """Save (asynchronously) at ``step``; ``metrics`` with ``val_psnr`` makes it a best candidate."""
    mgr.save(
        step,
        args=ocp.args.Composite(
            state=ocp.args.StandardSave(state),
            data_iter=grain.checkpoint.CheckpointSave(_IteratorState(data_iter)),
            meta=ocp.args.JsonSave(meta),
        ),
        metrics=metrics,
    )


def restore(mgr: ocp.CheckpointManager, step: int, abstract_state: Any) -> tuple[Any, dict, dict]:
    """``(state, data_iter_state, meta)`` of ``step``, ``state`` laid out as ``abstract_state``."""
    out = mgr.restore(
        step,
        args=ocp.args.Composite(
            state=ocp.args.StandardRestore(abstract_state),
            data_iter=grain.checkpoint.CheckpointRestore(_IteratorState()),
            meta=ocp.args.JsonRestore(),
        ),
    )
    return out["state"], out["data_iter"].state, out["meta"]
