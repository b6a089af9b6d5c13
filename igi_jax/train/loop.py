"""The pretraining loop: data → host geometry → sharded update, validation, checkpoints, logs.

Pipelining: batch t+1's PPM (and its dithered points) is predicted with the parameters *before*
step t's update and dispatched ahead of step t, so the host triangulates batch t+1 while the
devices run step t (one step of staleness in the geometry only; the PPM gets no gradient through
it). The host stage reads only the points, so it never waits behind the update. The pending
prediction goes into every checkpoint, so a resumed run is the uninterrupted run, step for step.

Batches: the config gives the batch per device; the global batch is that × the run's devices, and
each host loads its own rows (``batch_per_device × local devices``).

Outputs in ``workdir``: ``checkpoints/`` (orbax: latest two + best by validation PSNR),
``metrics.jsonl`` (one JSON line per log/validation point), ``curves.png``, ``config.json``.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax
import numpy as np

from igi_jax import metrics as metrics_lib
from igi_jax import net as net_lib
from igi_jax.data import pipeline
from igi_jax.data.config import REPO
from igi_jax.progress import Progress
from igi_jax.render import render_gaussians
from igi_jax.train import checkpoint
from igi_jax.train.config import TrainConfig
from igi_jax.train.step import Stepper, mean_metrics, triangle_capacity


def validate(model: Any, images: list[tuple[str, np.ndarray]], k: int) -> dict[str, float]:
    """Mean PSNR (dB) and Gaussian count of the net init (no fine-tune) on whole images."""
    psnrs, counts = [], []
    for _, image in images:
        g, _ = net_lib.gaussians_for_image(model, image, k=k)
        psnrs.append(float(metrics_lib.psnr(render_gaussians(g), image)))
        counts.append(g.num_live())
    return {"val_psnr": float(np.mean(psnrs)), "val_gaussians": float(np.mean(counts))}


def _append_jsonl(path: Path, record: dict[str, Any]) -> None:
    with open(path, "a") as f:
        f.write(json.dumps(record) + "\n")


def _truncate_jsonl(path: Path, after_step: int) -> None:
    """Drop log lines past the restored step (a killed run may have logged beyond its checkpoint)."""
    if not path.exists():
        return
    keep = [ln for ln in path.read_text().splitlines() if ln and json.loads(ln)["step"] <= after_step]
    path.write_text("".join(ln + "\n" for ln in keep))


class Interrupted(Exception):
    """SIGINT or SIGTERM stopped the run; every save it started is complete.

    Attributes:
      signum: the signal.
      step: the step the run had reached.
      checkpoint: the latest complete checkpoint's step (``None``: none yet).
    """

    def __init__(self, signum: int, step: int, checkpoint: int | None):
        super().__init__(f"interrupted by signal {signum} at step {step}")
        self.signum, self.step, self.checkpoint = signum, step, checkpoint


class _StopRequest:
    """SIGINT / SIGTERM set :attr:`signum`, which the loop reads between steps; a second signal
    raises ``KeyboardInterrupt`` at once. Installed in the main thread only (Python's rule), and
    not over a signal the parent process ignores (``SIG_IGN``, as for ``cmd &`` in a script)."""

    def __init__(self):
        self.signum: int | None = None
        self._previous: dict[int, Any] = {}
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                if signal.getsignal(sig) is not signal.SIG_IGN:
                    self._previous[sig] = signal.signal(sig, self._handle)

    def _handle(self, signum: int, frame: Any) -> None:
        if self.signum is not None:
            raise KeyboardInterrupt
        self.signum = signum

    def restore(self) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


def check_inputs(cfg: TrainConfig) -> None:
    """Everything a run reads exists: dataset folders, labels, their images, ``init_weights``.

    ``cfg`` should be :meth:`TrainConfig.resolved`.

    Raises:
      ValueError: one line naming what is missing, where, and the remedy.
    """
    pipeline.check_inputs(cfg.data, cfg.val_limit)
    if cfg.init_weights is not None and not Path(cfg.init_weights).is_file():
        raise ValueError(
            f"init_weights {cfg.init_weights} not found (a relative path in a config is relative "
            f"to the repository root {REPO})"
        )


def train_and_evaluate(
    cfg: TrainConfig,
    workdir: str | Path,
    *,
    stop_after: int | None = None,
    log: Callable[[str], None] | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Train ``cfg`` in ``workdir``, resuming from its latest checkpoint if there is one.

    Every input is checked before anything is written, so a failed start leaves ``workdir`` as
    it was. A checkpoint that does not restore is moved aside and the one before it is used
    (:func:`checkpoint.restore_latest`). SIGINT / SIGTERM stop the run between steps: the save
    in flight completes, no unfinished temporary folder is left, and :class:`Interrupted` is
    raised.

    Args:
      cfg: the config (relative paths: to the repository root, see :mod:`igi_jax.train.config`);
        ``workdir/config.json`` records it as given.
      workdir: output folder (created).
      stop_after: stop (with a checkpoint) after this many steps in total — for tests and for
        splitting a long run across sessions; ``None`` runs to ``cfg.steps``.
      log: where messages go (default stderr).
      progress: draw a progress bar on stderr.

    Returns:
      ``{"step", "state", "stepper", "last_metrics"}``.

    Raises:
      ValueError: a missing input, or no checkpoint of ``workdir`` restores (one line).
      Interrupted: SIGINT or SIGTERM.
    """
    log = log or (lambda m: print(m, file=sys.stderr, flush=True))
    workdir = Path(workdir)
    primary = jax.process_index() == 0  # one writer for the shared files of a multi-host run
    run_cfg = cfg.resolved()
    check_inputs(run_cfg)
    stop = _StopRequest()
    mgr = bar = None
    step = 0
    created = [p for p in (workdir, workdir / "checkpoints") if not p.exists()]
    try:
        stepper = Stepper(run_cfg)
        n_dev, n_proc = jax.device_count(), jax.process_count()
        capacity = triangle_capacity(cfg.data.crop, cfg.kernel_size)
        it = pipeline.make_dataset(
            run_cfg.data,
            seed=cfg.seed,
            host_batch=stepper.host_batch,
            process_index=jax.process_index(),
            process_count=n_proc,
        )
        it = iter(it)
        val_images = pipeline.validation_images(run_cfg.data, cfg.val_limit)
        end = cfg.steps if stop_after is None else min(cfg.steps, stop_after)
        jsonl = workdir / "metrics.jsonl"

        mgr = checkpoint.manager(workdir / "checkpoints")
        abstract = {"train": stepper.abstract_state, "pending": stepper.abstract_prediction()}
        restored = checkpoint.restore_latest(mgr, abstract, log, primary=primary)
        if restored is None:
            step, state = 0, stepper.initial_state()
            it_state = it.get_state()
            local = next(it)
            batch = stepper.to_global(local)
            pending = stepper.predict(state, batch["image"], stepper.sizes(batch))
            if primary:
                _truncate_jsonl(jsonl, -1)
        else:
            step, restored_state, it_state, _ = restored
            state, pending = restored_state["train"], restored_state["pending"]
            it.set_state(it_state)
            local = next(it)
            batch = stepper.to_global(local)
            if primary:
                _truncate_jsonl(jsonl, step)
            log(f"train: resumed from step {step} in {workdir}")
        if primary:
            (workdir / "config.json").write_text(json.dumps(cfg.to_dict(), indent=1))
        log(
            f"train: {cfg.net} net, {n_dev} device(s) on {n_proc} host(s), global batch "
            f"{stepper.global_batch} ({cfg.data.batch_per_device} per device) × {cfg.data.crop}² "
            f"crops, k={cfg.kernel_size}, steps {step} → {end}"
        )
        geom = stepper.geometry(pending, capacity, stepper.sizes(local))
        created = []  # started: from here on, the run's files are kept

        bar = Progress(total=end, start=step, enabled=progress)
        window: list[dict[str, Any]] = []
        host_seconds = wait_seconds = 0.0
        t_log = time.perf_counter()
        last: dict[str, Any] = {}
        while step < end and stop.signum is None:
            next_it_state = it.get_state()
            next_local = next(it)
            next_batch = stepper.to_global(next_local)  # on the devices once, used by both stages
            next_pred = stepper.predict(state, next_batch["image"], stepper.sizes(next_batch))
            state, m = stepper.update(state, batch["image"], batch["ppm"], geom, stepper.sizes(batch))
            t_wait = time.perf_counter()
            jax.block_until_ready((next_pred.points, next_pred.counts))
            t_host = time.perf_counter()
            geom = stepper.geometry(next_pred, capacity, stepper.sizes(next_local))  # host only
            host_seconds += time.perf_counter() - t_host
            wait_seconds += t_host - t_wait
            batch, pending, it_state = next_batch, next_pred, next_it_state
            step += 1
            window.append(m)
            record: dict[str, Any] = {}
            if step % cfg.log_every == 0 or step == end:
                now = time.perf_counter()
                record = {
                    "step": step,
                    **mean_metrics(window),
                    "images_per_s": len(window) * stepper.global_batch / (now - t_log),
                    "host_s_per_step": host_seconds / len(window),
                    "predict_wait_s_per_step": wait_seconds / len(window),
                }
                window, host_seconds, wait_seconds, t_log = [], 0.0, 0.0, now
            if step % cfg.val_every == 0 or step == end:
                t_val = time.perf_counter()
                record.update(step=step, **validate(stepper.model(state), val_images, cfg.kernel_size))
                t_log += time.perf_counter() - t_val  # validation is not training throughput
            if record:
                last = record
                if primary:
                    _append_jsonl(jsonl, record)
                bar.update(step, record)
            else:
                bar.update(step)
            if step % cfg.ckpt_every == 0 or step == end or "val_psnr" in record:
                metrics = {"val_psnr": record["val_psnr"]} if "val_psnr" in record else None
                checkpoint.save(
                    mgr,
                    step,
                    {"train": state, "pending": pending},
                    it_state,
                    {"config": cfg.to_dict(), "record": record},
                    metrics,
                )
    except KeyboardInterrupt:  # a second signal, or a SIGINT where no handler could be installed
        stop.signum = stop.signum or signal.SIGINT
    finally:
        stop.restore()
        if bar is not None:
            bar.close()
        if mgr is not None:
            mgr.wait_until_finished()  # the save in flight completes (an interrupt included)
            mgr.close()
        if created and primary:  # a failed start: remove the folders it made (nothing saved yet)
            if workdir / "checkpoints" in created:
                shutil.rmtree(workdir / "checkpoints", ignore_errors=True)
            if workdir in created:
                with contextlib.suppress(OSError):
                    workdir.rmdir()
    if stop.signum is not None:
        if mgr is None:
            raise Interrupted(stop.signum, step, None)
        checkpoint.remove_unfinished(mgr.directory)  # a save that a second signal cut short
        raise Interrupted(stop.signum, step, mgr.latest_step())
    if primary:
        from igi_jax.train.curves import write_curves

        write_curves(jsonl, workdir / "curves.png")
    return {"step": step, "state": state, "stepper": stepper, "last_metrics": last}
