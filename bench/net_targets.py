"""Issue 16's Kodak targets, checked from the committed ``bench/net_vs_inits.py`` results.

    python bench/net_targets.py [--results bench/results] [--out bench/results/net_vs_inits_kodak/targets.md]

(a) net (+ colour solve) at step 0 beats quad-tree + colour solve at step 0 *with no more
    Gaussians*, on the Kodak mean and on ≥ 20 of 24 images. Per image, the net rows eligible are
    those (init ∈ {net, net+solve}, k) whose count is ≤ the quad-tree's; the best of them is
    compared. The same comparison after 200 steps is shown for information.
(b) net + 1,000 steps ≥ random (the net's count) + 10,000 steps on every image of the long run.

Reads ``net_vs_inits_kodak/``, ``net_vs_inits_kodak_long/`` and ``net_vs_inits_kodak_long_random/``
(each a ``results.json`` of the experiment runner); prints and writes a Markdown summary.
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

from igi_jax.experiments import store

NET_INITS = ("net", "net+solve")
QT = "quadtree+solve"


def _psnr(entry: dict, steps: int) -> float | None:
    for r in entry["budgets"]:
        if r["budget"] == {"steps": steps}:
            return r["psnr"]
    return None


def _by_image(path: Path) -> dict[str, dict[tuple[str, int | None], dict]]:
    out: dict[str, dict] = {}
    if path.exists():
        for e in store.load(path)["entries"]:
            if e["impl"] == "jax":
                out.setdefault(e["image"], {})[(e["init"], e["k"])] = e
    return out


def target_a(images: dict[str, dict], steps: int) -> tuple[list[str], int, int, float, float]:
    """Rows of the per-image table, wins, images compared, mean best-eligible net, mean quad-tree."""
    rows, wins, nets, qts = [], 0, [], []
    for name, entries in sorted(images.items()):
        qt = entries.get((QT, None))
        if qt is None or _psnr(qt, steps) is None:
            continue
        eligible = [
            (e, _psnr(e, steps))
            for (init, _), e in entries.items()
            if init in NET_INITS and e["gaussians"] <= qt["gaussians"]
        ]
        eligible = [(e, v) for e, v in eligible if v is not None]
        if not eligible:
            rows.append(
                f"| {name} | {qt['gaussians']:,} | {_psnr(qt, steps):.2f} | – | – | – | no net row "
                "with ≤ the quad-tree's count |"
            )
            continue
        best, p = max(eligible, key=lambda t: t[1])
        win = p > _psnr(qt, steps)
        wins += win
        nets.append(p)
        qts.append(_psnr(qt, steps))
        rows.append(
            f"| {name} | {qt['gaussians']:,} | {_psnr(qt, steps):.2f} | "
            f"{best['init']} k={best['k']} | {best['gaussians']:,} | {p:.2f} | "
            f"{'yes' if win else '**no**'} |"
        )
    return rows, wins, len(nets), _mean(nets), _mean(qts)


def _mean(values: list[float]) -> float:
    return statistics.fmean(values) if values else float("nan")


def means(images: dict[str, dict]) -> list[str]:
    """Mean count, init time and PSNR per (init, k) over the images that have every row."""
    keys = sorted({k for entries in images.values() for k in entries}, key=lambda k: (k[0], k[1] or 0))
    lines = []
    for key in keys:
        es = [entries[key] for entries in images.values() if key in entries]
        budgets = [r["budget"]["steps"] for r in es[0]["budgets"] if "steps" in r["budget"]]
        cells = " / ".join(f"{statistics.fmean(_psnr(e, s) for e in es):.2f}" for s in budgets)
        lines.append(
            f"| {key[0]} | {key[1] if key[1] is not None else '–'} | {len(es)} | "
            f"{statistics.fmean(e['gaussians'] for e in es):,.0f} | "
            f"{statistics.fmean(e['init_seconds'] for e in es):.2f} | "
            f"{' / '.join(map(str, budgets))} | {cells} |"
        )
    return lines


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--results", type=Path, default=Path("bench/results"))
    p.add_argument("--out", type=Path)
    args = p.parse_args()
    r = args.results
    kodak = _by_image(r / "net_vs_inits_kodak" / "results.json")
    long = _by_image(r / "net_vs_inits_kodak_long" / "results.json")
    rand = _by_image(r / "net_vs_inits_kodak_long_random" / "results.json")
    out = [
        "# Issue 16's Kodak targets for the first network's `small` weights",
        "",
        "Made by `python bench/net_targets.py` from the committed results of "
        "`python bench/net_vs_inits.py --set kodak` and `--set kodak --long`.",
        "",
        "## Means per init",
        "",
        "| init | k | images | Gaussians | init s | steps | PSNR dB at those steps |",
        "|---|---|---|---|---|---|---|",
        *means(kodak),
        "",
    ]
    for steps, title in ((0, "(a) step 0"), (200, "After 200 steps (information, not a target)")):
        rows, wins, n, net_mean, qt_mean = target_a(kodak, steps)
        out += [
            f"## {title}: best net row with ≤ the quad-tree's Gaussians vs quad-tree + solve",
            "",
            f"Net wins on **{wins} of {n}** images compared ({len(kodak)} with results); mean over "
            f"those: net {net_mean:.2f} dB vs quad-tree + solve {qt_mean:.2f} dB.",
            "",
            "| image | quad-tree G | quad-tree dB | best eligible net row | its G | its dB | net wins |",
            "|---|---|---|---|---|---|---|",
            *rows,
            "",
        ]
    out += [
        "## (b) net + 1,000 steps vs random (net's count) + 10,000 steps",
        "",
        "| image | G (k=3) | net @1000 | net+solve @1000 | quadtree+solve @1000 (its G) | "
        "random @200 / 2000 / 10000 | net + 1,000 ≥ random + 10,000 |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, entries in sorted(long.items()):
        net, nets = entries.get(("net", 3)), entries.get(("net+solve", 3))
        qt = entries.get((QT, None))
        rnd = rand.get(name, {}).get(("random", 3))
        if net is None or nets is None:
            continue
        best = max(_psnr(net, 1000) or float("nan"), _psnr(nets, 1000) or float("nan"))
        rcells = " / ".join(
            f"{_psnr(rnd, s):.2f}" if rnd and _psnr(rnd, s) is not None else "–" for s in (200, 2000, 10000)
        )
        r10k = _psnr(rnd, 10000) if rnd else None
        verdict = "–" if r10k is None else ("yes" if best >= r10k else "**no**")
        qcell = f"{_psnr(qt, 1000):.2f} ({qt['gaussians']:,})" if qt else "–"
        out.append(
            f"| {name} | {net['gaussians']:,} | {_psnr(net, 1000):.2f} | {_psnr(nets, 1000):.2f} | "
            f"{qcell} | {rcells} | {verdict} |"
        )
    text = "\n".join(out) + "\n"
    if args.out:
        args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
