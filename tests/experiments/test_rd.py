"""The rate–distortion experiment end to end on two small images: one entry per image × method ×
rate, real file sizes within the targets, resuming, the report with its BD columns and the plot."""

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from igi_jax import io
from igi_jax.experiments import bjontegaard, cli, rd_pairs, rd_report, store
from igi_jax.experiments.config import load_experiment
from igi_jax.experiments.rd import Encode, RateDistortion, RDRunner

BPPS = (1.0, 2.5)
SIDE = 176  # MS-SSIM needs sides > 160 px


def _photo(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:SIDE, 0:SIDE] / SIDE
    channels = [0.5 + 0.4 * np.sin((7 + seed) * xx), 0.5 + 0.4 * np.cos(5 * yy * xx), (xx > 0.6) * 0.9]
    img = np.stack(channels, -1)
    return np.round(np.clip(img + rng.normal(0, 0.02, img.shape), 0, 1) * 255).astype(np.uint8)


def _experiment(dataset: Path, out: Path) -> RateDistortion:
    return RateDistortion(
        dataset=str(dataset),
        bpps=BPPS,
        encodes=(Encode("tiny", 15, 5),),
        inits=("quadtree",),
        codecs=("jpeg", "jpeg2000"),
        decode_repeats=1,
        out=str(out),
    )


@pytest.fixture(scope="module")
def rd_run(tmp_path_factory):
    data = tmp_path_factory.mktemp("rd_images")
    for i in range(2):
        Image.fromarray(_photo(i)).save(data / f"im{i}.png")
    exp = _experiment(data, tmp_path_factory.mktemp("rd_out"))
    data = RDRunner(exp, allow_dirty=True, log=lambda s: None).run()
    return exp, data


def test_one_entry_per_image_method_and_rate(rd_run):
    exp, data = rd_run
    keys = sorted(store.entry_key(e) for e in data["entries"])
    methods = ["igi-quadtree-tiny", "jpeg", "jpeg2000"]
    assert exp.methods == methods
    assert keys == sorted((f"im{i}", m, None, f"{b:g} bpp") for i in range(2) for m in methods for b in BPPS)


def test_rates_are_real_file_sizes_within_the_targets(rd_run):
    for e in rd_run[1]["entries"]:
        assert e["bpp"] == pytest.approx(8 * e["bytes"] / SIDE**2) and e["bpp"] <= e["target_bpp"]
        assert np.isfinite(e["psnr"]) and 0 < e["ms_ssim"] <= 1 and e["decode_fps"] > 0
        if e["init"].startswith("igi-"):
            assert (e["fit_steps"], e["qat_steps"]) == (15, 5) and e["gaussians"] > 0
    by = {(e["image"], e["init"], e["target_bpp"]): e for e in rd_run[1]["entries"]}
    for m in ("igi-quadtree-tiny", "jpeg"):  # more bits, more Gaussians / quality
        assert by[("im0", m, 2.5)]["bytes"] > by[("im0", m, 1.0)]["bytes"]


def test_a_second_run_resumes_and_computes_nothing(rd_run):
    exp, data = rd_run
    again = RDRunner(exp, allow_dirty=True, log=lambda s: None)
    again.run()
    assert again.fitted == 0 and len(again.store.entries) == len(data["entries"])
    with pytest.raises(io.InputError, match="other settings"):
        RDRunner(dataclasses.replace(exp, bpps=(1.0,)), allow_dirty=True)


def test_report_and_plot(rd_run):
    exp, data = rd_run
    paths = rd_report.write(exp.out_dir, title="RD test")
    assert [p.name for p in paths] == ["report.md", "rd.png"] and all(p.stat().st_size > 0 for p in paths)
    text = paths[0].read_text()
    assert "BD-rate vs JPEG" in text and "GaussianImage (published)" in text
    bd_rows = [line for line in text.splitlines() if line.count("|") == 9 and not line.startswith("|---")]
    assert [r.split("|")[1].strip() for r in bd_rows[1:]] == list(rd_report.curves(data))
    for row in bd_rows[1:]:  # a BD cell is a number, or n/a with the reason (the curves need not overlap)
        cells = [c.strip() for c in row.split("|")[2:6]]
        assert all(c == "" or c.endswith(("%", "dB")) or c.startswith("n/a") for c in cells), row
    curves = rd_report.curves(data)
    assert set(curves) == set(exp.methods) and all(len(c) == len(BPPS) for c in curves.values())


