"""orbax checkpoints of a pretraining run: latest + best by validation PSNR, exact resume.

Each checkpoint holds three items:

* ``state``: the replicated train state (NNX model + optimizer state + step) and the pending
  batch's predicted PPM (the train loop computes batch t+1's geometry from the parameters before
  step t's update, so resuming exactly needs that PPM, not a recomputation);
* ``data_iter``: the grain iterator state *before* the pending batch, one file per process
  (``process_<i>-of-<n>.json``, grain's own checkpoint handler): every host resumes its own slice
  of the data order, not host 0's;
* ``meta``: the config and the step's metrics (JSON).

Retention: the latest two checkpoints and the best by ``val_psnr`` (``AnyPreservationPolicy``;
orbax 0.12 deprecates ``max_to_keep`` in favour of ``LatestN``). Two, so that a resume whose latest
checkpoint is damaged (a full disk, a kill mid-write on a file system without atomic renames)
falls back to the one before (:func:`restore_latest`). Temporary folders of unfinished saves
(``*.orbax-checkpoint-tmp*``) are removed when a manager opens the folder
(``cleanup_tmp_directories``) and by :func:`remove_unfinished`.
"""

from __future__ import annotations

import gc
import io
import json
import logging
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grain
import orbax.checkpoint as ocp
from orbax.checkpoint import checkpoint_managers as policies

BEST_METRIC = "val_psnr"
KEEP_LATEST = 2
TMP_SUFFIX = ".orbax-checkpoint-tmp"


class _NoMetricsWarning(logging.Filter):
    """Drop orbax's warning on every save without metrics: most saves here have none, by design
    (only validation steps compete for the best)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "did not provide metrics" not in record.getMessage()


logging.getLogger("absl").addFilter(_NoMetricsWarning())


class _FailedReadEchoes(logging.Filter):
    """Once a restore has failed (and been reported in one line), drop asyncio's "exception was
    never retrieved" records: they are the other concurrent reads of the same damaged folder,
    logged when collected, possibly after :func:`_wait_quiet`, through a handler that holds the
    real stderr."""

    active = False

    def filter(self, record: logging.LogRecord) -> bool:
        return not (self.active and "exception was never retrieved" in record.getMessage())


_ECHOES = _FailedReadEchoes()
logging.getLogger("asyncio").addFilter(_ECHOES)


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
    """A manager over ``directory`` keeping the latest two and the best (highest ``val_psnr``)."""
    keep = policies.AnyPreservationPolicy(
        [
            policies.LatestN(n=KEEP_LATEST),
            policies.BestN(
                get_metric_fn=lambda m: m[BEST_METRIC],
                reverse=False,
                n=1,
                keep_checkpoints_without_metrics=False,
            ),
        ]
    )
    options = ocp.CheckpointManagerOptions(
        best_fn=lambda m: m[BEST_METRIC],
        best_mode="max",
        preservation_policy=keep,
        create=True,
        cleanup_tmp_directories=True,
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


def _reason(e: BaseException) -> str:
    """An exception as one short line (orbax and tensorstore messages run over many lines)."""
    first = next((ln.strip() for ln in str(e).splitlines() if ln.strip()), "")
    first = first.split(" See full TensorStore details")[0]  # a spec dump follows
    text = f"{type(e).__name__}: {first}" if first else type(e).__name__
    return text if len(text) <= 200 else text[:197] + "..."


def _try_restore(mgr: ocp.CheckpointManager, step: int, abstract_state: Any) -> tuple | str:
    """:func:`restore`, or why it failed (one line), without orbax's echoes of the failure.

    A damaged array fails every one of orbax's concurrent reads: the first error is raised, and
    the others print hundreds of tracebacks to stderr (futures completing on the closed event
    loop, never-retrieved coroutine errors when collected). While restoring, stderr and the
    unraisable hook are captured; on success the capture is passed on, on failure it is dropped
    once the echoes have stopped.
    """
    captured = io.StringIO()
    stderr, hook = sys.stderr, sys.unraisablehook
    sys.stderr, sys.unraisablehook = captured, lambda unraisable: None
    reason = None
    try:
        try:
            return restore(mgr, step, abstract_state)
        except Exception as e:  # a damaged folder raises anything from JSON to tensorstore errors
            reason = _reason(e)
            _ECHOES.active = True
        _wait_quiet(captured)  # out of the except block: the failed reads can now be collected
        return reason
    finally:
        sys.stderr, sys.unraisablehook = stderr, hook
        if reason is None:
            stderr.write(captured.getvalue())


def _wait_quiet(captured: io.StringIO, quiet: float = 0.3, limit: float = 10.0) -> None:
    """Collect garbage and wait until nothing has been written to ``captured`` for ``quiet`` s."""
    t0 = time.monotonic()
    size = -1
    while time.monotonic() - t0 < limit:
        gc.collect()
        if captured.tell() == size:
            return
        size = captured.tell()
        time.sleep(quiet)


def restore_latest(
    mgr: ocp.CheckpointManager, abstract_state: Any, log: Callable[[str], None], *, primary: bool = True
) -> tuple[int, Any, dict, dict] | None:
    """``(step, state, data_iter_state, meta)`` of the newest checkpoint that restores.

    A checkpoint that fails to restore is reported in one line and moved aside to
    ``<step>.unreadable`` (by the ``primary`` process), so that the run can save that step again;
    the one before it is tried next.

    Returns:
      ``None`` when ``mgr`` holds no checkpoint.

    Raises:
      ValueError: there are checkpoints but none restores (one line naming the folder).
    """
    steps = sorted(mgr.all_steps(), reverse=True)
    bad: list[tuple[int, str]] = []
    for step in steps:
        out = _try_restore(mgr, step, abstract_state)
        if isinstance(out, str):
            bad.append((step, out))
            continue
        for bad_step, reason in bad:
            folder = Path(mgr.directory) / str(bad_step)
            aside = folder.with_name(f"{folder.name}.unreadable")
            if primary:
                shutil.rmtree(aside, ignore_errors=True)
                folder.rename(aside)
            log(
                f"train: checkpoint {folder} does not restore ({reason}); moved to {aside.name}, "
                f"resuming from step {step}"
            )
        if bad:
            mgr.reload()
        return (step, *out)
    if not bad:
        return None
    step, reason = bad[0]
    others = f" (nor do steps {', '.join(str(s) for s, _ in bad[1:])})" if len(bad) > 1 else ""
    raise ValueError(
        f"no checkpoint restores: {Path(mgr.directory) / str(step)}: {reason}{others}; move "
        f"{mgr.directory} aside to start from step 0"
    )


def remove_unfinished(directory: str | Path) -> list[Path]:
    """Remove the temporary folders of unfinished saves directly in ``directory`` (one run's
    checkpoint folder); returns what was removed."""
    directory = Path(directory)
    gone = [p for p in directory.glob(f"*{TMP_SUFFIX}*") if p.is_dir()] if directory.is_dir() else []
    for p in gone:
        shutil.rmtree(p, ignore_errors=True)
    return gone
