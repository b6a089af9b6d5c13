"""The tables of a ``results.json``: per-method means over the complete images, paired per-image
differences, per-image PSNR, and the legend (fit, machine, cost, and the commits the rows were
made with). :mod:`igi_jax.experiments.report` puts them together.
"""

from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path
from typing import Any


def _mean(values: list[Any]) -> float | None:
    vals = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    return sum(vals) / len(vals) if vals else None


def budget_label(budget: dict[str, Any]) -> str:
    return f"{budget['steps']} steps" if "steps" in budget else f"{budget['seconds']:g} s"


def _budgets(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Budgets in the order entries list them (steps first, then seconds), de-duplicated."""
    seen: list[dict[str, Any]] = []
    for e in entries:
        for r in e["budgets"]:
            if r["budget"] not in seen:
                seen.append(r["budget"])
    return seen


def complete_images(data: dict[str, Any]) -> tuple[list[str], list[str]]:
    """``(complete, partial)`` image names: those with an entry in every ``(impl, init, k)`` group,
    and the rest (an interrupted run's last image, or rows added for a few images only)."""
    groups: dict[tuple, set[str]] = defaultdict(set)
    for e in data["entries"]:
        groups[(e["impl"], e["init"], e["k"])].add(e["image"])
    names = sorted({e["image"] for e in data["entries"]})
    complete = [n for n in names if all(n in imgs for imgs in groups.values())]
    return complete, [n for n in names if n not in complete]


def summarize(data: dict[str, Any]) -> list[dict[str, Any]]:
    """Means per ``(impl, init, k)`` over the images every group has (:func:`complete_images`), so
    that every row averages the same images; groups in first-appearance order.

    Returns rows ``{"impl", "init", "k", "images", "gaussians", "params", "init_seconds", "fps",
    "budgets": {label: {"psnr", "ms_ssim", "ms_ssim_images", "seconds", "steps"}}}``.
    """
    complete = set(complete_images(data)[0])
    groups: dict[tuple, list[dict[str, Any]]] = defaultdict(list)
    for e in data["entries"]:
        groups[(e["impl"], e["init"], e["k"])].append(e)
    rows = []
    for (impl, init, k), group in groups.items():
        es = [e for e in group if e["image"] in complete]
        row = {
            "impl": impl,
            "init": init,
            "k": k,
            "images": len(es),
            **{key: _mean([e[key] for e in es]) for key in ("gaussians", "params", "init_seconds", "fps")},
            "budgets": {},
        }
        for b in _budgets(es):
            recs = [r for e in es for r in e["budgets"] if r["budget"] == b]
            row["budgets"][budget_label(b)] = {
                "psnr": _mean([r["psnr"] for r in recs]),
                "ms_ssim": _mean([r["ms_ssim"] for r in recs]),
                "ms_ssim_images": sum(r["ms_ssim"] is not None for r in recs),
                "seconds": _mean([r["seconds"] for r in recs]),
                "steps": _mean([r["steps"] for r in recs]),
            }
        rows.append(row)
    return rows


def _partial_note(data: dict[str, Any]) -> str:
    """A line naming the images left out of the means, or ``""``."""
    complete, partial = complete_images(data)
    if not partial:
        return ""
    n_groups = len({(e["impl"], e["init"], e["k"]) for e in data["entries"]})
    have = {n: sum(e["image"] == n for e in data["entries"]) for n in partial}
    left = ", ".join(f"{n} ({have[n]} of {n_groups} rows)" for n in partial)
    return f"Means over the {len(complete)} image(s) that have every row; left out as incomplete: {left}.\n"


def _f(v: float | None, fmt: str) -> str:
    return "–" if v is None else format(v, fmt)


def _cell(b: dict[str, Any] | None, seconds_budget: bool, images: int) -> str:
    if b is None:
        return "–"
    ms = ""
    if b["ms_ssim"] is not None:  # MS-SSIM skips images with a side ≤ 160 px: say when it did
        few = f" [{b['ms_ssim_images']} of {images} images]" if b["ms_ssim_images"] < images else ""
        ms = f" / {b['ms_ssim']:.4f}{few}"
    when = f"{b['seconds']:.1f} s" + (f", {b['steps']:,.0f} st" if seconds_budget else "")
    return f"{_f(b['psnr'], '.2f')}{ms} ({when})"


def means_table(data: dict[str, Any]) -> str:
    """Markdown: one row per (implementation, init, k), means over images."""
    rows = summarize(data)
    labels = _budgets(data["entries"])
    head = [
        "impl",
        "init",
        "k",
        "images",
        "Gaussians",
        "params",
        "init s",
        *[budget_label(b) for b in labels],
        "FPS",
    ]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [
            r["impl"],
            r["init"],
            "–" if r["k"] is None else str(r["k"]),
            str(r["images"]),
            _f(r["gaussians"], ",.0f"),
            _f(r["params"], ",.0f"),
            _f(r["init_seconds"], ".3f"),
            *[_cell(r["budgets"].get(budget_label(b)), "seconds" in b, r["images"]) for b in labels],
            _f(r["fps"], ".1f"),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    note = _partial_note(data)
    return "\n".join(lines) + "\n" + (f"\n{note}" if note else "")


def _group_name(key: tuple) -> str:
    impl, init, k = key
    return f"{impl} {init}" + ("" if k is None else f" k = {k}")


def reference_group(data: dict[str, Any]) -> tuple | None:
    """The ``(impl, init, k)`` that :func:`paired_table` compares against: the first JAX quad-tree
    init (the method the paper's net init competes with), or ``None`` when there is none."""
    keys = dict.fromkeys((e["impl"], e["init"], e["k"]) for e in data["entries"])
    return next((key for key in keys if key[0] == "jax" and key[1].startswith("quadtree")), None)


def paired(data: dict[str, Any], versus: tuple | None = None) -> list[dict[str, Any]]:
    """Per-image PSNR differences, image by image, over the images every group has.

    Each group of the reference's implementation is paired with ``versus`` (default
    :func:`reference_group`); a group of another implementation (the PyTorch baseline) with the
    reference implementation's group of the same init and k, so that those rows read as parity.
    Returns ``{"row", "versus", "budgets": {label: {"delta", "ahead", "images"}}}`` per pair:
    the mean of (row − versus) in dB, and on how many of the images the row is ahead.
    """
    versus = versus or reference_group(data)
    if versus is None:
        return []
    complete = set(complete_images(data)[0])
    psnr: dict[tuple, dict[tuple, float]] = defaultdict(dict)
    for e in data["entries"]:
        if e["image"] in complete:
            for r in e["budgets"]:
                if r["psnr"] is not None and math.isfinite(r["psnr"]):
                    psnr[(e["impl"], e["init"], e["k"])][(e["image"], budget_label(r["budget"]))] = r["psnr"]
    out = []
    for key in psnr:
        ref = versus if key[0] == versus[0] else (versus[0], *key[1:])
        if key == ref or ref not in psnr:
            continue
        budgets = {}
        for b in _budgets(data["entries"]):
            label = budget_label(b)
            d = [
                v - psnr[ref][(img, lab)]
                for (img, lab), v in psnr[key].items()
                if lab == label and (img, lab) in psnr[ref]
            ]
            if d:
                budgets[label] = {"delta": sum(d) / len(d), "ahead": sum(x > 0 for x in d), "images": len(d)}
        out.append({"row": key, "versus": ref, "budgets": budgets})
    return out


def _delta(d: float) -> str:
    # A parity row's differences are float noise: show them, rather than "+0.00".
    return f"{d:+.1e}" if 0 < abs(d) < 0.005 else f"{d:+.2f}"


def paired_table(data: dict[str, Any]) -> str:
    """Markdown: :func:`paired` as ``mean Δ PSNR (ahead on n of m)`` per budget, or ``""``."""
    pairs = paired(data)
    if not pairs:
        return ""
    labels = [budget_label(b) for b in _budgets(data["entries"])]
    lines = ["| row − versus | " + " | ".join(labels) + " |", "|---" * (len(labels) + 1) + "|"]
    for p in pairs:
        cells = [
            f"{_delta(b['delta'])} ({b['ahead']} of {b['images']})" if b else "–"
            for b in (p["budgets"].get(label) for label in labels)
        ]
        lines.append(f"| {_group_name(p['row'])} − {_group_name(p['versus'])} | " + " | ".join(cells) + " |")
    return (
        "Paired, image by image: mean PSNR difference (dB) of each row minus the one it is "
        "compared with, and on how many images the row is ahead.\n\n" + "\n".join(lines) + "\n"
    )


def per_image_table(data: dict[str, Any]) -> str:
    """Markdown: PSNR (dB) per image and method at every budget."""
    labels = _budgets(data["entries"])
    head = ["image", "impl", "init", "k", "Gaussians", "init s", *[budget_label(b) for b in labels], "code"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for e in sorted(data["entries"], key=lambda e: (e["image"], e["impl"] != "jax")):
        by = {budget_label(r["budget"]): r for r in e["budgets"]}
        cells = [
            e["image"],
            e["impl"],
            e["init"],
            "–" if e["k"] is None else str(e["k"]),
            f"{e['gaussians']:,}",
            f"{e['init_seconds']:.3f}",
            *[_f(by[budget_label(b)]["psnr"], ".2f") if budget_label(b) in by else "–" for b in labels],
            e.get("code") or "–",  # entries from before per-entry commits: see the runs' commits
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _machine_line(data: dict[str, Any]) -> str:
    runs = data.get("runs") or [{}]
    m = runs[-1].get("machine") or {}
    loads = [r.get("machine", {}).get("loadavg", [None])[0] for r in runs]
    loads += [e.get("loadavg") for e in data["entries"]]
    loads = [x for x in loads if x is not None]
    load = ""
    if loads:
        lo, hi = f"{min(loads):.1f}", f"{max(loads):.1f}"
        load = f", 1-min load average {lo if lo == hi else f'{lo}–{hi}'} during the run (shared machine)"
    return (
        f"{m.get('processor', '?')}, {m.get('cpu_count', '?')} CPU cores, JAX {m.get('jax', '?')} "
        f"on {m.get('backend', '?')} ({', '.join(m.get('devices', []))}){load}"
    )


def wall_line(data: dict[str, Any]) -> str:
    """The evaluation's cost: the entries' wall times (init, fits, FPS; not idle gaps) summed, and
    per image over the images that have every row."""
    es = data["entries"]
    total = sum(e.get("wall_seconds") or 0.0 for e in es)
    complete, partial = complete_images(data)
    n_images, n_runs = len(complete) + len(partial), len(data.get("runs") or [])
    done = sum(e.get("wall_seconds") or 0.0 for e in es if e["image"] in set(complete))
    per = f", {done / 60 / len(complete):.1f} min per image" if complete else ""
    if partial:
        per += f" with every row ({len(complete)})"
    return (
        f"Wall time: {total / 3600:.2f} h for {len(es)} entries on {n_images} image(s){per}, "
        f"summed over {n_runs} invocation(s) (each entry's init, fits and FPS timing).\n"
    )


def legend(data: dict[str, Any]) -> str:
    s = data["settings"]
    fit = s["fit"]
    groups = "".join(f", ×{m:g} for {g}" for g, m in fit["lr_groups"])
    w = fit.get("warmup_steps", 0)  # absent: results from before the warm-up existed
    warmup = f"{w}-step warm-up" if w else "no warm-up"
    n_threads = sorted({e["torch_threads"] for e in data["entries"] if e.get("torch_threads")})
    threads = (
        (
            f"; PyTorch: no_grad, the model's forward from its parameters, "
            f"{'/'.join(map(str, n_threads))} thread(s)"
        )
        if n_threads
        else ""
    )
    return (
        f"Cells: PSNR (dB) / MS-SSIM (when both sides > 160 px) (mean time in s from the start of "
        f"the init, compilation excluded). Images: `{Path(s['dataset']).name}`, downscaled ×"
        f"{s['downscale']}. Fit: {fit['optimizer']}, lr {fit['lr']:g}{groups}, {warmup}, "
        f"{fit['loss']} loss, "
        f"backend {s['backend']}. "
        f"random uses the {'net' if s['weights_sha256'] else 'quad-tree'}'s Gaussian count; params = "
        f"8 per Gaussian{_seconds_rule(s)}. FPS: forward renders per second of the final set "
        f"(JAX: positions and covariances precomputed{threads}). Measured on "
        f"{_machine_line(data)}{_code_line(data)}.\n"
    )


def _seconds_rule(settings: dict[str, Any]) -> str:
    """How a wall-clock budget stopped the fits (the rule changed; older results lack the key)."""
    if not settings.get("seconds"):
        return ""
    rule = (
        "about a step past it (blocks cut to the time left)"
        if settings.get("seconds_blocks")
        else "at the first 10-step log point past it"
    )
    return (
        f"; a wall-clock budget stops the fit {rule}; its cell gives the time used and the steps reached (st)"
    )


def commits(data: dict[str, Any]) -> tuple[list[str], bool]:
    """``(revisions, per_entry)``: the commits the rows were made with, in first-use order; from the
    entries' ``code`` when every entry has one, else (older results) from the runs'."""
    per_entry = bool(data["entries"]) and all(e.get("code") for e in data["entries"])
    source = data["entries"] if per_entry else data.get("runs") or []
    return list(dict.fromkeys(r["code"] for r in source if r.get("code"))), per_entry


def _code_line(data: dict[str, Any]) -> str:
    """``"; code <rev>, <rev>"`` and a warning naming any revision with uncommitted changes."""
    revs, per_entry = commits(data)
    if not revs:
        return "; code not recorded (these results predate the record of commits)"
    where = "per entry" if per_entry else "of the runs; these entries predate per-entry commits"
    line = f"; code {', '.join(revs)} ({where})"
    dirty = [r for r in revs if r.endswith("-dirty")]
    if dirty:
        line += (
            f". **Warning: {', '.join(dirty)} had uncommitted changes**; those rows are not exactly "
            "reproducible from a commit"
        )
    return line
