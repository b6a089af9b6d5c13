"""Rate control of the net init: exactly the count asked for, from its own PPM, or an error naming
the range."""

from __future__ import annotations

import numpy as np
import pytest
from flax import nnx

from igi_jax.errors import InputError
from igi_jax.init import initialize
from igi_jax.net import InstantGINet, NetConfig, gaussians_for_image, save_weights

H, W = 48, 64


@pytest.fixture(scope="module")
def model():
    return InstantGINet(NetConfig.tiny(), rngs=nnx.Rngs(3))


@pytest.fixture(scope="module")
def image():
    y, x = np.mgrid[0:H, 0:W] / np.asarray([H, W])[:, None, None]
    return np.stack([x, (x > 0.5) * 0.8, 0.5 + 0.4 * np.cos(12 * x * y)], -1).astype(np.float32)


@pytest.fixture(scope="module")
def own(model, image):
    return gaussians_for_image(model, image, k=3)


@pytest.mark.parametrize("factor", [0.5, 1.6])
def test_exact_count_from_the_scaled_ppm(model, image, own, factor):
    n = int(own[1]["gaussians"] * factor)
    g, info = gaussians_for_image(model, image, k=3, num_gaussians=n)
    assert g.num_live() == info["gaussians"] == n
    assert info["dropped_for_count"] <= 0.05 * n  # the search did the work, not the trimming
    # more Gaussians than its own need a denser map, fewer a sparser one
    assert (info["ppm_scale"] > 1) == (factor > 1)
    assert np.isfinite(np.asarray(g.xy)).all() and np.isfinite(np.asarray(g.colors)).all()


def test_the_own_count_gives_the_own_set(model, image, own):
    g0, info0 = own
    g, info = gaussians_for_image(model, image, k=3, num_gaussians=info0["gaussians"])
    assert info["ppm_scale"] == 1.0 and info["dropped_for_count"] == 0
    m = np.asarray(g0.mask)
    np.testing.assert_array_equal(np.asarray(g.mask), m)
    np.testing.assert_array_equal(np.asarray(g.xy)[m], np.asarray(g0.xy)[m])


def test_out_of_range_count_names_the_range(model, image):
    outside = r"net init gives this image [\d,]+ to [\d,]+ Gaussians; 1 is outside"
    with pytest.raises(InputError, match=outside):
        gaussians_for_image(model, image, k=3, num_gaussians=1)
    # one point per 5×5 cell at most: a count that only k = 3 reaches names the remedy
    with pytest.raises(InputError, match="a smaller --kernel-size gives more"):
        gaussians_for_image(model, image, k=5, num_gaussians=H * W // 4)


def test_initialize_passes_the_count(model, image, tmp_path):
    weights = save_weights(tmp_path / "tiny.npz", model)
    init = initialize("net", image, weights=weights, num_gaussians=150, shrink=0.8)
    assert init.gaussians.num_live() == init.info["gaussians"] == 150
    with pytest.raises(ValueError, match="does not apply to the ablation"):
        initialize("ellipse", image, weights=weights, num_gaussians=150)


def test_a_ppm_scale_moves_the_count_and_keeps_the_map(model, image, own):
    _, info0 = own
    dense, info = gaussians_for_image(model, image, k=3, ppm_scale=1.5)
    sparse, info_s = gaussians_for_image(model, image, k=3, ppm_scale=0.5)
    assert info_s["gaussians"] < info0["gaussians"] < info["gaussians"] == dense.num_live()
    assert info["ppm_scale"] == 1.5 and "ppm_scale" not in info0
    # the scaled map is the clipped product of the same map: its mean moves by at most the factor
    assert info0["ppm_mean"] < info["ppm_mean"] <= 1.5 * info0["ppm_mean"] + 1e-6
    # with a count, the search sets the scale: a given factor changes nothing
    counted = gaussians_for_image(model, image, k=3, num_gaussians=150, ppm_scale=3.0)[1]
    assert counted["gaussians"] == 150 and counted["ppm_scale"] != 3.0


def test_initialize_uses_the_ppm_scale_the_weights_record(model, image, own, tmp_path):
    from igi_jax.net.weights import ppm_scale
    from igi_jax.train.export import restamp

    plain = save_weights(tmp_path / "plain.npz", model, meta={"step": 7})
    restamp(plain, tmp_path / "dense.npz", ppm_scale=1.5)
    assert ppm_scale(plain) is None and ppm_scale(tmp_path / "dense.npz") == 1.5
    n_plain = initialize("net", image, weights=plain, solve_colors=0).info["gaussians"]
    n_dense = initialize("net", image, weights=tmp_path / "dense.npz", solve_colors=0).info["gaussians"]
    n_given = initialize("net", image, weights=plain, solve_colors=0, ppm_scale=1.5).info["gaussians"]
    assert n_plain == own[1]["gaussians"] < n_dense == n_given
    # the caller's factor wins over the recorded one
    n_back = initialize("net", image, weights=tmp_path / "dense.npz", solve_colors=0, ppm_scale=1.0)
    assert n_back.info["gaussians"] == n_plain
    with pytest.raises(ValueError, match=r"ppm_scale must be a number in \(0, 16\]"):
        initialize("net", image, weights=plain, ppm_scale=0.0)
    with pytest.raises(ValueError, match="applies to the 'net' init only"):
        initialize("quadtree", image, ppm_scale=1.5)
