"""The network end to end on the tiny config: shapes, BC centres, inference Gaussians, backends."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from igi_jax.buckets import bucket
from igi_jax.net import InstantGINet, NetConfig, gaussians_for_image, predict_ppm
from igi_jax.render import render_gaussians

H, W = 37, 45  # not multiples of 16 (nor of k)


@pytest.fixture(scope="module")
def model():
    return InstantGINet(NetConfig.tiny(), rngs=nnx.Rngs(0))


@pytest.fixture(scope="module")
def image():
    y, x = np.mgrid[0:H, 0:W] / np.asarray([H, W])[:, None, None]
    return np.stack([x, y, 0.5 + 0.4 * np.sin(9 * x * y)], -1).astype(np.float32)


@pytest.fixture(scope="module")
def init(model, image):
    return gaussians_for_image(model, image, k=3, backend="reference")


def test_predict_ppm_shapes_for_any_size(model):
    for h, w in [(H, W), (20, 33)]:
        images = jnp.asarray(np.random.default_rng(h).uniform(size=(2, h, w, 3)), jnp.float32)
        features, ppm = jax.jit(predict_ppm)(model, images)
        assert features.shape == (2, h, w, 64) and ppm.shape == (2, h, w)
        p = np.asarray(ppm)
        assert np.isfinite(p).all() and p.min() > 0 and p.max() < 1


def test_inference_gaussians_layout(init, image):
    g, info = init
    assert (g.kind, g.height, g.width) == ("rs", H, W)
    assert g.capacity == bucket(info["gaussians"]) and g.num_live() == info["gaussians"]
    assert info["gaussians"] > info["points"]  # about 2 triangles per point
    for key in ("t_network", "t_dither", "t_delaunay", "t_pad", "t_fields"):
        assert info[key] > 0  # every stage ran (perf_counter has ns resolution)
    assert info["seconds"] == pytest.approx(info["t_network"] + info["t_host"] + info["t_fields"])
    for leaf in (g.xy, g.shape, g.colors):
        assert np.isfinite(np.asarray(leaf)).all()
    # Colour = opacity × image at the centre: within [0, max image value].
    colors = np.asarray(g.colors)[np.asarray(g.mask)]
    assert colors.min() >= 0 and colors.max() <= image.max() + 1e-6


def test_bc_centres_lie_inside_their_triangles(model, image, init):
    from igi_jax.net import host_geometry

    g, _ = init
    _, ppm = jax.jit(predict_ppm)(model, jnp.asarray(image)[None])
    geom = host_geometry(np.asarray(ppm), 3)  # deterministic: the same triangles as the init
    m = np.asarray(geom.mask[0])
    v = np.asarray(geom.vertices[0], np.float64)[m]
    p = np.asarray(g.means(), np.float64)[np.asarray(g.mask)]
    # Barycentric coordinates of each centre in its own triangle.
    t = np.stack([v[:, 1] - v[:, 0], v[:, 2] - v[:, 0]], -1)  # [M, 2, 2] columns e1, e2
    l12 = np.linalg.solve(t, (p - v[:, 0])[..., None])[..., 0]
    lam = np.concatenate([1 - l12.sum(-1, keepdims=True), l12], -1)
    assert lam.min() > -1e-4, lam.min()
    # Untrained BC field ≈ uniform softmax: the centres sit near the centroids.
    np.testing.assert_allclose(lam, 1 / 3, atol=0.05)


def test_every_backend_renders_the_net_gaussians_alike(init):
    g, _ = init
    ref = np.asarray(render_gaussians(g, backend="reference"))
    assert ref.shape == (H, W, 3) and ref.max() > 0.1
    for backend in ("dense", "pallas-interpret"):
        np.testing.assert_allclose(
            render_gaussians(g, backend=backend), ref, atol=1e-5, rtol=1e-5, err_msg=backend
        )


def test_kernel_size_changes_the_count(model, image):
    n3 = gaussians_for_image(model, image, k=3)[1]["gaussians"]
    n5 = gaussians_for_image(model, image, k=5)[1]["gaussians"]
    assert n5 < n3
    with pytest.raises(ValueError, match="kernel size"):
        gaussians_for_image(model, image, k=7)


def test_init_is_the_same_eager_and_traced():
    """The weights come from ``jax.random`` with the module's key: eager, jit and eval_shape agree."""
    cfg = NetConfig.tiny()

    def build():
        return nnx.to_pure_dict(nnx.state(InstantGINet(cfg, rngs=nnx.Rngs(7))))

    eager, traced = build(), jax.jit(build)()
    shapes = nnx.to_pure_dict(nnx.state(nnx.eval_shape(lambda: InstantGINet(cfg, rngs=nnx.Rngs(7)))))
    leaves = jax.tree.leaves(eager)
    assert len(leaves) == len(jax.tree.leaves(traced)) > 10
    # Same random bits; the jitted program fuses the normal's erfinv differently: ≤ 1 ulp apart.
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=3e-7, atol=1e-8), eager, traced)
    jax.tree.map(lambda a, s: a.shape == s.shape or pytest.fail(f"{a.shape} != {s.shape}"), eager, shapes)
    kernel = eager["unet"]["out_conv"]["kernel"]
    assert 0.5 * cfg.init_std < np.std(kernel) < 1.5 * cfg.init_std  # N(0, init_std²), not the default
    assert not np.array_equal(kernel, build_other(cfg)["unet"]["out_conv"]["kernel"])


def build_other(cfg: NetConfig) -> dict:
    return nnx.to_pure_dict(nnx.state(InstantGINet(cfg, rngs=nnx.Rngs(8))))


def test_the_unet_padding_rule():
    from igi_jax.net import NetConfig

    stride = NetConfig.small()
    assert [stride.padded(n) for n in (96, 97, 128, 129)] == [96, 112, 128, 144]
    crops = dataclasses.replace(stride, pad_modulus=48, pad_residue=32)
    assert [crops.padded(n) for n in (80, 96, 128, 129, 192, 224)] == [80, 128, 128, 176, 224, 224]
    for bad in ({"pad_modulus": 40}, {"pad_modulus": 48, "pad_residue": 8}, {"pad_residue": 16}):
        with pytest.raises(ValueError, match="pad_modulus"):
            dataclasses.replace(stride, **bad)


def test_a_net_trained_on_padded_crop_edges_pads_like_its_crops():
    from igi_jax.train.config import TrainConfig
    from igi_jax.train.step import net_config

    cfg = TrainConfig(net="small")
    assert net_config(cfg) == NetConfig.small()
    short = cfg.replace(data=dataclasses.replace(cfg.data, edge_jitter=15))
    assert net_config(short).pad_modulus == 0  # jitter below lcm(16, 3) − 1: not every pairing seen
    full = cfg.replace(data=dataclasses.replace(cfg.data, edge_jitter=47))
    assert (net_config(full).pad_modulus, net_config(full).pad_residue) == (48, 32)
    k4 = full.replace(kernel_size=4)
    assert (net_config(k4).pad_modulus, net_config(k4).pad_residue) == (16, 0)
