"""Two inits of the codec paired image by image: within one rate–distortion run, or against another.

    python -m igi_jax.experiments.rd_report OUT_DIR --against OTHER_DIR

A curve's mean hides which images moved; a pairing says how many images one init is ahead on at
each rate, beside the mean PSNR and rate differences, and refuses runs whose quantisers, fit or
budgets differ (their PSNRs would not be comparable).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np


def by_target(data: dict[str, Any]) -> tuple[dict, list[str]]:
    """``(target, method) → image → entry``, and the methods in the order they first appear."""
    by = defaultdict(dict)
    methods = []
    for e in data["entries"]:
        by[(e["target_bpp"], e["init"])][e["image"]] = e
        if e["init"] not in methods:
            methods.append(e["init"])
    return by, methods


Pairs = dict[tuple[str, str], dict[float, dict[str, float]]]


def paired(data: dict[str, Any], other: dict[str, Any]) -> Pairs:
    """Each of our methods here against each of ``other``'s with the same encode budget (another
    init, say): ``(ours, theirs)`` → target → ``{"images", "ahead", "psnr", "bpp"}``: how many
    images both runs have there, on how many ours has the higher PSNR, and the mean differences
    (ours − theirs). ``other`` may be ``data`` itself: each later init against each earlier one.
    Raises ``ValueError`` where the two runs' budget, quantisers or fit settings differ, since
    their PSNRs would not be comparable."""
    mine, theirs = data["settings"], other["settings"]
    for key in ("dataset", "max_side", "fill_budget", "adapt_shape_lr", "fit", "seed"):
        if mine.get(key) != theirs.get(key):
            raise ValueError(f"the two runs differ in {key!r}: their PSNRs are not comparable")
    rates = set(mine["quant"]) & set(theirs["quant"])  # by target: the rates both runs have
    if any(mine["quant"][r] != theirs["quant"][r] for r in rates):
        raise ValueError("the two runs differ in 'quant': their PSNRs are not comparable")
    budgets = {e["name"]: e for e in theirs["encodes"]}
    by, methods = by_target(data)
    by_o, methods_o = by_target(other)
    out: Pairs = {}
    for e in mine["encodes"]:
        if e["name"] not in budgets:
            continue
        if budgets[e["name"]] != e:
            raise ValueError(f"encode {e['name']!r} differs between the runs: {e} vs {budgets[e['name']]}")
        ours = [m for m in methods if m.startswith("igi-") and m.endswith(f"-{e['name']}")]
        others = [m for m in methods_o if m.startswith("igi-") and m.endswith(f"-{e['name']}")]
        for m in ours:
            for o in others:
                if o == m or (other is data and methods.index(o) > methods.index(m)):
                    continue
                pair = {t: _gap(by.get((t, m), {}), by_o.get((t, o), {})) for t in sorted({t for t, _ in by})}
                if pair := {t: c for t, c in pair.items() if c is not None}:
                    out[(m, o)] = pair
    return out


def _gap(a: dict[str, dict], b: dict[str, dict]) -> dict[str, float] | None:
    """Image → entry of two methods at one target: their paired differences, ``None`` if no image
    has both."""
    common = sorted(set(a) & set(b))
    if not common:
        return None
    dp = [a[i]["psnr"] - b[i]["psnr"] for i in common]
    return {
        "images": len(common),
        "ahead": int(sum(d > 0 for d in dp)),
        "psnr": float(np.mean(dp)),
        "bpp": float(np.mean([a[i]["bpp"] - b[i]["bpp"] for i in common])),
    }


def paired_markdown(data: dict[str, Any], other: dict[str, Any], other_name: str | None = None) -> str:
    """:func:`paired` as Markdown (empty where nothing pairs); ``other_name`` ``None``: within the run."""
    pairs = paired(data, other)
    if not pairs:
        return ""
    targets = sorted({t for cells in pairs.values() for t in cells})
    lines = [
        "**Paired within the run**"
        if other_name is None
        else f"**Paired with `{other_name}`** (its code: "
        + ", ".join(sorted({str(e.get("code")) for e in other["entries"]}))
        + ")",
        "",
        "Ours minus the other method with the same budget, on the images both have at each "
        "rate: mean PSNR difference (dB), images ahead / images, mean rate difference (bpp):",
        "",
        "| ours | theirs | " + " | ".join(f"{t:g} bpp" for t in targets) + " |",
        "|---|---|" + "---|" * len(targets),
    ]
    for (m, o), cells in pairs.items():
        row = [
            f"{c['psnr']:+.2f} ({c['ahead']}/{c['images']}; {c['bpp']:+.3f})" if (c := cells.get(t)) else ""
            for t in targets
        ]
        lines.append(f"| {m} | {o} | " + " | ".join(row) + " |")
    return "\n".join(lines) + "\n"
