"""Rasterizer speed on this CPU: the native C++ kernel, the tiled XLA path and the naive renderer.

Kodak-size 768×512, 40,000 GaussianImage random-init Gaussians (scales 0.5–1.5 px). All run side
by side in one process on identical inputs: forward, forward + backward (an MSE loss), and a
whole fit step (forward + backward + Adan, as :func:`igi_jax.fit.fit` runs it, on kodim23 when
``../shared`` has it, else a smooth synthetic image) with the PSNR after ``--fit-steps``. The native
kernel runs at each of ``--threads``; the XLA path uses every core the process may run on, so
run it once as is and once under ``taskset -c 0`` for the one-core ratios. Prints absolute times
and ratios; ``--out`` also writes them as Markdown.

    python bench/render.py --out bench/results/render_native.md
    taskset -c 0 python bench/render.py --threads 1 --out bench/results/render_native_1core.md
"""

from __future__ import annotations

import argparse
import itertools
import os
import pathlib
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from naive_render import max_per_tile, render_naive  # noqa: E402

from igi_jax import gaussians as G  # noqa: E402
from igi_jax import io  # noqa: E402
from igi_jax.experiments.store import code_version  # noqa: E402
from igi_jax.fit import FitConfig, fit  # noqa: E402
from igi_jax.render import render, required_capacity  # noqa: E402

KODIM23 = pathlib.Path(__file__).resolve().parents[2] / "shared" / "datasets" / "kodak" / "kodim23.png"


def timeit(fn, args, repeats):
    jax.block_until_ready(fn(*args))  # compile + warm
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        jax.block_until_ready(fn(*args))
        times.append(time.perf_counter() - t)
    return float(np.median(times))


def _target(h: int, w: int) -> tuple[np.ndarray, str]:
    if KODIM23.exists() and (h, w) == (512, 768):
        return io.load_image(KODIM23)[0], "kodim23"
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    image = np.stack([np.sin(9 * xx) * 0.4 + 0.5, yy, (3 * xx * yy) % 1.0], -1)
    return image.astype(np.float32), "synthetic"


def _fit_step(g, target, backend: str, steps: int) -> tuple[float, float]:
    """Median seconds per fit step (blocks of 10) and the PSNR after ``steps``."""
    res = fit(g, target, FitConfig(steps=steps, log_every=10, backend=backend))
    per = [
        (b["seconds"] - a["seconds"]) / (b["step"] - a["step"]) for a, b in itertools.pairwise(res.history)
    ]
    return float(np.median(per)), res.history[-1]["psnr"]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gaussians", type=int, default=40_000)
    ap.add_argument("--height", type=int, default=512)
    ap.add_argument("--width", type=int, default=768)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--variant", default="gi", choices=["gi", "igi"])
    ap.add_argument("--threads", default="1,2", help="native kernel thread counts, comma-separated")
    ap.add_argument("--fit-steps", type=int, default=200)
    ap.add_argument("--no-naive", action="store_true", help="skip the naive renderer (slow)")
    ap.add_argument("--out", help="also write the table here (Markdown)")
    args = ap.parse_args(argv)
    from pallas_kernels import splat_native

    if not splat_native.available():
        print(f"skip the native rows: {splat_native.unavailable_reason()}")
    h, w = args.height, args.width
    g = G.random_init(jax.random.key(0), args.gaussians, h, w, variant=args.variant)
    means, cov, colors, mask = g.means(), g.covariances(), g.colors, g.mask
    cap = required_capacity(means, cov, mask, h, w, backend="reference")  # 8×8-cell entries
    tile_cap = required_capacity(means, cov, mask, h, w, backend="pallas")  # 16×16-tile pairs
    k = max_per_tile(means, cov, mask, h, w, tile_cap)
    target, target_name = _target(h, w)
    zeros = jnp.zeros((h, w, 3), jnp.float32)
    lines = [
        f"# `python bench/render.py {' '.join(sys.argv[1:] if argv is None else argv)}`",
        "",
        f"{h}x{w}, {args.gaussians:,} Gaussians ({args.variant} init), list capacity {cap:,} (cells; "
        f"tiles {tile_cap:,}), naive K = {k} per tile; jax {jax.__version__}, {jax.default_backend()}, "
        f"{len(os.sched_getaffinity(0))} CPU(s) for this process, load average {os.getloadavg()[0]:.2f}; "
        f"fit target {target_name}; code {code_version(exclude='bench/results')}",
    ]

    def xla(m, c, col):
        return render(m, c, col, mask, h, w, capacity=cap, backend="reference")

    def native(m, c, col):
        return render(m, c, col, mask, h, w, capacity=cap, backend="cpu-native")

    def naive(m, c, col):
        return render_naive(m, c, col, mask, h, w, tile_cap, k)

    candidates = [("XLA (reference)", xla, "reference", None)]
    if splat_native.available():
        for t in args.threads.split(","):
            candidates.append((f"native, {t} thread(s)", native, "cpu-native", t))
    if not args.no_naive:
        candidates.append(("naive autodiff", naive, None, None))
    rows = []
    for name, fn, backend, threads in candidates:
        if threads is not None:
            os.environ["IGI_NATIVE_THREADS"] = threads  # read when the kernel is traced
        diff = float(jnp.max(jnp.abs(jax.jit(fn)(means, cov, colors) - jax.jit(xla)(means, cov, colors))))
        fwd = jax.jit(fn)
        grad = jax.jit(
            jax.value_and_grad(
                lambda m, c, col, fn=fn: jnp.mean((fn(m, c, col) - zeros) ** 2), argnums=(0, 1, 2)
            )
        )
        f = timeit(fwd, (means, cov, colors), args.repeats)
        fb = timeit(grad, (means, cov, colors), args.repeats)
        step, psnr = (
            _fit_step(g, target, backend, args.fit_steps) if backend else (float("nan"), float("nan"))
        )
        rows.append((name, f, fb, step, psnr, diff))
    base = rows[0]
    lines += [
        "",
        f"| renderer | forward ms | fwd + bwd ms | fit step ms | PSNR after {args.fit_steps} steps | "
        "max abs diff vs XLA | speed-up: forward | fwd + bwd | fit step |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, f, fb, step, psnr, diff in rows:
        ratio = [f"{b / x:.2f}×" if x == x else "" for b, x in ((base[1], f), (base[2], fb), (base[3], step))]
        lines.append(
            f"| {name} | {f * 1e3:.1f} | {fb * 1e3:.1f} | {step * 1e3:.1f} | {psnr:.4f} | {diff:.1e} | "
            + " | ".join(ratio)
            + " |"
        )
    lines += ["", f"Speed-ups are XLA's time over the row's. Load average after: {os.getloadavg()[0]:.2f}"]
    print("\n".join(lines))
    if args.out:
        pathlib.Path(args.out).write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
