"""igi_jax vs the PyTorch GaussianImage baseline: fit step time and render FPS, side by side.

Kodak size (kodim23, 768×512), 40,000 Gaussians from GaussianImage's random init (``random-gi``,
RS, seed 0) saved to one ``gaussians.npz`` that both frameworks load, this CPU. Both run in one
process on identical inputs, one after the other:

* render: the forward from the raw parameters (positions/covariances included), synchronised
  (``block_until_ready`` / eager torch), median of ``--repeats`` after a warm-up; FPS = 1 / median;
* fit step: forward + backward + Adan step, as each fitter runs it (``igi_jax.fit.fit``: jitted
  ``fori_loop`` blocks; ``baselines.torch_gi.fit``: an eager loop), median over blocks of
  ``--block`` steps (each block also renders once for its PSNR log, in both); compilation excluded.

JAX runs twice, on the tiled XLA path (``reference``) and on the native C++ kernel
(``cpu-native``, when it builds here). Prints absolute numbers and ratios and writes
``bench/results/vs_torch.txt``. The CPU is shared: the load average is printed before and after.
Run: ``python bench/vs_torch.py``.
"""

from __future__ import annotations

import argparse
import itertools
import os
import pathlib
import sys
import tempfile
import time

import jax
import numpy as np
import torch

from baselines import torch_gi
from igi_jax import gaussians as G
from igi_jax import gaussians_file, io
from igi_jax.fit import FitConfig, fit
from igi_jax.render import render_gaussians, required_capacity

KODAK = pathlib.Path(__file__).resolve().parents[2] / "shared" / "datasets" / "kodak"


def _median_time(fn, repeats: int) -> float:
    fn()  # warm-up (and compile, for JAX)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return float(np.median(times))


def _step_seconds(history: list[dict[str, float]]) -> float:
    """Median seconds per step over the logged blocks (entry 0 is the init)."""
    per = [(b["seconds"] - a["seconds"]) / (b["step"] - a["step"]) for a, b in itertools.pairwise(history)]
    return float(np.median(per))