def test_evaluate_cli_runs_a_rate_distortion_config(tmp_path, rd_run):
    exp = rd_run[0]
    config = tmp_path / "rd_cfg.py"
    config.write_text(
        "from pathlib import Path\n"
        "from tests.experiments.test_rd import _experiment\n"
        f"def get_config():\n    return _experiment(Path({exp.dataset!r}), Path({exp.out!r}))\n"
    )
    assert isinstance(load_experiment(config), RateDistortion)
    # the same settings: the command resumes the fixture's run, computes nothing, re-writes the report
    (exp.out_dir / "rd.png").unlink(missing_ok=True)
    assert cli.main(["--config", str(config), "--allow-dirty"]) == 0
    entries = json.loads((exp.out_dir / "results.json").read_text())["entries"]
    assert len(entries) == len(rd_run[1]["entries"]) and (exp.out_dir / "rd.png").exists()
    # flags of the fit experiments mean nothing here: refused, nothing run
    assert cli.main(["--config", str(config), "--steps", "5", "--out", str(tmp_path / "o2")]) == 2
    assert not (tmp_path / "o2").exists()


def test_an_unfinished_method_leaves_the_finished_curves_whole(rd_run):
    """A method still being run (here: one image short) is reported on its own images beside the
    others; the main table keeps every image of the finished methods."""
    _, data = rd_run
    cut = dict(
        data, entries=[e for e in data["entries"] if (e["init"], e["image"]) != ("igi-quadtree-tiny", "im1")]
    )
    full, part = rd_report.curves(data), rd_report.curves(cut)
    assert set(part) == set(full) - {"igi-quadtree-tiny"} and all(part[m] == full[m] for m in part)
    assert all(p["images"] == 2 for pts in part.values() for p in pts)
    beside = rd_report.curves(cut, [*part, "igi-quadtree-tiny"])
    assert set(beside) == set(full) and all(p["images"] == 1 for pts in beside.values() for p in pts)
    text = rd_report.body(cut)
    main, unfinished = text.split("**Not finished: igi-quadtree-tiny** (2 entries; 1 images per rate)")
    assert "| igi-quadtree-tiny |" not in main and "| igi-quadtree-tiny |" in unfinished


def test_the_gaps_at_each_rate_are_the_curves_differences(rd_run):
    """Ours minus JPEG on the same images and ours minus GaussianImage's published curve at our
    mean rate, per target; the report shows them."""
    cs = rd_report.curves(rd_run[1])
    gaps = rd_report.at_each_rate(cs)
    assert list(gaps) == ["igi-quadtree-tiny"]
    ours, jpeg = cs["igi-quadtree-tiny"], {p["target"]: p for p in cs["jpeg"]}
    gb, gp = zip(*rd_report.GAUSSIANIMAGE_KODAK, strict=True)
    jb, jp = [p["bpp"] for p in cs["jpeg"]], [p["psnr"] for p in cs["jpeg"]]
    for p in ours:
        g = gaps["igi-quadtree-tiny"][p["target"]]
        assert g["jpeg_target"] == pytest.approx(p["psnr"] - jpeg[p["target"]]["psnr"])
        assert g["jpeg_bpp"] == jpeg[p["target"]]["bpp"] and g["bpp"] == p["bpp"]
        inside_jpeg = min(jb) * 0.98 <= p["bpp"] <= max(jb) * 1.02
        assert np.isnan(g["jpeg"]) != inside_jpeg
        if inside_jpeg:
            assert g["jpeg"] == pytest.approx(p["psnr"] - bjontegaard.quality_at(jb, jp, p["bpp"]))
        inside = 0.12 * 0.98 <= p["bpp"] <= 1.28 * 1.02
        assert np.isnan(g["gaussianimage"]) != inside
        if inside:
            assert g["gaussianimage"] == pytest.approx(p["psnr"] - bjontegaard.quality_at(gb, gp, p["bpp"]))
    text = rd_report.body(rd_run[1])
    row = next(line for line in text.splitlines() if line.startswith("| igi-quadtree-tiny | JPEG |"))
    same_target = gaps["igi-quadtree-tiny"][1.0]["jpeg_target"]
    assert row.count("|") == 3 + len(BPPS) and f"({same_target:+.2f} at" in row
    assert "| igi-quadtree-tiny | GaussianImage |" not in text  # its published curve is Kodak's
    assert "not compared on these images" in text and not rd_report.is_kodak(rd_run[1])
    kodak = dict(rd_run[1], settings=dict(rd_run[1]["settings"], dataset="kodak"))
    assert "| igi-quadtree-tiny | GaussianImage |" in rd_report.body(kodak)


