"""The pretraining loop: data → host geometry → sharded update, validation, checkpoints, logs.

Pipelining: batch t+1's PPM (and its dithered points) is predicted with the parameters *before*
step t's update and dispatched ahead of step t, so the host triangulates batch t+1 while the
devices run step t (one step of staleness in the geometry only; the PPM gets no gradient through
it). The host stage reads only the points, so it never waits behind the update. The pending
prediction goes into every checkpoint, so a resumed run is the uninterrupted run, step for step.

Batches: the config gives the batch per device; the global batch is that × the run's devices, and
each host loads its own rows (``batch_per_device × local devices``).

Outputs in ``workdir``: ``checkpoints/`` (orbax: latest + best by validation PSNR),
``metrics.jsonl`` (one JSON line per log/validation point), ``curves.png``, ``config.json``.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax
import numpy as np

from igi_jax import metrics as metrics_lib
from igi_jax import net as net_lib
from igi_jax.data import pipeline
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


def train_and_evaluate(
    cfg: TrainConfig,
    workdir: str | Path,
    *,
    stop_after: int | None = None,
    log: Callable[[str], None] | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Train ``cfg`` in ``workdir``, resuming from its latest checkpoint if there is one.

    Args:
      cfg: the config.
      workdir: output folder (created).
      stop_after: stop (with a checkpoint) after this many steps in total — for tests and for
        splitting a long run across sessions; ``None`` runs to ``cfg.steps``.
      log: where messages go (default stderr).
      progress: draw a progress bar on stderr.

    Returns:
      ``{"step", "state", "stepper", "last_metrics"}``.
    """
    log = log or (lambda m: print(m, file=sys.stderr, flush=True))
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    primary = jax.process_index() == 0  # one writer for the shared files of a multi-host run
    if primary:
        (workdir / "config.json").write_text(json.dumps(cfg.to_dict(), indent=1))
    jsonl = workdir / "metrics.jsonl"
    stepper = Stepper(cfg)
    n_dev, n_proc = jax.device_count(), jax.process_count()
    capacity = triangle_capacity(cfg.data.crop, cfg.kernel_size)
    it = pipeline.make_dataset(
        cfg.data,
        seed=cfg.seed,
        host_batch=stepper.host_batch,
        process_index=jax.process_index(),
        process_count=n_proc,
    )
    it = iter(it)
    val_images = pipeline.validation_images(cfg.data, cfg.val_limit)
    mgr = checkpoint.manager(workdir / "checkpoints")
    end = cfg.steps if stop_after is None else min(cfg.steps, stop_after)

    latest = mgr.latest_step()
    if latest is None:
        step, state = 0, stepper.initial_state()
        it_state = it.get_state()
        batch = stepper.to_global(next(it))
        pending = stepper.predict(state, batch["image"])
        if primary:
            _truncate_jsonl(jsonl, -1)
    else:
        abstract = {"train": stepper.abstract_state, "pending": stepper.abstract_prediction()}
        restored, it_state, _ = checkpoint.restore(mgr, latest, abstract)
        step, state, pending = latest, restored["train"], restored["pending"]
        it.set_state(it_state)
        batch = stepper.to_global(next(it))
        if primary:
            _truncate_jsonl(jsonl, step)
        log(f"train: resumed from step {step} in {workdir}")
    log(
        f"train: {cfg.net} net, {n_dev} device(s) on {n_proc} host(s), global batch "
        f"{stepper.global_batch} ({cfg.data.batch_per_device} per device) × {cfg.data.crop}² crops, "
        f"k={cfg.kernel_size}, steps {step} → {end}"
    )
    geom = stepper.geometry(pending, capacity)

    bar = Progress(total=end, start=step, enabled=progress)
    window: list[dict[str, Any]] = []
    host_seconds = wait_seconds = 0.0
    t_log = time.perf_counter()
    last: dict[str, Any] = {}
    while step < end:
        next_it_state = it.get_state()
        next_batch = stepper.to_global(next(it))  # on the devices once, used by both stages
        next_pred = stepper.predict(state, next_batch["image"])  # before the update
        state, m = stepper.update(state, batch["image"], batch["ppm"], geom)
        t_wait = time.perf_counter()
        jax.block_until_ready((next_pred.points, next_pred.counts))
        t_host = time.perf_counter()
        geom = stepper.geometry(next_pred, capacity)  # host only: overlaps the update
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
            if jax.process_index() == 0:
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
    mgr.wait_until_finished()
    mgr.close()
    bar.close()
    if jax.process_index() == 0:
        from igi_jax.train.curves import write_curves

        write_curves(jsonl, workdir / "curves.png")
    return {"step": step, "state": state, "stepper": stepper, "last_metrics": last}
