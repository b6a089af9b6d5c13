"""The paper's published numbers, quoted beside ours in reports (never measured here)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

# Published Instant-GI numbers (not measured here). Source: DESIGN.md, "Fine-tuning and evaluation".
# "on": the kind of dataset they go beside (Kodak; DIV2K ×2 for other photo folders, as the held-out
# "DIV2K ×2-like" table).
PUBLISHED = (
    {
        "what": "Instant-GI, official dev-branch checkpoint (ConvNeXt-B, GPU Delaunay), net init, k = 3",
        "dataset": "Kodak, 24 images, 768×512",
        "hardware": "NVIDIA A100",
        "gaussians": 43_100,
        "psnr": 30.52,
        "init_seconds": 0.22,
        "on": "kodak",
    },
    {
        "what": "Instant-GI, official master checkpoint, net init, k = 3",
        "dataset": "Kodak, 24 images, 768×512",
        "hardware": "NVIDIA A100",
        "gaussians": 42_858,
        "psnr": 29.68,
        "init_seconds": 0.25,
        "on": "kodak",
    },
    {
        "what": "Instant-GI, official dev-branch checkpoint (ConvNeXt-B, GPU Delaunay), net init, k = 3",
        "dataset": "DIV2K validation, ×2 downscaled",
        "hardware": "NVIDIA A100",
        "gaussians": 76_700,
        "psnr": 31.30,
        "init_seconds": 0.30,
        "on": "div2k",
    },
    {
        "what": "Instant-GI, official master checkpoint, net init, k = 3",
        "dataset": "DIV2K validation, ×2 downscaled",
        "hardware": "NVIDIA A100",
        "gaussians": 76_985,
        "psnr": 29.67,
        "init_seconds": None,
        "on": "div2k",
    },
)


def published(data: dict[str, Any]) -> list[dict[str, Any]]:
    """The :data:`PUBLISHED` rows to show beside ``data``: Kodak's for a Kodak folder, DIV2K ×2's
    for any other."""
    on = "kodak" if "kodak" in Path(data["settings"]["dataset"]).name.lower() else "div2k"
    return [p for p in PUBLISHED if p["on"] == on]


def published_table(data: dict[str, Any]) -> str:
    """Markdown: the :func:`published` rows for ``data``, each with its hardware."""
    lines = ["| source | data | hardware | Gaussians | init PSNR (dB) | init s |", "|---" * 6 + "|"]
    for p in published(data):
        secs = "–" if p["init_seconds"] is None else f"{p['init_seconds']:.2f}"
        lines.append(
            f"| {p['what']} | {p['dataset']} | {p['hardware']} | {p['gaussians']:,} | "
            f"{p['psnr']:.2f} | {secs} |"
        )
    return "\n".join(lines) + "\n"