def test_pairing_with_another_run_compares_the_same_images_and_budget(rd_run):
    """``--against``: ours against another run's method with the same budget, image by image;
    runs whose quantisers differ are refused, since their PSNRs would not be comparable."""
    _, data = rd_run
    other = json.loads(json.dumps(data))
    for e in other["entries"]:
        if e["init"] == "igi-quadtree-tiny":
            e["init"], e["psnr"] = "igi-net-tiny", e["psnr"] + (0.5 if e["image"] == "im0" else -0.2)
            e["bpp"] -= 0.01
    other["entries"] = [e for e in other["entries"] if (e["image"], e["target_bpp"]) != ("im1", BPPS[1])]
    pairs = rd_pairs.paired(data, other)
    assert list(pairs) == [("igi-quadtree-tiny", "igi-net-tiny")]
    cells = pairs[("igi-quadtree-tiny", "igi-net-tiny")]
    assert cells[BPPS[0]] == pytest.approx({"images": 2, "ahead": 1, "psnr": -0.15, "bpp": 0.01})
    assert cells[BPPS[1]] == pytest.approx({"images": 1, "ahead": 0, "psnr": -0.5, "bpp": 0.01})
    text = rd_pairs.paired_markdown(data, other, "other_run")
    assert "**Paired with `other_run`**" in text
    assert "| igi-quadtree-tiny | igi-net-tiny | -0.15 (1/2; +0.010) |" in text
    # A run at fewer rates pairs at those it shares, if its quantisers there are the same.
    first = str(BPPS[0])
    fewer = json.loads(json.dumps(other))
    fewer["settings"]["quant"] = {first: fewer["settings"]["quant"][first]}
    fewer["entries"] = [e for e in fewer["entries"] if e["target_bpp"] == BPPS[0]]
    assert list(rd_pairs.paired(data, fewer)[("igi-quadtree-tiny", "igi-net-tiny")]) == [BPPS[0]]
    fewer["settings"]["quant"][first]["shape_bits"] += 1
    with pytest.raises(ValueError, match="'quant'"):
        rd_pairs.paired(data, fewer)


def test_the_report_cli_pairs_runs_and_refuses_a_missing_one(rd_run, tmp_path, capsys):
    exp, data = rd_run
    out = tmp_path / "copy"
    out.mkdir()
    (out / "results.json").write_text(json.dumps(data))
    assert rd_report.main([str(out), "--against", str(exp.out_dir)]) == 0
    assert "Paired" not in (out / "report.md").read_text()  # the same method on both sides
    before = (out / "report.md").read_bytes()
    assert rd_report.main([str(out), "--against", str(tmp_path / "nowhere")]) == 2
    assert "nowhere" in capsys.readouterr().err and (out / "report.md").read_bytes() == before


def test_two_inits_in_one_run_are_paired_in_its_report(rd_run):
    """A run with two inits at one budget gets the later init minus the earlier one, image by
    image, in its report (once, not both ways)."""
    _, data = rd_run
    both = json.loads(json.dumps(data))
    ours = [e for e in both["entries"] if e["init"] == "igi-quadtree-tiny"]
    both["entries"] += [dict(e, init="igi-net-tiny", psnr=e["psnr"] + 0.25) for e in ours]
    assert list(rd_pairs.paired(both, both)) == [("igi-net-tiny", "igi-quadtree-tiny")]
    text = rd_report.body(both)
    assert text.count("**Paired within the run**") == 1
    assert "| igi-net-tiny | igi-quadtree-tiny | +0.25 (2/2; +0.000) | +0.25 (2/2; +0.000) |" in text
    assert "Paired" not in rd_report.body(data)


def test_max_side_downscales_the_images_every_method_sees(tmp_path):
    """``max_side``: the rate is counted on the downscaled pixels; the settings name it only when
    set, so runs made before the field existed still resume; a tiny side is refused."""
    data = tmp_path / "images"
    data.mkdir()
    Image.fromarray(_photo(0)).save(data / "im0.png")
    exp = dataclasses.replace(
        _experiment(data, tmp_path / "out"), inits=(), codecs=("jpeg",), max_side=100, bpps=(2.0,)
    )
    assert exp.settings()["max_side"] == 100 and "max_side" not in _experiment(data, tmp_path).settings()
    (entry,) = RDRunner(exp, allow_dirty=True, log=lambda s: None).run()["entries"]
    assert entry["bpp"] == pytest.approx(8 * entry["bytes"] / (100 * 100)) and entry["bpp"] <= 2.0
    with pytest.raises(ValueError, match="max_side"):
        dataclasses.replace(exp, max_side=8)
