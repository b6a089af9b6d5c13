"""Rate control of the quad-tree init: exactly the count asked for, or an error naming the range."""

from __future__ import annotations

import numpy as np
import pytest

from igi_jax.errors import InputError
from igi_jax.init import initialize
from igi_jax.init.quadtree import quadtree_geometry
from igi_jax.init.quadtree_count import geometry_for_count


def _image(h: int = 96, w: int = 128) -> np.ndarray:
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:h, 0:w] / h
    image = np.stack([0.5 + 0.4 * np.sin(9 * xx * yy), (xx > 0.6) * 0.8, 0.3 + 0.2 * np.cos(7 * yy)], -1)
    return np.clip(image + rng.normal(0, 0.03, image.shape), 0, 1).astype(np.float32)


@pytest.mark.parametrize("n", [150, 600, 1200])
def test_exact_count(n):
    means, cov, colors, info = geometry_for_count(_image(), n)
    assert len(means) == len(cov) == len(colors) == n == info["gaussians"]
    assert info["dropped_for_count"] <= 0.05 * n  # the search did the work, not the trimming


def test_count_follows_the_threshold_factor():
    counts = [quadtree_geometry(_image(), detail=d)[3]["gaussians"] for d in (0.25, 1.0, 4.0)]
    assert counts[0] > counts[1] > counts[2]


def test_out_of_range_count_names_the_range():
    with pytest.raises(InputError, match=r"gives this image [\d,]+ to [\d,]+ Gaussians; 5 is outside"):
        geometry_for_count(_image(), 5)


def test_initialize_passes_the_count():
    init = initialize("quadtree", _image(), num_gaussians=700)
    assert init.gaussians.num_live() == 700
