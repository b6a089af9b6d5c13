"""Start-up cost of the ``igi`` command (issue 33): where a process's wall time goes for
``igi --help``, ``igi fit assets/demo.png --steps 0`` and ``--steps 100`` (the README's command),
before and after a change, measured side by side in one run.

    python bench/startup.py [--before COMMIT] [--after COMMIT] [--repeats 1]

Each side runs from a clean ``git worktree`` of its commit (so uncommitted edits in the checkout
count for neither), with this interpreter, ``JAX_PLATFORMS=cpu`` and the on-disk compilation
cache off (``IGI_JAX_CACHE_DIR=0``: every run compiles, as a first run does). The split comes from
the fit's own ``metrics.json`` (init, compile, fit, and ``wall_seconds`` of the whole in-process
fit) and the subprocess's total wall: "outside the fit" is Python start-up, imports, argument
parsing and writing the outputs. Writes ``bench/results/startup.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COMMANDS = {
    "igi --help": ["--help"],
    "igi fit demo --steps 0": ["fit", "assets/demo.png", "--steps", "0"],
    "igi fit demo --steps 100": ["fit", "assets/demo.png", "--steps", "100"],
}


def _git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=ROOT, check=True, capture_output=True, text=True).stdout.strip()


def measure(tree: Path, argv: list[str], out: Path) -> dict[str, float]:
    """One run of ``igi argv`` from ``tree``; seconds by phase."""
    if argv[0] == "fit":
        argv = [*argv, "--out", str(out), "--overwrite", "--quiet"]
    env = {**os.environ, "JAX_PLATFORMS": "cpu", "IGI_JAX_CACHE_DIR": "0", "PYTHONPATH": str(tree)}
    t = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "igi_jax.cli", *argv], cwd=tree, env=env, check=True, capture_output=True
    )
    row = {"total": time.perf_counter() - t}
    if argv[0] == "fit":
        m = json.loads((out / "metrics.json").read_text())
        row.update(init=m["init_seconds"], compile=m["compile_seconds"], fit=m["fit_seconds"])
        row["outside the fit"] = row["total"] - m["wall_seconds"]  # start-up, imports, writes
        row["load + metrics"] = (
            m["wall_seconds"] - m["init_seconds"] - m["compile_seconds"] - m["fit_seconds"]
        )
    return row


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--before", default="bce8525", help="commit before the change (default: issue 33's base)")
    p.add_argument("--after", default="HEAD")
    p.add_argument("--repeats", type=int, default=1, help="runs per command and side (the fastest is kept)")
    args = p.parse_args()
    sides = {
        name: _git("rev-parse", "--short", rev)
        for name, rev in (("before", args.before), ("after", args.after))
    }
    rows: dict[str, dict[str, dict[str, float]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        trees = {}
        for name, commit in sides.items():
            trees[name] = Path(tmp) / name
            _git("worktree", "add", "--detach", str(trees[name]), commit)
        try:
            for label, argv in COMMANDS.items():
                for name, tree in trees.items():  # side by side: before, after, per command
                    runs = [measure(tree, argv, Path(tmp) / f"out_{name}") for _ in range(args.repeats)]
                    rows.setdefault(label, {})[name] = min(runs, key=lambda r: r["total"])
        finally:
            for tree in trees.values():
                _git("worktree", "remove", "--force", str(tree))
    phases = ["total", "outside the fit", "load + metrics", "init", "compile", "fit"]
    lines = [
        f"# `igi` start-up: before {sides['before']}, after {sides['after']}",
        "",
        f"`python bench/startup.py` ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, CPU, "
        f"{os.cpu_count()} cores, compilation cache off; best of {args.repeats}). Seconds.",
        "",
        "| command | side | " + " | ".join(phases) + " |",
        "|---|---|" + "---:|" * len(phases),
    ]
    for label, by_side in rows.items():
        for name, row in by_side.items():
            cells = [f"{row[k]:.2f}" if k in row else "" for k in phases]
            lines.append(f"| {label} | {name} | " + " | ".join(cells) + " |")
        ratio = by_side["before"]["total"] / by_side["after"]["total"]
        lines.append(f"| {label} | before / after | {ratio:.2f}× |" + " |" * (len(phases) - 1))
    text = "\n".join(lines) + "\n"
    print(text)
    (ROOT / "bench" / "results" / "startup.md").write_text(text)


if __name__ == "__main__":
    main()
