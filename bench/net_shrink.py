"""Does narrowing the net's Gaussians help fine-tuning? Held-out photos only (never Kodak).

    python bench/net_shrink.py --scale 4 --shrink 1.0,0.8,0.65,0.5 --steps 200
    python bench/net_shrink.py --scale 2 --shrink 1.0,0.8,0.65 --steps 200
    python bench/net_shrink.py --scale 4 --shrink 1.0,0.8 --steps 1000
    python bench/net_shrink.py --scale 1 --shrink 1.0,0.8 --steps 200
    python bench/net_shrink.py --weights runs/v2_long_edge48/step4000.npz --shrink 1.0,0.9,0.8 --steps 200

Per held-out photo (``igi_jax.data.samples.VAL_PHOTOS``) at ×scale: the net (``--weights``, default
the shipped ``small``) at k = 3, its
std devs × f (``initialize("net", shrink=f)``), the 8-iteration colour solve, then the shipped fit
config for ``--steps`` (its warm-up recorded per row); PSNR at step 0 and at the end. Quad-tree +
colour solve beside it. One JSON line per photo, appended to ``--out`` (default
``bench/results/net_shrink.jsonl``); ``--report`` turns that file into ``net_shrink.md`` (nothing is
fitted).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
from pathlib import Path

from igi_jax.data.samples import VAL_PHOTOS, downscale
from igi_jax.fit import fit
from igi_jax.init import initialize
from igi_jax.one_image import load_config


def report(path: Path) -> str:
    """Markdown tables (one per scale × steps) from the JSON lines at ``path``."""
    groups: dict[tuple[int, int, int], list[dict]] = {}
    for line in path.read_text().splitlines():
        row = json.loads(line)
        # Rows from before the fit had a warm-up carry no field: they ran without one.
        key = (row.get("weights", "shipped"), row["scale"], row["steps"], row.get("warmup_steps", 0))
        groups.setdefault(key, []).append(row)
    out = [
        "# Narrower net Gaussians for fine-tuning (held-out photos)",
        "",
        f"Made by `bench/net_shrink.py` (commands in its docstring; rows in `{path.name}`, "
        "then `python bench/net_shrink.py --report`). PSNR dB at step 0 → after the steps; "
        "net = shipped `small` unless named, k = 3, std devs × f, 8-iteration colour solve.",
        "",
    ]
    for (weights, scale, steps, warmup), rows in sorted(
        groups.items(), key=lambda kv: (kv[0][0] != "shipped", kv[0])
    ):
        fs = [k for k in rows[0] if k.startswith("net_")]
        ramp = f"{warmup}-step warm-up" if warmup else "no warm-up"
        net = "" if weights == "shipped" else f", net `{weights}`"
        out += [
            f"## ×{scale}, {steps} steps, {ramp}{net}",
            "",
            "| photo | G | " + " | ".join(f"f = {k[4:]}" for k in fs) + " | quad-tree + solve (G) |",
            "|---" * (len(fs) + 3) + "|",
        ]
        for r in rows:
            cells = " | ".join(f"{r[k][0]:.2f} → {r[k][1]:.2f}" for k in fs)
            out.append(
                f"| {r['photo']} | {r['gaussians']:,} | {cells} | {r['quadtree'][0]:.2f} → "
                f"{r['quadtree'][1]:.2f} ({r['quadtree_gaussians']:,}) |"
            )
        gains = [r[fs[1]][1] - r[fs[0]][1] for r in rows] if len(fs) > 1 else []
        if gains:
            out += [
                "",
                f"{fs[1][4:]} vs {fs[0][4:]} after {steps} steps: {min(gains):+.2f} to "
                f"{max(gains):+.2f} dB ({sum(g > 0 for g in gains)} of {len(gains)} photos gain).",
            ]
        out.append("")
    return "\n".join(out)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--datasets", type=Path, default=Path("../shared/datasets"))
    p.add_argument("--weights", help="net weights (default: the shipped small.npz)")
    p.add_argument("--scale", type=int, default=4)
    p.add_argument("--shrink", default="1.0,0.8")
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--out", type=Path, default=Path("bench/results/net_shrink.jsonl"))
    p.add_argument("--report", action="store_true", help="write net_shrink.md from --out and stop")
    args = p.parse_args()
    if args.report:
        args.out.with_suffix(".md").write_text(report(args.out))
        return
    cfg = dataclasses.replace(load_config(None)[0].fit, steps=args.steps, log_every=args.steps)

    def run(g, image):
        res = fit(g, image, cfg)
        return round(res.history[0]["psnr"], 2), round(res.history[-1]["psnr"], 2)

    for stem in VAL_PHOTOS:
        image = downscale(args.datasets / "photos" / f"{stem}.png", args.scale)
        row = {
            "photo": stem,
            "scale": args.scale,
            "steps": args.steps,
            "warmup_steps": cfg.warmup_steps,
            **({"weights": args.weights} if args.weights else {}),
            "size": list(image.shape[:2]),
        }
        for f in (float(v) for v in args.shrink.split(",")):
            init = initialize("net", image, k=3, shrink=f, solve_colors=8, weights=args.weights)
            row["gaussians"] = init.gaussians.num_live()
            row[f"net_{f:g}"] = run(init.gaussians, image)
        qt = initialize("quadtree", image, solve_colors=8)
        row["quadtree_gaussians"] = qt.gaussians.num_live()
        row["quadtree"] = run(qt.gaussians, image)
        row["load_1min"] = os.getloadavg()[0]
        print(json.dumps(row), flush=True)
        with args.out.open("a") as f:
            f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
