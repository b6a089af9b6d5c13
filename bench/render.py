"""Rasterizer speed: ours (tiled XLA + hand-written VJP) vs the naive autodiff renderer.

Kodak-size 768×512, 40,000 GaussianImage random-init Gaussians (scales 0.5–1.5 px), this CPU.
Both renderers run side by side in one process on identical inputs; prints absolute times and
the ratios. Run: ``python bench/render.py [--gaussians 40000] [--repeats 5]``.
"""

from __future__ import annotations

import argparse
import pathlib
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from naive_render import max_per_tile, render_naive  # noqa: E402

from igi_jax import gaussians as G  # noqa: E402
from igi_jax.render import render, required_capacity  # noqa: E402


def timeit(fn, args, repeats):
    jax.block_until_ready(fn(*args))  # compile + warm
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        jax.block_until_ready(fn(*args))
        times.append(time.perf_counter() - t)
    return float(np.median(times))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gaussians", type=int, default=40_000)
    ap.add_argument("--height", type=int, default=512)
    ap.add_argument("--width", type=int, default=768)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--variant", default="gi", choices=["gi", "igi"])
    args = ap.parse_args(argv)
    h, w = args.height, args.width
    g = G.random_init(jax.random.key(0), args.gaussians, h, w, variant=args.variant)
    means, cov, colors, mask = g.means(), g.covariances(), g.colors, g.mask
    cap = required_capacity(means, cov, mask, h, w, backend="reference")  # 8×8-cell entries
    tile_cap = required_capacity(means, cov, mask, h, w, backend="pallas")  # 16×16-tile pairs
    k = max_per_tile(means, cov, mask, h, w, tile_cap)
    target = jnp.zeros((h, w, 3), jnp.float32)

    def ours(m, c, col):
        return render(m, c, col, mask, h, w, capacity=cap, backend="reference")

    def naive(m, c, col):
        return render_naive(m, c, col, mask, h, w, tile_cap, k)

    diff = float(jnp.max(jnp.abs(jax.jit(ours)(means, cov, colors) - jax.jit(naive)(means, cov, colors))))
    print(
        f"{h}x{w}, {args.gaussians:,} Gaussians ({args.variant} init), list capacity {cap:,} "
        f"(cells; tiles {tile_cap:,}), naive K = {k} per tile, max |ours - naive| = {diff:.2e}"
    )
    print(f"jax {jax.__version__}, backend {jax.default_backend()}, devices {jax.devices()}")
    rows = []
    for name, fn in (("ours", ours), ("naive", naive)):
        fwd = jax.jit(fn)
        grad = jax.jit(
            jax.value_and_grad(
                lambda m, c, col, fn=fn: jnp.mean((fn(m, c, col) - target) ** 2), argnums=(0, 1, 2)
            )
        )
        rows.append(
            (
                name,
                timeit(fwd, (means, cov, colors), args.repeats),
                timeit(grad, (means, cov, colors), args.repeats),
            )
        )
    for name, f, fb in rows:
        print(f"{name:6s} forward {f * 1e3:8.1f} ms   forward+backward {fb * 1e3:8.1f} ms")
    (_, f0, fb0), (_, f1, fb1) = rows
    print(f"speed-up vs naive: forward {f1 / f0:.2f}x, forward+backward {fb1 / fb0:.2f}x")


if __name__ == "__main__":
    main()