def _load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} / {five:.2f} / {fifteen:.2f}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--image", default=str(KODAK / "kodim23.png"))
    ap.add_argument("--gaussians", type=int, default=40_000)
    ap.add_argument("--repeats", type=int, default=20, help="render repeats per framework")
    ap.add_argument("--block", type=int, default=10, help="fit steps per timed block")
    ap.add_argument("--jax-blocks", type=int, default=5)
    ap.add_argument("--torch-blocks", type=int, default=3)
    ap.add_argument("--torch-threads", type=int, default=2)
    ap.add_argument("--cell", type=int, default=8, help="torch rasterizer cell (16, 8, 4)")
    ap.add_argument("--out", default="bench/results/vs_torch.txt")
    args = ap.parse_args(argv)
    if not pathlib.Path(args.image).exists():
        print(f"skip: {args.image} not found (needs ../shared/datasets/kodak)")
        return 0
    torch.set_num_threads(args.torch_threads)
    lines: list[str] = []

    def say(s: str) -> None:
        print(s, flush=True)
        lines.append(s)

    target, _ = io.load_image(args.image)
    h, w = target.shape[:2]
    say(f"# `python {' '.join(['bench/vs_torch.py', *sys.argv[1:]])}`")
    say(
        f"{pathlib.Path(args.image).name} {w}×{h}, {args.gaussians:,} random-gi Gaussians (RS, seed 0), "
        f"jax {jax.__version__} ({jax.default_backend()}), torch {torch.__version__} "
        f"({torch.get_num_threads()} threads), torch cell {args.cell} px"
    )
    say(f"load average before (1/5/15 min, 2 shared cores): {_load()}")
    g0 = G.random_init(jax.random.key(0), args.gaussians, h, w, kind="rs", variant="gi")
    with tempfile.TemporaryDirectory() as tmp:
        path = gaussians_file.save_gaussians(pathlib.Path(tmp) / "gaussians.npz", g0, init="random-gi")
        g = gaussians_file.load_gaussians(path)
        tg = torch_gi.TorchGaussians.load(path)

    from pallas_kernels import splat_native

    backends = ["reference"] + (["cpu-native"] if splat_native.available() else [])
    cap = required_capacity(g.means(), g.covariances(), g.mask, h, w, backend="reference")
    params = g.params()
    with torch.no_grad():
        img_t = tg(args.cell).numpy()

    def torch_render():
        with torch.no_grad():
            tg(args.cell)

    t_torch = _median_time(torch_render, args.repeats)
    n_torch = args.block * args.torch_blocks
    tres = torch_gi.fit(tg, target, FitConfig(steps=n_torch, log_every=args.block), cell=args.cell)
    s_torch = _step_seconds(tres.history)
    # Render: forward from the raw parameters, synchronised; fit steps as each fitter runs them
    # (compilation excluded by igi_jax.fit.fit).
    jax_rows = {}
    for be in backends:
        jax_render = jax.jit(lambda p, be=be: render_gaussians(g.with_params(p), capacity=cap, backend=be))
        diff = float(np.max(np.abs(img_t - np.asarray(jax_render(params)))))
        t_jax = _median_time(
            lambda jax_render=jax_render: jax.block_until_ready(jax_render(params)), args.repeats
        )
        res = fit(g, target, FitConfig(steps=args.block * args.jax_blocks, log_every=args.block, backend=be))
        jax_rows[be] = (t_jax, _step_seconds(res.history), res, diff)
    say("max |torch − jax| render difference: " + ", ".join(f"{be} {r[3]:.2e}" for be, r in jax_rows.items()))
    common = min(args.block * args.jax_blocks, n_torch)
    psnr_t = next(x["psnr"] for x in tres.history if x["step"] == common)

    say("")
    head = " | ".join(f"JAX {be}" for be in backends)
    ratios = " | ".join(f"PyTorch / JAX {be}" for be in backends)
    say(f"| | {head} | PyTorch baseline | {ratios} |")
    say("|---|" + "---|" * (2 * len(backends) + 1))
    t = [jax_rows[be][0] for be in backends]
    s_ = [jax_rows[be][1] for be in backends]

    def row(label, jax_vals, torch_val, fmt, ratio):
        cells = [fmt.format(v) for v in jax_vals] + [fmt.format(torch_val)] + [ratio(v) for v in jax_vals]
        say(f"| {label} | " + " | ".join(cells) + " |")

    row(
        f"render, ms (median of {args.repeats})",
        [x * 1e3 for x in t],
        t_torch * 1e3,
        "{:.1f}",
        lambda v: f"{t_torch * 1e3 / v:.2f}×",
    )
    row("render FPS", [1 / x for x in t], 1 / t_torch, "{:.2f}", lambda v: f"{(1 / t_torch) / v:.3f}×")
    row(
        f"fit step (fwd + bwd + Adan), ms (median over blocks of {args.block})",
        [x * 1e3 for x in s_],
        s_torch * 1e3,
        "{:.1f}",
        lambda v: f"{s_torch * 1e3 / v:.2f}×",
    )
    row("fit steps / s", [1 / x for x in s_], 1 / s_torch, "{:.2f}", lambda v: f"{(1 / s_torch) / v:.3f}×")
    say("")
    for be in backends:
        res = jax_rows[be][2]
        psnr_j = next(x["psnr"] for x in res.history if x["step"] == common)
        say(
            f"JAX {be}: compile (fit, excluded above) {res.compile_seconds:.1f} s, PSNR after {common} steps "
            f"{psnr_j:.3f} dB"
        )
    say(f"PyTorch: PSNR after {common} steps {psnr_t:.3f} dB")
    say(f"load average after (1/5/15 min): {_load()}")
    out = pathlib.Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
