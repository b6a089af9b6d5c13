"""Net init on Kodak with an untrained network: count, per-stage time, PSNR; and the train-step cost.

Issue 15's figures. Two parts, each written to ``bench/results/``:

* ``init`` (default): an *untrained* ``small`` network (seed 0) initialises kodim23 at k = 3 and 4.
  Each k runs once to compile, then ``--repeats`` times; the median run's stages are reported
  (network, dithering, Delaunay incl. border points + ellipses, padding, features + fields, and
  a render of the result), with the Gaussian count and the PSNR of the render; then the
  optional colour solve after the net init (dB at step 0 and after ``--fit-steps`` steps of the
  shipped fit config, with and without the solve). Target: whole init ≤ 1 s warm at k = 3.
* ``step``: the training cost of each candidate config on a batch of 4 × 128 × 128 crops:
  network forward, network forward+backward, the whole ``batch_loss`` forward+backward, and the
  host stage (dithering + Delaunay) for the batch with 1 thread and with a thread pool.

Usage::

    python bench/net_init.py init --out bench/results/net_init       # ~5 min on the idle CPU
    python bench/net_init.py step --out bench/results/net_init_step  # ~5 min
    python bench/net_init.py init --weights igi_jax/net/weights/small.npz --fit-steps 0 \
        --out bench/results/net_init_trained                          # the shipped weights

Untrained weights make the PSNR meaningless as quality (the PPM is ≈ 0.5 everywhere and the
opacity ≈ 0.5); the count and timings are what an init costs. The machine's load average is
recorded with each result: timings on a shared CPU are upper bounds.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import os
import statistics
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx
from PIL import Image

KODAK = Path(__file__).resolve().parents[1].parent / "shared" / "datasets" / "kodak"
STAGES = ("t_network", "t_dither", "t_delaunay", "t_pad", "t_fields")


def _load(name: str) -> np.ndarray:
    path = KODAK / f"{name}.png"
    if not path.exists():
        raise SystemExit(f"{path} not found (Kodak lives in ../shared/datasets/kodak)")
    return np.asarray(Image.open(path).convert("RGB"), np.float32) / 255.0


def _env() -> dict:
    return {
        "jax": jax.__version__,
        "backend": jax.default_backend(),
        "cpus": os.cpu_count(),
        "load_average": os.getloadavg()[0],
        "date": time.strftime("%Y-%m-%d %H:%M"),
    }


def bench_init(args) -> dict:
    from igi_jax import metrics
    from igi_jax.fit import fit
    from igi_jax.init import color_solve
    from igi_jax.net import InstantGINet, NetConfig, gaussians_for_image
    from igi_jax.one_image import load_config
    from igi_jax.render import render, required_capacity

    image = _load(args.image)
    if args.weights:
        from igi_jax.net import load_weights

        model = load_weights(args.weights)
    else:
        model = InstantGINet(NetConfig.preset(args.config), rngs=nnx.Rngs(0))
    fit_cfg = load_config(None)[0].fit
    out = {"env": _env(), "image": args.image, "config": args.config, "weights": args.weights, "runs": []}
    for k in args.k:
        first = gaussians_for_image(model, image, k=k)[1]  # compiles
        runs = [gaussians_for_image(model, image, k=k) for _ in range(args.repeats)]
        runs.sort(key=lambda r: r[1]["seconds"])
        g, info = runs[len(runs) // 2]
        means, cov = g.means(), g.covariances()
        cap = required_capacity(means, cov, g.mask, g.height, g.width)
        draw = jax.jit(functools.partial(render, height=g.height, width=g.width, capacity=cap))
        jax.block_until_ready(draw(means, cov, g.colors, g.mask))
        t_render = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            img = jax.block_until_ready(draw(g.means(), g.covariances(), g.colors, g.mask))
            t_render.append(time.perf_counter() - t0)
        row = {
            "k": k,
            "gaussians": info["gaussians"],
            "points": info["points"],
            "init_seconds_median": info["seconds"],
            "init_seconds_all": [r[1]["seconds"] for r in runs],
            **{s: info[s] for s in STAGES},
            "t_render": statistics.median(t_render),
            "compile_seconds_first": first["compile_seconds"],
            "psnr": float(metrics.psnr(img, image)),
            "ppm_mean": info["ppm_mean"],
        }
        if args.fit_steps:
            cfg = dataclasses.replace(fit_cfg, steps=args.fit_steps, log_every=args.fit_steps)
            for solve in (0, args.solve_iters):
                g0 = g
                if solve:
                    t0 = time.perf_counter()
                    g0, sinfo = color_solve.solve_colors_with_info(g, image, iters=solve)
                    jax.block_until_ready(g0)
                    row[f"t_solve_{solve}"] = time.perf_counter() - t0 - sinfo["compile_seconds"]
                res = fit(g0, jnp.asarray(image), cfg)
                row[f"psnr_step0_solve{solve}"] = float(
                    metrics.psnr(
                        render(g0.means(), g0.covariances(), g0.colors, g0.mask, g.height, g.width), image
                    )
                )
                row[f"psnr_step{args.fit_steps}_solve{solve}"] = res.history[-1]["psnr"]
        out["runs"].append(row)
        print(json.dumps(row), flush=True)
    out["env_end"] = _env()
    return out


def bench_step(args) -> dict:
    from igi_jax.net import InstantGINet, NetConfig, batch_loss, host_geometry_with_info, predict_ppm

    configs = {
        "tiny": NetConfig.tiny(),
        "small": NetConfig.small(),
        "small-narrow": NetConfig(dims=(16, 32, 64, 128), depths=(1, 1, 2, 1)),
        "small-wide": NetConfig(dims=(32, 64, 128, 256), depths=(2, 2, 6, 2)),
    }
    rng = np.random.default_rng(0)
    b, s = args.batch, args.crop
    images = jnp.asarray(rng.uniform(size=(b, s, s, 3)), jnp.float32)
    y, x = np.mgrid[0:s, 0:s] / s
    # A textured PPM of mean ≈ 0.35 (an untrained net's is a flat 0.5).
    ppm = np.stack([0.35 + 0.3 * np.sin((i + 3) * 5 * x) * np.cos((i + 2) * 4 * y) for i in range(b)])
    ppm = ppm.astype(np.float32)
    target = jnp.asarray(ppm)

    def timeit(f, *fargs):
        jax.block_until_ready(f(*fargs))
        ts = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            jax.block_until_ready(f(*fargs))
            ts.append(time.perf_counter() - t0)
        return min(ts)

    out = {"env": _env(), "batch": b, "crop": s, "configs": []}
    geom, ginfo = host_geometry_with_info(ppm, 3)
    host = {
        f"threads{t}": timeit(lambda t: host_geometry_with_info(ppm, 3, threads=t)[0].mask, t) for t in (1, 2)
    }
    out["host"] = {
        **host,
        "triangles": ginfo["triangles"],
        "T": geom.capacity,
        "render_capacity": geom.render_capacity,
    }
    print(json.dumps(out["host"]), flush=True)
    for name in args.configs:
        cfg = configs[name]
        model = InstantGINet(cfg, rngs=nnx.Rngs(0))
        gd, st = nnx.split(model)
        n = sum(int(np.prod(v.shape)) for v in jax.tree.leaves(nnx.state(model, nnx.Param)))
        fwd = jax.jit(lambda st, x, gd=gd: predict_ppm(nnx.merge(gd, st), x))

        def net_loss(st, x, gd=gd):
            f, p = predict_ppm(nnx.merge(gd, st), x)
            return jnp.mean(f * f) + jnp.mean(p)

        net_grad = jax.jit(jax.grad(net_loss))
        loss_grad = jax.jit(
            jax.value_and_grad(
                lambda st, x, t, g, gd=gd: batch_loss(nnx.merge(gd, st), x, t, g), has_aux=True
            )
        )
        row = {
            "name": name,
            "dims": cfg.dims,
            "depths": cfg.depths,
            "params": n,
            "net_fwd": timeit(fwd, st, images),
            "net_fwd_bwd": timeit(net_grad, st, images),
            "loss_fwd_bwd": timeit(loss_grad, st, images, target, geom),
        }
        # One training step = PPM forward (for the triangles) + host stage + loss forward+backward.
        row["step_estimate"] = row["net_fwd"] + host["threads2"] + row["loss_fwd_bwd"]
        out["configs"].append(row)
        print(json.dumps(row), flush=True)
    out["env_end"] = _env()
    return out


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="part", required=True)
    pi = sub.add_parser("init")
    pi.add_argument("--image", default="kodim23")
    pi.add_argument("--config", default="small")
    pi.add_argument("--weights", help="a weights file (e.g. the shipped one) instead of a seed-0 net")
    pi.add_argument("--k", type=int, nargs="+", default=[3, 4])
    pi.add_argument("--repeats", type=int, default=5)
    pi.add_argument("--fit-steps", type=int, default=200, help="0 skips the fits")
    pi.add_argument("--solve-iters", type=int, default=8)
    pi.add_argument("--out", type=Path, default=Path("bench/results/net_init"))
    ps = sub.add_parser("step")
    ps.add_argument("--configs", nargs="+", default=["small-narrow", "small", "small-wide"])
    ps.add_argument("--batch", type=int, default=4)
    ps.add_argument("--crop", type=int, default=128)
    ps.add_argument("--repeats", type=int, default=3)
    ps.add_argument("--out", type=Path, default=Path("bench/results/net_init_step"))
    args = p.parse_args(argv)
    result = bench_init(args) if args.part == "init" else bench_step(args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {args.out.with_suffix('.json')}")


if __name__ == "__main__":
    main()
