"""The batched training loss: gradients for every parameter, PPM isolation, batch = mean of images."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from igi_jax.net import InstantGINet, NetConfig, batch_loss, host_geometry, per_image_losses

H, W = 24, 40


@pytest.fixture(scope="module")
def setup():
    model = InstantGINet(NetConfig.tiny(), rngs=nnx.Rngs(0))
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:H, 0:W] / np.asarray([H, W])[:, None, None]
    images = np.stack(
        [np.stack([x, y, 0.5 + 0.4 * np.sin(7 * x * y)], -1), rng.uniform(size=(H, W, 3))]
    ).astype(np.float32)
    target = np.stack([0.2 + 0.6 * x, 0.7 - 0.5 * y]).astype(np.float32)
    # Two PPMs of different mass, so the two images get different Gaussian counts (the untrained
    # net's own PPM is ≈ 0.5 everywhere); the loss holds for any triangulation.
    geom = host_geometry(np.stack([np.full((H, W), 0.6), 0.15 + 0.2 * x]).astype(np.float32), 3)
    counts = geom.num_triangles()
    assert counts[0] != counts[1]
    return model, jnp.asarray(images), jnp.asarray(target), geom


@functools.partial(jax.jit, static_argnums=0)
def _grads(graphdef, state, images, target, geom):
    """Gradients of (loss − focal) and of focal (one forward, two backward), the batch aux and
    the per-image terms."""

    def parts(s):
        model = nnx.merge(graphdef, s)
        _, aux = batch_loss(model, images, target, geom)
        return jnp.stack([aux["loss"] - aux["focal"], aux["focal"]]), aux

    _, vjp, aux = jax.vjp(parts, state, has_aux=True)
    (g_rest,) = vjp(jnp.asarray([1.0, 0.0], jnp.float32))
    (g_focal,) = vjp(jnp.asarray([0.0, 1.0], jnp.float32))
    return g_rest, g_focal, aux, per_image_losses(nnx.merge(graphdef, state), images, target, geom)


@pytest.fixture(scope="module")
def grads(setup):
    model, images, target, geom = setup
    graphdef, state = nnx.split(model)
    return _grads(graphdef, state, images, target, geom)


def _paths(tree):
    return {
        "/".join(str(getattr(k, "key", k)) for k in p): np.asarray(v)
        for p, v in jax.tree_util.tree_flatten_with_path(nnx.to_pure_dict(tree))[0]
    }


def test_gradients_reach_every_parameter_and_the_ppm_only_through_focal(setup, grads):
    model, _, _, geom = setup
    g_rest, g_focal, _, terms = grads
    rest, focal = _paths(g_rest), _paths(g_focal)
    params = _paths(nnx.state(model, nnx.Param))
    assert rest.keys() == focal.keys() == params.keys()  # a gradient for every parameter, no other
    for name in rest:
        total = rest[name] + focal[name]
        assert np.isfinite(total).all(), name
        assert np.abs(total).max() > 0, f"zero gradient for {name}"
        if name.startswith("position/"):
            # The PPM head learns from its focal loss only (dither/Delaunay are not differentiable
            # and the reconstruction weights are stop-gradient).
            assert np.abs(rest[name]).max() == 0, name
            assert np.abs(focal[name]).max() > 0, name
        elif not name.startswith("unet/"):
            assert np.abs(focal[name]).max() == 0, name  # fields see no focal gradient
    for key in ("loss", "l2", "dssim", "focal", "scale_floor", "psnr"):
        assert terms[key].shape == (2,) and np.isfinite(np.asarray(terms[key])).all(), key
    np.testing.assert_array_equal(terms["gaussians"], geom.num_triangles())


def test_batch_loss_is_the_mean_of_single_image_losses(setup, grads):
    model, images, target, geom = setup
    _, _, aux, _ = grads
    single = jax.jit(per_image_losses)
    alone = [single(model, images[b : b + 1], target[b : b + 1], geom.image(b)) for b in range(2)]
    for key in ("loss", "l2", "dssim", "focal", "scale_floor", "psnr"):
        each = np.asarray([float(a[key][0]) for a in alone])
        # Float32 sums in another order (vmap vs single): relative 1e-5.
        np.testing.assert_allclose(aux[key], each.mean(), rtol=1e-5, err_msg=key)
    np.testing.assert_allclose(aux["loss"], aux["recon"] + aux["focal"] + aux["scale_floor"], rtol=1e-6)
    assert set(aux) >= {"loss", "psnr", "l2", "dssim", "focal", "scale_floor"}
    assert all(v.shape == () for v in aux.values())


def test_image_sizes_mask_the_padding_out_of_every_loss_term(setup):
    model, images, target, geom = setup
    full = per_image_losses(model, images, target, geom)
    whole = per_image_losses(model, images, target, geom, sizes=jnp.asarray([[H, W], [H, W]], jnp.int32))
    for key in ("loss", "l2", "dssim", "focal", "mse"):
        np.testing.assert_allclose(whole[key], full[key], rtol=1e-5, err_msg=key)
    sizes = jnp.asarray([[H - 5, W - 7], [H, W - 3]], jnp.int32)
    part = per_image_losses(model, images, target, geom, sizes=sizes)
    # Beyond each image's size, the label and the render are not looked at.
    noisy = target.at[0, H - 5 :].set(1.0).at[1, :, W - 3 :].set(0.0)
    other = per_image_losses(model, images, noisy, geom, sizes=sizes)
    for key in ("loss", "l2", "dssim", "focal", "mse"):
        np.testing.assert_allclose(other[key], part[key], rtol=1e-6, err_msg=key)
        assert not np.allclose(part[key], full[key]), key  # the mask changes what is scored
