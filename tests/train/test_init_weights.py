"""``TrainConfig.init_weights``: a run can start from trained weights (the warm start of issue 31)."""

from __future__ import annotations

import jax
import numpy as np
import pytest
from flax import nnx

from igi_jax import net
from igi_jax.errors import InputError
from igi_jax.train.config import TrainConfig, load
from igi_jax.train.step import create


def _params(model) -> list[np.ndarray]:
    return [np.asarray(x) for x in jax.tree.leaves(nnx.state(model, nnx.Param))]


def test_the_model_starts_from_the_weights_file_and_the_optimizer_starts_fresh(tmp_path):
    trained = net.InstantGINet(net.NetConfig.tiny(), rngs=nnx.Rngs(7))
    path = net.save_weights(tmp_path / "w.npz", trained)
    model, opt = create(TrainConfig(net="tiny", seed=0, init_weights=str(path)))
    fresh, _ = create(TrainConfig(net="tiny", seed=0))
    for got, want in zip(_params(model), _params(trained), strict=True):
        np.testing.assert_array_equal(got, want)
    assert any(not np.array_equal(a, b) for a, b in zip(_params(model), _params(fresh), strict=True))
    assert int(opt.step[...]) == 0
    moments = [np.asarray(x) for x in jax.tree.leaves(nnx.state(opt, nnx.OptState)) if np.ndim(x) > 0]
    assert moments and all(not m.any() for m in moments)


def test_weights_of_another_preset_are_refused(tmp_path):
    path = net.save_weights(tmp_path / "w.npz", net.InstantGINet(net.NetConfig.tiny(), rngs=nnx.Rngs(0)))
    with pytest.raises(InputError, match="not the 'small' preset"):
        create(TrainConfig(net="small", init_weights=str(path)))


def test_a_config_file_takes_its_argument_after_a_colon():
    cfg = load("configs/net_small_v2.py:warm_width")
    assert cfg.init_weights.endswith("train_small/weights.npz") and cfg.width_prior > 0 and cfg.steps == 2000
    assert load("configs/net_small_v2.py").init_weights is None
    with pytest.raises(ValueError, match="unknown variant 'nope'"):
        load("configs/net_small_v2.py:nope")
