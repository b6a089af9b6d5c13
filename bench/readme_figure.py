"""The README's figure: the demo image, its Gaussians (1σ ellipses) and their render after 100 steps
of ``igi fit``'s default fit from the quad-tree + colour-solve init (what the README's first command does).

    python bench/readme_figure.py      # writes assets/demo_fit.png (~15 s on 2 CPU cores)
"""

from __future__ import annotations

import dataclasses
import io as io_lib

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import EllipseCollection
from matplotlib.figure import Figure
from PIL import Image

from configs.fit_default import get_config
from igi_jax import io, metrics
from igi_jax.fit import fit
from igi_jax.init import initialize
from igi_jax.render import render_gaussians


def main() -> None:
    image, _ = io.load_image("assets/demo.png")
    init = initialize("quadtree", image)
    result = fit(init.gaussians, image, dataclasses.replace(get_config(), steps=100))
    g = result.gaussians
    out = np.clip(np.asarray(render_gaussians(g)), 0, 1)
    psnr = float(metrics.psnr(out, image))
    live = np.asarray(g.mask)
    means = np.asarray(g.means())[live]
    xx, xy, yy = np.asarray(g.covariances())[live].T
    # 1σ ellipse of each Gaussian: eigen-decomposition of its 2×2 covariance
    b, d = 0.5 * (xx + yy), np.sqrt(0.25 * (xx - yy) ** 2 + xy**2)
    s1, s2 = np.sqrt(b + d), np.sqrt(np.maximum(b - d, 1e-9))
    angle = np.degrees(0.5 * np.arctan2(2 * xy, xx - yy))
    h, w = image.shape[:2]
    fig = Figure(figsize=(12, 12 * h / w / 3 + 0.4), dpi=100)
    titles = ["image", f"{live.sum():,} Gaussians (1σ)", f"render after 100 steps: {psnr:.2f} dB"]
    for i, title in enumerate(titles):
        ax = fig.add_axes((i / 3, 0, 1 / 3 - 0.004, 0.9))
        ax.set_axis_off()
        ax.set_title(title, fontsize=11)
        if i == 1:
            ax.imshow(np.ones_like(image))
            ax.add_collection(
                EllipseCollection(2 * s1, 2 * s2, angle, units="xy", offsets=means,
                                  offset_transform=ax.transData, facecolors=np.clip(
                                      np.asarray(g.colors)[live], 0, 1), alpha=0.6, linewidths=0)
            )  # fmt: skip
        else:
            ax.imshow(image if i == 0 else out)
        ax.set_xlim(0, w)
        ax.set_ylim(h, 0)
    buf = io_lib.BytesIO()
    FigureCanvasAgg(fig).print_png(buf)
    # 256 colours: a third of the bytes, indistinguishable at this size
    Image.open(buf).convert("RGB").quantize(256, dither=Image.Dither.NONE).save(
        "assets/demo_fit.png", optimize=True
    )
    print(f"assets/demo_fit.png: {live.sum()} Gaussians, {psnr:.2f} dB")


if __name__ == "__main__":
    main()
