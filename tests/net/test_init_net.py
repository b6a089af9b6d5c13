"""``initialize("net", ...)``: weights required, timings, colour solve, parameterizations."""

from __future__ import annotations

import numpy as np
import pytest
from flax import nnx

from igi_jax.init import INITS, initialize
from igi_jax.net import InstantGINet, NetConfig, save_weights
from igi_jax.net import weights as weights_lib
from igi_jax.render import render_gaussians

H, W = 30, 42


@pytest.fixture(scope="module")
def weights_file(tmp_path_factory):
    model = InstantGINet(NetConfig.tiny(), rngs=nnx.Rngs(1))
    return save_weights(tmp_path_factory.mktemp("w") / "tiny.npz", model)


@pytest.fixture(scope="module")
def image():
    y, x = np.mgrid[0:H, 0:W] / np.asarray([H, W])[:, None, None]
    return np.stack([x, y, 0.5 + 0.4 * np.cos(8 * x * y)], -1).astype(np.float32)


def test_net_is_registered_and_needs_weights(image, monkeypatch, tmp_path):
    assert "net" in INITS
    monkeypatch.setattr(weights_lib, "DEFAULT_WEIGHTS", tmp_path / "absent.npz")
    with pytest.raises(ValueError, match="needs trained weights"):
        initialize("net", image)
    with pytest.raises(FileNotFoundError):
        initialize("net", image, weights=tmp_path / "nope.npz")
    with pytest.raises(ValueError, match="net-based inits"):
        initialize("quadtree", image, weights=tmp_path / "nope.npz")
    with pytest.raises(ValueError, match="net' init only"):
        initialize("quadtree", image, shrink=0.8)


def test_net_init_with_weights(image, weights_file):
    r = initialize("net", image, weights=weights_file, k=3)
    g = r.gaussians
    assert (g.kind, g.height, g.width) == ("rs", H, W)
    assert g.num_live() == r.info["gaussians"] > 0
    assert r.seconds > 0 and r.info["solve_iters"] == 8  # the solve is on by default after net
    info = r.info
    for key in ("t_network", "t_dither", "t_delaunay", "t_fields", "t_solve", "compile_seconds"):
        assert info[key] > 0, key  # every stage ran (the first call compiles)
    # the host stage contains dithering and Delaunay; the init's time contains every stage
    assert info["t_host"] >= info["t_dither"] + info["t_delaunay"]
    stages = info["t_network"] + info["t_host"] + info["t_fields"] + info["t_solve"]
    assert stages <= r.seconds
    # Fewer Gaussians at k=5.
    assert initialize("net", image, weights=weights_file, k=5).gaussians.num_live() < g.num_live()


def test_net_init_then_colour_solve_lowers_the_error(image, weights_file):
    r = initialize("net", image, weights=weights_file, solve_colors=4)
    assert r.info["solve_iters"] == 4
    assert r.info["mse_after_solve"] < r.info["mse_before_solve"]


def test_shrink_narrows_every_gaussian_by_the_factor(image, weights_file):
    own = initialize("net", image, weights=weights_file, solve_colors=0).gaussians
    narrow = initialize("net", image, weights=weights_file, solve_colors=0, shrink=0.8)
    assert narrow.info["shrink"] == 0.8
    g = narrow.gaussians
    np.testing.assert_array_equal(g.xy, own.xy)  # same centres, colours and angles
    np.testing.assert_array_equal(g.colors, own.colors)
    live = np.asarray(own.mask)
    # Covariance × 0.8² exactly (both std devs scale, the angle is kept).
    np.testing.assert_allclose(
        np.asarray(g.covariances())[live], 0.64 * np.asarray(own.covariances())[live], rtol=1e-5, atol=1e-6
    )
    for bad in (0.0, -1.0, float("nan"), float("inf"), 5.0):
        with pytest.raises(ValueError, match="shrink must be"):
            initialize("net", image, weights=weights_file, shrink=bad)


def test_cholesky_kind_renders_like_rs(image, weights_file):
    rs = initialize("net", image, weights=weights_file).gaussians
    ch = initialize("net", image, weights=weights_file, kind="cholesky").gaussians
    assert ch.kind == "cholesky" and ch.num_live() == rs.num_live()
    np.testing.assert_allclose(
        render_gaussians(ch, backend="reference"), render_gaussians(rs, backend="reference"), atol=1e-4
    )
