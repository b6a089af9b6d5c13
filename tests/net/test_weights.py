"""Weights files: round trip, orbax directories, and one clear error for each bad file."""

from __future__ import annotations

import json
import zipfile

import jax
import numpy as np
import pytest
from flax import nnx

from igi_jax.net import InstantGINet, NetConfig, load_weights, read_header, save_orbax, save_weights
from igi_jax.net.weights import FORMAT_VERSION


@pytest.fixture(scope="module")
def model():
    return InstantGINet(NetConfig.tiny(), rngs=nnx.Rngs(3))


def _same(a, b) -> bool:
    la, lb = jax.tree.leaves(nnx.state(a)), jax.tree.leaves(nnx.state(b))
    return len(la) == len(lb) and all(np.array_equal(x, y) for x, y in zip(la, lb, strict=True))


def test_npz_round_trip_is_exact(model, tmp_path):
    path = save_weights(tmp_path / "w", model, meta={"steps": 7})
    assert path.name == "w.npz"
    loaded = load_weights(path)
    assert loaded.cfg == model.cfg and _same(model, loaded)
    header = read_header(path)
    assert header["format_version"] == FORMAT_VERSION and header["meta"] == {"steps": 7}
    with np.load(path, allow_pickle=False) as z:  # no pickled objects anywhere
        assert all(z[k].dtype != object for k in z.files)


def test_orbax_directory_round_trip(model, tmp_path):
    loaded = load_weights(save_orbax(tmp_path / "ckpt", model))
    assert _same(model, loaded)


def test_bad_files_raise_one_clear_error(model, tmp_path):
    good = save_weights(tmp_path / "good.npz", model)
    data = good.read_bytes()
    (tmp_path / "trunc.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="trunc.npz"):
        load_weights(tmp_path / "trunc.npz")
    (tmp_path / "text.npz").write_text("hello")
    with pytest.raises(ValueError, match="not a readable"):
        load_weights(tmp_path / "text.npz")
    with pytest.raises(FileNotFoundError):
        load_weights(tmp_path / "missing.npz")
    np.savez(tmp_path / "plain.npz", a=np.zeros(3))
    with pytest.raises(ValueError, match="not an igi network weights file"):
        load_weights(tmp_path / "plain.npz")


def _rewrite(src, dst, edit):
    with np.load(src, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    header = json.loads(str(arrays.pop("__header__")[()]))
    header, arrays = edit(header, arrays)
    np.savez(dst, __header__=np.asarray(json.dumps(header)), **arrays)
    return dst


def test_wrong_version_config_or_shapes_are_rejected(model, tmp_path):
    good = save_weights(tmp_path / "good.npz", model)

    def version(h, a):
        return {**h, "format_version": "igi-net/999"}, a

    with pytest.raises(ValueError, match="format_version"):
        load_weights(_rewrite(good, tmp_path / "v.npz", version))

    def other_config(h, a):
        return {**h, "config": NetConfig.small().to_dict()}, a

    with pytest.raises(ValueError, match="do not match the network config"):
        load_weights(_rewrite(good, tmp_path / "c.npz", other_config))

    def bad_shape(h, a):
        name = next(k for k in a if k.endswith("kernel"))
        return h, {**a, name: np.zeros((1, 2), np.float32)}

    with pytest.raises(ValueError, match="has shape"):
        load_weights(_rewrite(good, tmp_path / "s.npz", bad_shape))

    def nan(h, a):
        name = next(iter(a))
        return h, {**a, name: np.full_like(a[name], np.nan)}

    with pytest.raises(ValueError, match="NaN"):
        load_weights(_rewrite(good, tmp_path / "n.npz", nan))
    assert zipfile.is_zipfile(good)
