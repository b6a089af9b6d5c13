"""orbax checkpoints of a pretraining run: latest + best by validation PSNR, exact resume.

Each checkpoint holds three items:

* ``state``: the replicated train state (NNX model + optimizer state + step) and the pending
  batch's predicted PPM (the train loop computes batch t+1's geometry from the parameters before
  step t's update, so resuming exactly needs that PPM, not a recomputation);
* ``data_iter``: the grain iterator state *before* the pending batch (JSON);
* ``meta``: the config and the step's metrics (JSON).

Retention: the latest checkpoint and the best by ``val_psnr`` (``AnyPreservationPolicy``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orbax.checkpoint as ocp
from orbax.checkpoint import checkpoint_managers as policies

BEST_METRIC = "val_psnr"


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
            data_iter=ocp.args.JsonSave(data_iter),
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
            data_iter=ocp.args.JsonRestore(),
            meta=ocp.args.JsonRestore(),
        ),
    )
    return out["state"], out["data_iter"], out["meta"]
