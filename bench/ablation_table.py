"""Issue 31's ablation table: each candidate network's net + colour solve against quad-tree +
colour solve, paired per held-out photo, from the runs of ``configs/experiments/ablation_v2_heldout.py``.

    python bench/ablation_table.py [--results bench/results/ablation_v2_heldout]

Prints and writes ``<results>/table.md``: per candidate and step budget, the mean paired PSNR
difference (dB), the images where the net is ahead, the mean PSNR, and the Gaussian counts; each
row names the commit its results were made with. The opponent is the ``shipped`` run's
quad-tree + solve (step budgets are deterministic, so runs made apart pair exactly).
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

from igi_jax.experiments import store

CANDIDATES = ("shipped", "v2_warm", "v2_warm_width", "v2_warm_lookahead")
NET, QT = "net+solve", "quadtree+solve"


def _entries(path: Path) -> tuple[dict[tuple[str, str], dict], str]:
    data = store.load(path / "results.json")
    entries = {(e["image"], e["init"]): e for e in data["entries"] if e["impl"] == "jax"}
    return entries, ", ".join(sorted({r["code"] for r in data["runs"]}))


def _psnr(entry: dict, steps: int) -> float | None:
    return next((r["psnr"] for r in entry["budgets"] if r["budget"] == {"steps": steps}), None)


def table(root: Path) -> str:
    base, base_code = _entries(root / "shipped")
    images = sorted({img for img, init in base if init == QT})
    steps = sorted(
        {r["budget"]["steps"] for e in base.values() for r in e["budgets"] if "steps" in r["budget"]}
    )
    head = "| candidate | Gaussians | " + " | ".join(f"{s} steps" for s in steps) + " | code |"
    lines = [
        f"Held-out photos ×4 ({len(images)}: {', '.join(images)}); cell: mean PSNR of net + solve (dB), "
        "then its paired difference to quad-tree + solve and the images ahead.",
        "",
        head,
        "|" + "---|" * (len(steps) + 3),
    ]
    qt_row = [statistics.mean(_psnr(base[(i, QT)], s) for i in images) for s in steps]
    qt_n = statistics.mean(base[(i, QT)]["gaussians"] for i in images)
    lines.append(
        f"| quad-tree + solve | {qt_n:,.0f} | " + " | ".join(f"{p:.2f}" for p in qt_row) + f" | {base_code} |"
    )
    for name in CANDIDATES:
        if not (root / name / "results.json").exists():
            lines.append(f"| {name} | (not run) |" + " |" * (len(steps) + 1))
            continue
        ents, code = _entries(root / name)
        have = [i for i in images if (i, NET) in ents]
        cells = []
        for s in steps:
            net = [_psnr(ents[(i, NET)], s) for i in have]
            diff = [n - _psnr(base[(i, QT)], s) for n, i in zip(net, have, strict=True)]
            ahead = sum(d > 0 for d in diff)
            cells.append(f"{statistics.mean(net):.2f} ({statistics.mean(diff):+.2f}, {ahead}/{len(have)})")
        n = statistics.mean(ents[(i, NET)]["gaussians"] for i in have)
        lines.append(f"| {name} | {n:,.0f} | " + " | ".join(cells) + f" | {code} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--results", type=Path, default=Path("bench/results/ablation_v2_heldout"))
    args = p.parse_args()
    text = table(args.results)
    print(text)
    (args.results / "table.md").write_text(text)


if __name__ == "__main__":
    main()
