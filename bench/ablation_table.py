"""Issue 31's ablation table: each candidate network's net + colour solve against quad-tree +
colour solve, paired per held-out photo, from the runs of ``configs/experiments/ablation_v2_heldout.py``.

    python bench/ablation_table.py [--results bench/results/ablation_v2_heldout]

Prints and writes ``<results>/table.md``: per candidate and step budget, the mean paired PSNR
difference (dB), the images where the net is ahead, the mean PSNR, and the Gaussian counts; each
row names the commit its results were made with. The opponent is the ``shipped`` run's
quad-tree + solve (step budgets are deterministic, so runs made apart pair exactly). A second
table does the same at matched counts, from ``configs/experiments/matched_count_heldout.py``
(``bench/results/matched_count_heldout/<candidate>``): each run's net has its own quad-tree
row's count on every image, and pairs with that row.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from igi_jax.experiments import store
from igi_jax.experiments.tables import commits, paired, summarize

CANDIDATES = (
    "shipped",
    "v2_warm",
    "v2_warm_width",
    "v2_warm_width2",
    "v2_warm_width3",
    "v2_warm_width4",
    "v2_warm_lookahead",
    "v2_long_width3_2000",
    "v2_long_edge_2000",
    *(f"v2_long_edge48_{n}" for n in (2000, 3000, 4000, 6000, 8000)),
    *(f"v2_distill_{n}" for n in (400, 1000, 2000)),
)
NET, QT = "net+solve", "quadtree+solve"


def _results(path: Path, init: str) -> tuple[list[dict], str]:
    """The JAX entries of ``init`` in a run's ``results.json``, and the commits that made them."""
    data = store.load(path / "results.json")
    return [e for e in data["entries"] if e["impl"] == "jax" and e["init"] == init], ", ".join(
        commits(data)[0]
    )


def _row(name: str, qt: list[dict], net: list[dict], labels: list[str], code: str) -> str:
    data = {"entries": qt + net}  # one table's worth: the candidate's rows beside the opponent's
    row = next(r for r in summarize(data) if r["init"] == NET)
    (pair,) = paired(data, versus=("jax", QT, None))
    cells = [
        f"{row['budgets'][b]['psnr']:.2f} ({pair['budgets'][b]['delta']:+.2f}, "
        f"{pair['budgets'][b]['ahead']}/{pair['budgets'][b]['images']})"
        for b in labels
    ]
    return f"| {name} | {row['gaussians']:,.0f} | " + " | ".join(cells) + f" | {code} |"


def matched_table(root: Path, labels: list[str]) -> list[str]:
    """The matched-count rows: each run's net + solve against its own quad-tree + solve."""
    runs = [p for p in sorted(root.glob("*/results.json"))]
    if not runs:
        return []
    lines = [
        "",
        "At matched counts (`configs/experiments/matched_count_heldout.py`): the net's PPM scaled to "
        "quad-tree + solve's count on every image; paired with that run's own quad-tree + solve row.",
        "",
        "| candidate | Gaussians | " + " | ".join(labels) + " | code |",
        "|" + "---|" * (len(labels) + 3),
    ]
    for path in runs:
        qt, qt_code = _results(path.parent, QT)
        net, code = _results(path.parent, NET)
        (qt_row,) = summarize({"entries": qt})
        lines.append(
            f"| quad-tree + solve ({path.parent.name} run) | {qt_row['gaussians']:,.0f} | "
            + " | ".join(f"{qt_row['budgets'][b]['psnr']:.2f}" for b in labels)
            + f" | {qt_code} |"
        )
        if {e["image"] for e in net} == {e["image"] for e in qt}:
            lines.append(_row(path.parent.name, qt, net, labels, code))
        else:
            lines.append(f"| {path.parent.name} | (not finished) |" + " |" * (len(labels) + 1))
    return lines


def table(root: Path, matched: Path | None = None) -> str:
    qt, qt_code = _results(root / "shipped", QT)
    images = sorted({e["image"] for e in qt})
    (qt_row,) = summarize({"entries": qt})
    labels = list(qt_row["budgets"])
    lines = [
        f"Held-out photos ×4 ({len(images)}: {', '.join(images)}); cell: mean PSNR of net + solve (dB), "
        "then its paired difference to quad-tree + solve and the images ahead.",
        "",
        "| candidate | Gaussians | " + " | ".join(labels) + " | code |",
        "|" + "---|" * (len(labels) + 3),
        f"| quad-tree + solve | {qt_row['gaussians']:,.0f} | "
        + " | ".join(f"{qt_row['budgets'][b]['psnr']:.2f}" for b in labels)
        + f" | {qt_code} |",
    ]
    for name in CANDIDATES:
        if not (root / name / "results.json").exists():
            lines.append(f"| {name} | (not run) |" + " |" * (len(labels) + 1))
            continue
        net, code = _results(root / name, NET)
        lines.append(_row(name, qt, net, labels, code))
    if matched is not None:
        lines += matched_table(matched, labels)
    return "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--results", type=Path, default=Path("bench/results/ablation_v2_heldout"))
    p.add_argument("--matched", type=Path, default=Path("bench/results/matched_count_heldout"))
    args = p.parse_args()
    text = table(args.results, args.matched)
    print(text)
    (args.results / "table.md").write_text(text)


if __name__ == "__main__":
    main()
