"""Quad-tree init: the vectorised split against a node-by-node reference, tiling, thresholds, init."""

from __future__ import annotations

from collections import deque
from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage

from igi_jax.geometry.ellipse import triangle_ellipses
from igi_jax.geometry.triangulate import triangulate
from igi_jax.init.quadtree import (
    leaf_points,
    prepare_image,
    quadtree_geometry,
    quadtree_init,
    quadtree_leaves,
    sample_bilinear,
    split_square,
    threshold,
)

KODAK = Path(__file__).resolve().parents[2].parent / "shared" / "datasets" / "kodak"


def _synthetic(h: int, w: int, seed: int = 0) -> np.ndarray:
    """Smooth background, a few sharp discs and a noisy patch: every split branch gets exercised."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w] + 0.5
    img = np.stack([x / w, y / h, 0.5 + 0.0 * x], -1) * 0.6
    for _ in range(4):
        cx, cy, r = rng.uniform(0, w), rng.uniform(0, h), rng.uniform(3, max(h, w) / 4)
        img[(x - cx) ** 2 + (y - cy) ** 2 < r * r] = rng.uniform(0, 1, 3)
    py, px = rng.integers(0, max(h - 8, 1)), rng.integers(0, max(w - 8, 1))
    img[py : py + 8, px : px + 8] += rng.normal(0, 0.1, img[py : py + 8, px : px + 8].shape)
    return np.clip(img, 0, 1)


def _uniform(img: np.ndarray, x: int, y: int, xs: int, ys: int) -> bool:
    return img[y : y + ys, x : x + xs].std(axis=(0, 1)).max() < threshold(max(xs, ys))


def _reference_leaves(img: np.ndarray) -> set[tuple[int, int, int, int]]:
    """The official breadth-first split, node by node, with direct std (no integral images)."""
    s = img.shape[0]
    leaves, queue = [], deque([(0, 0, s, s)])
    while queue:
        x, y, xs, ys = queue.popleft()
        if min(xs, ys) <= 4 or _uniform(img, x, y, xs, ys):
            leaves.append((x, y, xs, ys))
            continue
        xh, yh = xs // 2, ys // 2
        quads = [
            (x, y, xh, yh),
            (x + xh, y, xs - xh, yh),
            (x, y + yh, xh, ys - yh),
            (x + xh, y + yh, xs - xh, ys - yh),
        ]
        covered = [False] * 4
        for half, idx in (((x, y, xh, ys), (0, 2)), ((x + xh, y, xs - xh, ys), (1, 3))):
            if _uniform(img, *half):
                leaves.append(half)
                for i in idx:
                    covered[i] = True
        if not any(covered):
            for half, idx in (((x, y, xs, yh), (0, 1)), ((x, y + yh, xs, ys - yh), (2, 3))):
                if _uniform(img, *half):
                    leaves.append(half)
                    for i in idx:
                        covered[i] = True
        queue.extend(q for q, c in zip(quads, covered, strict=True) if not c)
    return {(x, y, x + xs, y + ys) for x, y, xs, ys in leaves}


def _assert_tiles(leaves: np.ndarray, s: int) -> None:
    assert np.all(leaves[:, :2] >= 0) and np.all(leaves[:, 2:] <= s)
    assert np.all(leaves[:, 2:] > leaves[:, :2])
    sizes = leaves[:, 2:] - leaves[:, :2]
    assert int(np.prod(sizes, axis=1).sum()) == s * s
    cover = np.zeros((s, s), np.int32)
    for x0, y0, x1, y1 in leaves:
        cover[y0:y1, x0:x1] += 1
    assert np.all(cover == 1)


@pytest.mark.parametrize("shape, seed", [((64, 64), 0), ((40, 57), 1), ((75, 30), 2), ((100, 130), 3)])
def test_split_matches_reference(shape, seed):
    img = _synthetic(*shape, seed=seed)
    prepared = prepare_image(img)
    leaves = split_square(prepared)
    ours = {tuple(int(v) for v in leaf) for leaf in leaves}
    assert len(ours) == len(leaves)
    assert ours == _reference_leaves(prepared)
    _assert_tiles(leaves, max(shape))


def test_thresholds_respected():
    prepared = prepare_image(_synthetic(90, 120, seed=4))
    leaves = split_square(prepared)
    for x0, y0, x1, y1 in leaves:
        if min(x1 - x0, y1 - y0) > 4:
            assert _uniform(prepared, x0, y0, x1 - x0, y1 - y0)


def test_half_splits_happen():
    # Left half flat, right half textured, 64 px (threshold > 0): the left half is one 32×64 leaf.
    img = np.full((64, 64, 3), 0.4)
    img[:, 32:] = np.random.default_rng(0).uniform(0, 1, (64, 32, 3))
    leaves = quadtree_leaves(img, blur_sigma=0.0)
    assert [0, 0, 32, 64] in leaves.tolist()
    img_t = np.transpose(img, (1, 0, 2))  # top half flat: tried only because no vertical half is
    assert [0, 0, 64, 32] in quadtree_leaves(img_t, blur_sigma=0.0).tolist()


def test_leaf_sizes():
    leaves = quadtree_leaves(_synthetic(64, 64, seed=5))  # power of two: leaves ≥ 4 px
    assert (leaves[:, 2:] - leaves[:, :2]).min() >= 4
    leaves = quadtree_leaves(np.random.default_rng(0).uniform(size=(48, 48, 3)), blur_sigma=0)
    sizes = leaves[:, 2:] - leaves[:, :2]
    assert sizes.min() == 3  # 48 → 24 → 12 → 6 → 3: a node > 4 px splits, so leaves can be 3 px


def test_flat_image_threshold_sign():
    # thr(size) < 0 past ~105 px, so a flat 128 px square still splits once into 64 px quadrants.
    assert threshold(105) > 0 > threshold(106)
    leaves = quadtree_leaves(np.full((128, 128, 3), 0.5))
    assert sorted(leaves.tolist()) == [[0, 0, 64, 64], [0, 64, 64, 128], [64, 0, 128, 64], [64, 64, 128, 128]]
    assert quadtree_leaves(np.full((64, 64, 3), 0.5)).tolist() == [[0, 0, 64, 64]]


def test_zero_padding_refines_the_pad_border():
    img = np.full((40, 64, 3), 0.8)
    leaves = quadtree_leaves(img)
    _assert_tiles(leaves, 64)
    assert len(leaves) > 1  # the black padding makes the straddling regions non-uniform
    assert len(quadtree_leaves(img, pad_mode="edge")) == 1


def test_geometry_ellipses_circles_colours():
    img = _synthetic(60, 80, seed=6)
    means, cov, colors, info = quadtree_geometry(img, min_std=0.0)
    n = info["gaussians"]
    assert n == info["ellipses"] + info["circles"] + info["edge_gaussians"] == len(means) == len(cov)
    assert len(colors) == n
    assert info["triangles"] == info["ellipses"] + info["dropped_outside"] + info["dropped_ratio"]
    assert np.all(means >= 0) and np.all(means <= [80, 60])
    # The colours are the unblurred image at the centres: an independent bilinear (scipy, float64).
    coords = np.stack([means[:, 1] - 0.5, means[:, 0] - 0.5])
    want = np.stack(
        [ndimage.map_coordinates(img[..., c], coords, order=1, mode="nearest") for c in range(3)], -1
    )
    np.testing.assert_allclose(colors, want, atol=2e-6)  # float32 sampling
    np.testing.assert_array_equal(colors, sample_bilinear(img, means))

    # Reproduce the edge points, the ellipses, the extra circles and the edge Gaussians independently.
    leaves = quadtree_leaves(img)
    pts = leaf_points(leaves, 60, 80)
    edge = {(0.0, 0.0), (80.0, 0.0), (0.0, 60.0), (80.0, 60.0)}
    for x0, y0, x1, y1 in leaves:
        if x0 >= 80 or y0 >= 60:
            continue  # all padding
        cx, cy = min((x0 + x1) / 2, 80), min((y0 + y1) / 2, 60)
        edge |= {(cx, 0.0)} if y0 == 0 else set()
        edge |= {(cx, 60.0)} if y1 >= 60 else set()
        edge |= {(0.0, cy)} if x0 == 0 else set()
        edge |= {(80.0, cy)} if x1 >= 80 else set()
    edge = np.array(sorted(edge))
    assert info["edge_gaussians"] == len(edge)
    verts = np.concatenate([pts, edge])
    tri = triangulate(verts)
    c, semi, _ = triangle_ellipses(verts[tri.triangles])
    keep = semi[:, 0] <= 10 * semi[:, 1]
    area = np.where(keep, np.pi * semi[:, 0] * semi[:, 1], 0.0)
    vertex_area = np.zeros(len(verts))
    for t, a in zip(tri.triangles, area, strict=True):
        vertex_area[t] += a
    add = vertex_area > 2 * vertex_area.mean()
    assert info["circles"] == add.sum() > 0 and info["ellipses"] == keep.sum()
    radius = 0.4 * np.sqrt(vertex_area[add] / vertex_area.mean() * area.mean() / np.pi)
    ne, nc = info["ellipses"], info["circles"]
    np.testing.assert_allclose(means[:ne], c[keep])
    np.testing.assert_allclose(means[ne : ne + nc], verts[add])
    want_cov = np.stack([radius, 0 * radius, radius], 1) ** 2 * 0.54**2
    np.testing.assert_allclose(cov[ne : ne + nc], want_cov, atol=1e-12)
    # Edge Gaussians: on the outermost pixel centres, semi-axis half the mean distance to the two
    # nearest edge points.
    dist = np.linalg.norm(edge[:, None] - edge[None], axis=-1)
    half = 0.5 * np.sort(dist, axis=1)[:, 1:3].mean(axis=1)
    np.testing.assert_allclose(means[ne + nc :], np.clip(edge, 0.5, [79.5, 59.5]))
    np.testing.assert_allclose(cov[ne + nc :], np.stack([half, 0 * half, half], 1) ** 2 * 0.54**2, atol=1e-12)
    det = cov[:ne, 0] * cov[:ne, 2] - cov[:ne, 1] ** 2
    np.testing.assert_allclose(np.sqrt(det), 0.54**2 * semi[keep, 0] * semi[keep, 1], rtol=1e-9)


def test_geometry_scale_and_floor():
    img = _synthetic(40, 40, seed=7)
    _, cov1, _, _ = quadtree_geometry(img, scale=1.0, min_std=0.0)
    _, cov2, _, _ = quadtree_geometry(img, scale=0.5, min_std=0.0)
    np.testing.assert_allclose(cov2, 0.25 * cov1, rtol=1e-12, atol=1e-12)
    _, cov3, _, _ = quadtree_geometry(img, scale=0.1)  # default floor: std ≥ 0.5 px
    xx, xy, yy = cov3.T
    lam_min = 0.5 * (xx + yy) - np.sqrt(0.25 * (xx - yy) ** 2 + xy**2)
    assert lam_min.min() >= 0.25 - 1e-9


@pytest.mark.parametrize("kind", ["rs", "cholesky"])
def test_init_builds_the_set(kind):
    img = _synthetic(40, 56, seed=8)
    means, cov, colors, info = quadtree_geometry(img)
    g, info2 = quadtree_init(img, kind=kind, capacity=1024)
    n = info["gaussians"]
    assert g.kind == kind and g.capacity == 1024 and g.num_live() == n and (g.height, g.width) == (40, 56)
    assert not np.asarray(g.mask)[n:].any() and not np.asarray(g.colors)[n:].any()
    assert {"t_build", "t_total"} <= info2.keys()
    np.testing.assert_allclose(np.asarray(g.means())[:n], means, atol=2e-3)
    np.testing.assert_allclose(np.asarray(g.covariances())[:n], cov, rtol=1e-3, atol=1e-3)
    np.testing.assert_allclose(np.asarray(g.colors)[:n], colors, atol=1e-6)
    with pytest.raises(ValueError, match="capacity"):
        quadtree_init(img, capacity=n - 1)


@pytest.mark.parametrize("shape", [(3, 3, 3), (1, 1, 3), (4, 4, 3), (64, 64, 3), (5, 40, 3)])
@pytest.mark.parametrize("flat", [True, False])
def test_small_and_flat_images(shape, flat):
    img = np.full(shape, 0.3) if flat else np.random.default_rng(0).uniform(size=shape)
    means, cov, colors, info = quadtree_geometry(img)
    assert info["gaussians"] >= 1
    assert np.isfinite(means).all() and np.isfinite(cov).all() and np.isfinite(colors).all()
    assert np.all(cov[:, 0] * cov[:, 2] - cov[:, 1] ** 2 > 0)


@pytest.mark.parametrize("shape", [(1, 50, 3), (50, 1, 3), (2, 64, 3)])
def test_thin_image_is_covered_by_its_edge_points(shape):
    # With the corners alone every triangle was too thin and the init refused the image.
    means, cov, _, info = quadtree_geometry(np.random.default_rng(0).uniform(size=shape))
    assert info["edge_gaussians"] > 4 and info["gaussians"] >= info["edge_gaussians"]
    assert np.all(means >= 0) and np.all(means <= [shape[1], shape[0]])
    assert np.all(cov[:, 0] * cov[:, 2] - cov[:, 1] ** 2 > 0)


@pytest.mark.parametrize(
    "image, match",
    [
        (np.zeros((4, 4, 3, 1)), r"\[H, W, C\]"),
        (np.zeros((0, 4, 3)), r"\[H, W, C\]"),
        (np.full((8, 8, 3), np.nan), "NaN"),
    ],
)
def test_bad_image(image, match):
    with pytest.raises(ValueError, match=match):
        quadtree_geometry(image)
    with pytest.raises(ValueError, match=match):
        quadtree_leaves(image)


def test_kodak_split_tiles_the_square():
    """A real photo (timing lives in ``bench/init_time.py``, not here)."""
    path = KODAK / "kodim23.png"
    if not path.exists():
        pytest.skip(f"{path} not found")
    from PIL import Image

    img = np.asarray(Image.open(path).convert("RGB"), np.float32) / 255.0
    leaves = quadtree_leaves(img)
    _assert_tiles(leaves, 768)
    means, _, _, info = quadtree_geometry(img)
    assert 20_000 < info["gaussians"] < 50_000 and len(means) == info["gaussians"]
