"""Tables from ``results.json``: per-method means, per-image PSNR, and the blocks of ``docs/RESULTS.md``.

    python -m igi_jax.experiments.report RESULTS.json [--out REPORT.md] [--doc docs/RESULTS.md]

``--doc`` rewrites only the block between ``<!-- results:begin ... -->`` and
``<!-- results:end -->`` made from that JSON (the begin marker records the JSON it was made from,
relative to the document; a document may hold several blocks), so the published numbers are
generated, never typed; ``tests/experiments`` regenerates every block of ``docs/RESULTS.md`` from
its JSON and checks that it equals the document's. Each block and report names the commit(s) its
rows were made with, and flags rows made from a tree with uncommitted changes.

The published numbers are quoted beside ours, each with its hardware
(:mod:`igi_jax.experiments.published`).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path
from typing import Any

from igi_jax import io
from igi_jax.experiments import store
from igi_jax.experiments.config import REPO
from igi_jax.experiments.published import published_table
from igi_jax.experiments.tables import legend, means_table, paired_table, per_image_table, wall_line

BEGIN, END = "<!-- results:begin", "<!-- results:end -->"
_BLOCK = re.compile(r"<!-- results:begin(?P<attrs>[^>]*)-->\n(?P<body>.*?)<!-- results:end -->", re.S)


def markdown(data: dict[str, Any]) -> str:
    """The whole report: means, paired differences, the published numbers, per-image PSNR."""
    runs = data.get("runs") or []
    cmds = sorted({" ".join(r["command"]) for r in runs if r.get("command")})
    pairs = paired_table(data)
    parts = [
        "# Experiments\n",
        legend(data),
        wall_line(data),
        "\n## Means\n",
        means_table(data),
        *(["\n## Paired\n", pairs] if pairs else []),
        "\n## Published (not measured here)\n",
        published_table(data),
        "\n## Per image: PSNR (dB)\n",
        per_image_table(data),
    ]
    if cmds:
        parts += ["\n## Commands\n", "\n".join(f"    {c}" for c in cmds) + "\n"]
    return "\n".join(p.rstrip("\n") + "\n" for p in parts)


def _repo_relative(path: Path) -> str:
    return os.path.relpath(path.resolve(), REPO)


def doc_block(data: dict[str, Any], results: str | os.PathLike, doc: str | os.PathLike, label: str) -> str:
    """The body of ``doc``'s results block for ``data`` (read from ``results``), headed by ``label``."""
    results, doc = Path(results), Path(doc)
    source = os.path.relpath(results.resolve(), doc.resolve().parent)
    runs = data.get("runs") or []
    cmds = sorted({" ".join(r["command"]) for r in runs if r.get("command")})
    cmd = "\n".join(cmds) if cmds else "(command not recorded)"
    config = REPO / "configs" / "experiments" / f"{results.parent.name}.py"
    rerun = f"; `python evaluate.py --config {_repo_relative(config)}` reruns it" if config.exists() else ""
    if data["settings"].get("kind") == "rate-distortion":
        from igi_jax.experiments import rd_report

        plot = os.path.relpath((results.parent / "rd.png").resolve(), doc.resolve().parent)
        return (
            f"{label}\n\nGenerated from [`{_repo_relative(results)}`]({source}) by "
            f"`python -m igi_jax.experiments.report {_repo_relative(results)} --doc {_repo_relative(doc)}`"
            f"{rerun}; made with:\n\n```bash\n{cmd}\n```\n\n{rd_report.body(data)}\n"
            f"![PSNR and MS-SSIM against bits per pixel]({plot})\n\n"
        )
    pairs = paired_table(data)
    return (
        f"{label}\n\nGenerated from [`{_repo_relative(results)}`]({source}) by "
        f"`python -m igi_jax.experiments.report {_repo_relative(results)} --doc {_repo_relative(doc)}`"
        f"{rerun}; made with:\n\n"
        f"```bash\n{cmd}\n```\n\n{legend(data)}\n{wall_line(data)}\n{means_table(data)}\n"
        f"{pairs and pairs + chr(10)}"
        f"Published, for scale (not measured here; a GPU and the paper's ConvNeXt-B):\n\n"
        f"{published_table(data)}"
    )


def _attrs(m: re.Match) -> tuple[str, str, str]:
    attrs = dict(re.findall(r'(\w+)="([^"]*)"', m.group("attrs")))
    return attrs.get("source", ""), attrs.get("label", ""), m.group("body")


def blocks(doc_text: str) -> list[tuple[str, str, str]]:
    """``(source, label, body)`` of every results block of a document, in order."""
    return [_attrs(m) for m in _BLOCK.finditer(doc_text)]


def update_doc(doc: str | os.PathLike, results: str | os.PathLike, label: str | None = None) -> bool:
    """Rewrite the results block of ``doc`` made from ``results``; returns whether it changed.

    The block is the one whose ``source`` is ``results`` (relative to the document), or the only
    block when there is one. A document with several blocks gets a new one by adding an empty
    ``<!-- results:begin source="..." label="..." -->`` / ``<!-- results:end -->`` pair.
    """
    doc, results = Path(doc), Path(results)
    text = doc.read_text()
    matches = list(_BLOCK.finditer(text))
    found = [_attrs(m) for m in matches]
    if not found:
        raise io.InputError(f"{doc} has no '{BEGIN} ... -->' ... '{END}' block")
    source = os.path.relpath(results.resolve(), doc.resolve().parent)
    sources = [b[0] for b in found]
    if source in sources:
        index = sources.index(source)
    elif len(found) == 1:
        index = 0
    else:
        raise io.InputError(
            f"{doc} has {len(found)} results blocks and none from {source}: add "
            f"an empty '{BEGIN} source=\"{source}\" label=\"...\" -->' ... '{END}' block"
        )
    label = label if label is not None else found[index][1]
    body = doc_block(store.load(results), results, doc, label)
    m = matches[index]
    new = text[: m.start()] + f'{BEGIN} source="{source}" label="{label}" -->\n{body}{END}' + text[m.end() :]
    if new != text:
        io.atomic_write(doc, lambda f: f.write(new.encode()))
    return new != text


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m igi_jax.experiments.report", description=__doc__.splitlines()[0]
    )
    p.add_argument("results", type=Path)
    p.add_argument("--out", type=Path, help="write the Markdown report here (default: print it)")
    p.add_argument("--doc", type=Path, help="rewrite this document's results block")
    p.add_argument("--label", help="the block's heading line (default: keep the current one)")
    args = p.parse_args(argv)
    data = store.load(args.results)
    if data["settings"].get("kind") == "rate-distortion":
        from igi_jax.experiments import rd_report

        text = rd_report.markdown(data)
    else:
        text = markdown(data)
    if args.out:
        io.atomic_write(args.out, lambda f: f.write(text.encode()))
    elif not args.doc:
        print(text)
    if args.doc:
        changed = update_doc(args.doc, args.results, args.label)
        print(f"{args.doc}: results block {'updated' if changed else 'unchanged'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
