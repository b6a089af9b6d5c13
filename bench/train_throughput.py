"""Pretraining throughput: images/s of a config's train step on this machine's devices.

    python bench/train_throughput.py --config configs/net_small.py [--steps 5] [--crop N] [--batch N]
    XLA_FLAGS=--xla_force_host_platform_device_count=2 python bench/train_throughput.py --config ...

Synthetic batches (random smooth images and PPMs: the step's cost does not depend on content
beyond the triangle count, which is set by the PPM; the synthetic PPM has the training labels'
mean). Times the three stages of a step separately (each waited for), then images/s of the
pipelined loop of :mod:`igi_jax.train.loop` two ways, side by side on the same batches, warm:

* ``host_dither``: the loop as it was: the host dithers the predicted PPM, a device call queued
  behind the in-flight update, so the host stage cannot overlap it;
* ``device_dither``: the loop as it is: the predict stage dithers, the host gets only points.

``--render reference`` keeps the train step's render on the XLA path where ``auto`` would pick the
native CPU kernel (:data:`igi_jax.backend.VERIFIED_NATIVE`): the before / after of that kernel.

Prints one line of JSON (appended to ``bench/results/train_throughput.jsonl`` with ``--record``).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import jax
import numpy as np

from igi_jax import net as net_lib
from igi_jax.train import config as config_lib
from igi_jax.train.step import Stepper, triangle_capacity


def smooth(rng: np.random.Generator, shape: tuple[int, ...], scale: int) -> np.ndarray:
    """Random field smoothed by block upsampling (values in [0, 1])."""
    coarse = rng.uniform(size=(shape[0], -(-shape[1] // scale), -(-shape[2] // scale), *shape[3:]))
    up = coarse.repeat(scale, 1).repeat(scale, 2)[:, : shape[1], : shape[2]]
    return up.astype(np.float32)


def pipelined(st: Stepper, state, batches: list, cap: int, *, host_dither: bool):
    """The train loop's pipelining over ``batches`` → (state, seconds after the first batch)."""

    def geometry(pred):
        if host_dither:  # as before: the host dithers the PPM (a device call) itself
            k = st.cfg.kernel_size
            local = net_lib.host_geometry(
                st.to_local(pred.ppm), k, capacity=cap, min_render_capacity=st._render_capacity
            )
            st._render_capacity = local.render_capacity
            return st.to_global(local)
        return st.geometry(pred, cap)

    glob = [{k: st.to_global(v) for k, v in x.items()} for x in batches]
    geom = geometry(st.predict(state, glob[0]["image"]))
    t0 = time.perf_counter()
    for cur, nxt in zip(glob[:-1], glob[1:], strict=True):
        pred = st.predict(state, nxt["image"])
        state, m = st.update(state, cur["image"], cur["ppm"], geom)
        geom = geometry(pred)
    jax.block_until_ready(m["loss"])
    return state, time.perf_counter() - t0


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--config", required=True)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--crop", type=int)
    p.add_argument("--batch", type=int)
    p.add_argument("--repeats", type=int, default=3, help="alternating runs of each loop variant")
    p.add_argument("--record", action="store_true")
    p.add_argument("--render", choices=("auto", "reference"), default="auto", help="see the docstring")
    args = p.parse_args()
    if args.render == "reference":
        from igi_jax import backend as backend_lib

        backend_lib.VERIFIED_NATIVE = False
    from igi_jax.render import api as render_api

    cfg = config_lib.load(args.config)
    changes = {k: v for k, v in (("crop", args.crop), ("batch_per_device", args.batch)) if v}
    cfg = config_lib.with_data(cfg, **changes)
    st = Stepper(cfg)
    b, c = st.global_batch, cfg.data.crop
    rng = np.random.default_rng(0)
    batches = [
        {"image": smooth(rng, (b, c, c, 3), 8), "ppm": 0.35 * smooth(rng, (b, c, c), 16)}
        for _ in range(args.steps + 1)
    ]
    state = st.initial_state()
    cap = triangle_capacity(c, cfg.kernel_size)
    times = {"predict": [], "host": [], "update": [], "step": []}
    for i, batch in enumerate(batches):
        t0 = time.perf_counter()
        images, target = st.to_global(batch["image"]), st.to_global(batch["ppm"])
        ppm = jax.block_until_ready(st.predict(state, images))
        t1 = time.perf_counter()
        geom = st.geometry(ppm, cap)
        t2 = time.perf_counter()
        state, m = st.update(state, images, target, geom)
        jax.block_until_ready(m["loss"])
        t3 = time.perf_counter()
        if i:  # the first step compiles
            for k, v in (("predict", t1 - t0), ("host", t2 - t1), ("update", t3 - t2), ("step", t3 - t0)):
                times[k].append(v)
    med = {k: float(np.median(v)) for k, v in times.items()}
    loop = {mode: [] for mode in ("host_dither", "device_dither")}
    for _ in range(args.repeats):
        for mode in loop:
            state, seconds = pipelined(st, state, batches, cap, host_dither=mode == "host_dither")
            loop[mode].append(b * (len(batches) - 1) / seconds)
    loop_ips = {k: float(np.median(v)) for k, v in loop.items()}
    params = sum(x.size for x in jax.tree.leaves(st.abstract_state))
    out = {
        "config": args.config,
        "render": render_api.resolve_backend("auto"),
        "net": cfg.net,
        "devices": jax.device_count(),
        "batch": b,
        "crop": c,
        "state_elements": int(params),
        "seconds": med,
        "images_per_s": b / med["step"],
        "loop_images_per_s": loop_ips,
        "loop_speedup": loop_ips["device_dither"] / loop_ips["host_dither"],
        "load_1min": os.getloadavg()[0],
        "steps_timed": args.steps,
    }
    print(json.dumps(out))
    if args.record:
        with open(Path("bench/results/train_throughput.jsonl"), "a") as f:
            f.write(json.dumps(out) + "\n")


if __name__ == "__main__":
    main()
