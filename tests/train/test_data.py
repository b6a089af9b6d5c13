"""Pseudo-PPM labels, the label cache and the grain pipeline."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
from PIL import Image

from igi_jax.data import pipeline, prepare
from igi_jax.data import pseudo_ppm as ppm_lib


def test_density_is_higher_where_centres_are_denser():
    rng = np.random.default_rng(0)
    dense = rng.uniform([0, 0], [20, 40], size=(400, 2))  # left quarter of an 80×40 image
    sparse = rng.uniform([20, 0], [80, 40], size=(100, 2))
    ppm = ppm_lib.pseudo_ppm(np.concatenate([dense, sparse]), 40, 80)
    assert ppm.shape == (40, 80) and ppm.dtype == np.float32
    assert 0.0 <= ppm.min() and ppm.max() <= 1.0
    assert ppm[:, 2:18].mean() > ppm[:, 30:78].mean() + 0.3


def test_density_uses_the_kth_neighbour_at_pixel_centres():
    # 10 centres at one spot: d10 at a pixel centre is its distance to that spot.
    centres = np.full((10, 2), [0.5, 0.5])
    d = ppm_lib.density(centres, 3, 4)
    np.testing.assert_allclose(d[0, 3], 10 / np.sqrt(3.0))
    np.testing.assert_allclose(d[2, 0], 10 / np.sqrt(2.0))


def test_mask_and_errors():
    centres = np.concatenate([np.random.default_rng(1).uniform(0, 30, (20, 2)), np.full((5, 2), 1e6)])
    mask = np.arange(25) < 20
    a = ppm_lib.pseudo_ppm(centres, 30, 30, mask)
    b = ppm_lib.pseudo_ppm(centres[:20], 30, 30)
    np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="at least 10 centres"):
        ppm_lib.density(np.zeros((3, 2)), 4, 4)
    with pytest.raises(ValueError, match="NaN"):
        ppm_lib.density(np.full((12, 2), np.nan), 4, 4)
    assert np.all(ppm_lib.normalise(np.ones((3, 3))) == 0.5)


def test_ppm_png_round_trip_is_close():
    y, x = np.mgrid[0:50, 0:70]
    ppm = (0.5 + 0.5 * np.sin(x / 9.0) * np.cos(y / 7.0)).astype(np.float32)
    im = prepare.encode_ppm(ppm, 2)
    assert im.size == (35, 25)
    import io

    buf = io.BytesIO()
    im.save(buf, format="PNG")
    buf.seek(0)
    back = np.asarray(Image.open(buf).convert("L").resize((70, 50), Image.BILINEAR), np.float32) / 255
    assert np.abs(back - ppm)[2:-2, 2:-2].max() < 0.05  # smooth map: 1/2 resolution loses little


def test_pipeline_is_deterministic_and_resumable(tiny_setup):
    cfg, _ = tiny_setup
    data = cfg.data
    a = iter(pipeline.make_dataset(data, seed=3))
    first = [next(a) for _ in range(3)]
    state = a.get_state()
    more = [next(a) for _ in range(2)]
    b = iter(pipeline.make_dataset(data, seed=3))
    again = [next(b) for _ in range(3)]
    for x, y in zip(first, again, strict=True):
        np.testing.assert_array_equal(x["image"], y["image"])
        np.testing.assert_array_equal(x["ppm"], y["ppm"])
    c = iter(pipeline.make_dataset(data, seed=3))
    c.set_state(json.loads(json.dumps(state)))  # the state survives JSON (it is checkpointed as JSON)
    for x, y in zip(more, [next(c) for _ in range(2)], strict=True):
        np.testing.assert_array_equal(x["image"], y["image"])
    assert first[0]["image"].shape == (data.batch_per_device, data.crop, data.crop, 3)
    assert first[0]["ppm"].shape == (data.batch_per_device, data.crop, data.crop)
    other = next(iter(pipeline.make_dataset(data, seed=4)))
    assert not np.array_equal(other["image"], first[0]["image"])


def test_crop_and_flip_keeps_image_and_label_aligned():
    rng = np.random.default_rng(0)
    img = rng.uniform(size=(30, 40, 3)).astype(np.float32)
    el = {"image": img, "ppm": img[..., 0].copy()}
    kinds = []
    for seed in range(8):
        out = pipeline.crop_and_flip(el, np.random.default_rng(seed), size=16)
        np.testing.assert_array_equal(out["image"][..., 0], out["ppm"])
        windows = [img[y : y + 16, x : x + 16] for y in range(15) for x in range(25)]
        plain = any(np.array_equal(w, out["image"]) for w in windows)
        flipped = any(np.array_equal(w[:, ::-1], out["image"]) for w in windows)
        assert plain != flipped  # every crop is a window of the image, as is or mirrored
        kinds.append(flipped)
    assert 0 < sum(kinds) < 8  # both flipped and unflipped crops occur
    with pytest.raises(ValueError, match="smaller than the 64-px crop"):
        pipeline.crop_and_flip(el, rng, size=64)


def test_missing_cache_is_a_clear_error(tiny_setup, tmp_path):
    cfg, _ = tiny_setup
    data = dataclasses.replace(cfg.data, cache_dir=str(tmp_path / "none"))
    with pytest.raises(ValueError, match="no cached pseudo-PPMs"):
        pipeline.records(data)


@pytest.mark.slow
def test_prepare_fits_writes_and_resumes(tiny_setup, tmp_path):
    cfg, _ = tiny_setup
    data = dataclasses.replace(cfg.data, cache_dir=str(tmp_path / "cache"), limit=1, prepare_steps=5)
    cfg = cfg.replace(data=data)
    logs: list[str] = []
    manifest = prepare.prepare(cfg.data, log=logs.append)
    ((name, rec),) = manifest["samples"].items()
    assert name == "photos_a01_x1" and rec["steps"] == 5 and rec["gaussians"] > 10
    assert rec["psnr_fit"] > rec["psnr_init"]
    label = prepare.decode_ppm(prepare.ppm_path(data.cache_dir, name), 64, 80)
    assert label.shape == (64, 80) and 0 <= label.min() and label.max() <= 1 and label.std() > 0.05
    logs.clear()
    prepare.prepare(cfg.data, log=logs.append)
    assert "1 cached, 0 to fit" in logs[0]


def test_edge_jitter_pads_the_crop_like_the_unet_and_reports_the_image_size():
    rng = np.random.default_rng(0)
    img = rng.uniform(size=(40, 50, 3)).astype(np.float32)
    el = {"image": img, "ppm": img[..., 0].copy()}
    plain = pipeline.crop_and_flip(el, np.random.default_rng(3), size=32)
    np.testing.assert_array_equal(plain["size"], [32, 32])
    seen = set()
    for seed in range(12):
        out = pipeline.crop_and_flip(el, np.random.default_rng(seed), size=32, edge_jitter=5)
        h, w = (int(v) for v in out["size"])
        assert 27 <= h <= 32 and 27 <= w <= 32
        seen.add((h, w))
        # The label is the whole crop; the image is the label's crop up to (h, w), edge-replicated.
        np.testing.assert_array_equal(out["image"][:h, :w, 0], out["ppm"][:h, :w])
        im = out["image"]
        np.testing.assert_array_equal(im[h:], np.broadcast_to(im[h - 1 : h], im[h:].shape))
        np.testing.assert_array_equal(im[:, w:], np.broadcast_to(im[:, w - 1 : w], im[:, w:].shape))
    assert len(seen) > 3  # the size varies from sample to sample
