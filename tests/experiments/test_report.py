"""Report tables from hand-made results (means checked by hand), the results-block round trip, and
the check that the numbers of ``docs/RESULTS.md`` are the committed JSON's."""

import json
from pathlib import Path

import pytest

from igi_jax import io
from igi_jax.experiments import published, report, store, tables

ROOT = Path(__file__).resolve().parents[2]


def _entry(image, init, k, psnr0, psnr1, ms1, secs, gaussians, impl="jax"):
    budgets = [
        {
            "budget": {"steps": 0},
            "steps": 0,
            "seconds": secs[0],
            "psnr": psnr0,
            "ssim": None,
            "ms_ssim": None,
        },
        {
            "budget": {"steps": 100},
            "steps": 100,
            "seconds": secs[1],
            "psnr": psnr1,
            "ssim": None,
            "ms_ssim": ms1,
        },
        {
            "budget": {"seconds": 2.0},
            "steps": 40,
            "seconds": 2.1,
            "psnr": psnr1 - 1,
            "ssim": None,
            "ms_ssim": None,
        },
    ]
    return {
        "image": image,
        "init": init,
        "k": k,
        "impl": impl,
        "gaussians": gaussians,
        "params": 8 * gaussians,
        "init_seconds": secs[0],
        "fps": 100.0,
        "budgets": budgets,
        "history": [
            {"step": 0, "seconds": secs[0], "psnr": psnr0},
            {"step": 100, "seconds": secs[1], "psnr": psnr1},
        ],
    }


@pytest.fixture
def data():
    return {
        "format": store.FORMAT,
        "settings": {
            "dataset": "/data/kodak",
            "downscale": 2,
            "steps": [0, 100],
            "seconds": [2.0],
            "fit": {"optimizer": "adan", "lr": 1e-3, "lr_groups": [["xy", 3.0]], "loss": "l2"},
            "weights_sha256": "ab",
            "seed": 0,
            "backend": "reference",
            "solve_iters": 8,
        },
        "runs": [
            {
                "command": ["evaluate.py", "--dataset", "kodak"],
                "machine": {
                    "processor": "x86_64",
                    "cpu_count": 2,
                    "jax": "0.10.2",
                    "backend": "cpu",
                    "devices": ["cpu"],
                    "loadavg": [9.5, 9, 9],
                },
                "code": "abc1234",
            }
        ],
        "entries": [
            _entry("a", "net", 3, 20.0, 25.0, 0.9, (0.5, 4.5), 1000),
            _entry("b", "net", 3, 22.0, 28.0, None, (0.7, 5.5), 3000),
            _entry("a", "quadtree+solve", None, 24.0, 26.0, 0.95, (1.0, 6.0), 2000),
            _entry("b", "quadtree+solve", None, 25.0, 29.0, 0.97, (1.2, 6.4), 4000),
        ],
    }


def test_means(data):
    rows = {(r["impl"], r["init"], r["k"]): r for r in tables.summarize(data)}
    net = rows[("jax", "net", 3)]
    assert net["images"] == 2 and net["gaussians"] == 2000 and net["params"] == 16000
    assert net["init_seconds"] == pytest.approx(0.6)
    b = net["budgets"]["100 steps"]
    assert b["psnr"] == pytest.approx(26.5) and b["seconds"] == pytest.approx(5.0)
    assert b["ms_ssim"] == pytest.approx(0.9) and b["ms_ssim_images"] == 1  # None is not averaged
    table = tables.means_table(data)
    assert (
        "| jax | net | 3 | 2 | 2,000 | 16,000 | 0.600 | 21.00 (0.6 s) "
        "| 26.50 / 0.9000 [1 of 2 images] (5.0 s) |"
    ) in table
    assert "| 27.50 / 0.9600 (6.2 s) |" in table  # both quad-tree rows have MS-SSIM: no count
    assert "| 25.50 (2.1 s, 40 st) | 100.0 |" in table
    assert "| jax | quadtree+solve | – | 2 | 3,000 | 24,000 | 1.100 | 24.50 (1.1 s) |" in table
    assert "left out" not in table
    assert [c.strip() for c in table.splitlines()[0].split("|")[8:11]] == ["0 steps", "100 steps", "2 s"]


def test_means_leave_out_incomplete_images(data):
    """An interrupted run: image b lacks its quad-tree row, so every mean is over image a alone."""
    data["entries"] = data["entries"][:3]
    assert tables.complete_images(data) == (["a"], ["b"])
    rows = {(r["impl"], r["init"], r["k"]): r for r in tables.summarize(data)}
    net = rows[("jax", "net", 3)]
    assert net["images"] == 1 and net["gaussians"] == 1000 and net["budgets"]["0 steps"]["psnr"] == 20.0
    table = tables.means_table(data)
    assert "| jax | net | 3 | 1 | 1,000 | 8,000 | 0.500 | 20.00 (0.5 s) |" in table
    assert "Means over the 1 image(s) that have every row; left out as incomplete: b (1 of 2 rows)" in table
    assert "| b | jax | net | 3 | 3,000 |" in report.markdown(data)  # still in the per-image table
    for e, w in zip(data["entries"], (600.0, 1200.0, 1800.0), strict=True):
        e["wall_seconds"] = w
    assert tables.wall_line(data).startswith(  # per image: a's two rows only
        "Wall time: 1.00 h for 3 entries on 2 image(s), 40.0 min per image with every row (1), "
    )


def test_paired_differences(data):
    """Image by image against the quad-tree row; a PyTorch row against JAX's same init (parity)."""
    qt = "quadtree+solve"
    data["entries"] += [
        _entry("a", qt, None, 24.0, 26.0 + 3e-4, 0.95, (1.0, 9.0), 2000, "torch"),
        _entry("b", qt, None, 25.0, 29.0 - 1e-4, 0.97, (1.2, 9.4), 4000, "torch"),
    ]
    assert tables.reference_group(data) == ("jax", "quadtree+solve", None)
    pairs = {p["row"]: p for p in tables.paired(data)}
    assert set(pairs) == {("jax", "net", 3), ("torch", "quadtree+solve", None)}
    net = pairs[("jax", "net", 3)]
    assert net["versus"] == ("jax", "quadtree+solve", None)
    assert net["budgets"]["0 steps"] == {"delta": pytest.approx(-3.5), "ahead": 0, "images": 2}
    assert net["budgets"]["100 steps"] == {"delta": pytest.approx(-1.0), "ahead": 0, "images": 2}
    torch = pairs[("torch", "quadtree+solve", None)]
    assert torch["versus"] == ("jax", "quadtree+solve", None)
    assert torch["budgets"]["100 steps"] == {"delta": pytest.approx(1e-4), "ahead": 1, "images": 2}
    table = tables.paired_table(data)
    assert (
        "| jax net k = 3 − jax quadtree+solve | -3.50 (0 of 2) | -1.00 (0 of 2) | -1.00 (0 of 2) |" in table
    )
    assert "| torch quadtree+solve − jax quadtree+solve | +0.00 (0 of 2) | +1.0e-04 (1 of 2) |" in table
    assert "## Paired" in report.markdown(data)
    data["entries"] = [e for e in data["entries"] if e["init"] == "net"]  # nothing to compare with
    assert tables.paired(data) == [] and tables.paired_table(data) == ""
    assert "## Paired" not in report.markdown(data)


def test_wall_line(data):
    for e, w in zip(data["entries"], (600.0, 1200.0, 1800.0, 1200.0), strict=True):
        e["wall_seconds"] = w
    line = tables.wall_line(data)
    assert line.startswith("Wall time: 1.33 h for 4 entries on 2 image(s), 40.0 min per image")
    assert "1 invocation(s)" in line and line in report.markdown(data)


def test_markdown_and_published(data):
    text = report.markdown(data)
    assert "downscaled ×2" in text and "load average 9.5 during" in text
    assert "×3 for xy, no warm-up, l2 loss" in text
    data["settings"]["fit"]["warmup_steps"] = 10
    assert "×3 for xy, 10-step warm-up, l2 loss" in report.markdown(data)
    assert "; code abc1234 (of the runs; these entries predate per-entry commits)." in text
    assert "| a | jax | net | 3 | 1,000 | 0.500 | 20.00 | 25.00 | 24.00 |" in text
    for p in published.PUBLISHED:  # a Kodak folder: Kodak's published numbers, not DIV2K's
        assert (f"| {p['dataset']} | {p['hardware']} | {p['gaussians']:,} | {p['psnr']:.2f} |" in text) == (
            p["on"] == "kodak"
        )
    data["settings"]["dataset"] = "/data/photos"  # any other photos: beside DIV2K ×2's
    assert "| DIV2K validation, ×2 downscaled | NVIDIA A100 | 76,985 | 29.67 | – |" in report.markdown(data)
    assert "Kodak, 24 images" not in report.markdown(data)


def test_doc_block_round_trip(tmp_path, data):
    results = tmp_path / "res" / "results.json"
    results.parent.mkdir()
    store.ResultStore(results, data["settings"], ["cmd"], allow_dirty=True).save()
    saved = store.load(results)
    saved["entries"] = data["entries"]
    results.write_text(json.dumps(saved))
    (tmp_path / "docs").mkdir()
    doc = tmp_path / "docs" / "RESULTS.md"
    doc.write_text(
        '# x\n\nbefore\n\n<!-- results:begin label="**Sample**" -->\nold\n<!-- results:end -->\n\nafter\n'
    )
    assert report.update_doc(doc, results)
    text = doc.read_text()
    assert text.startswith("# x\n\nbefore\n\n") and text.endswith("<!-- results:end -->\n\nafter\n")
    ((source, label, body),) = report.blocks(text)
    assert (source, label) == ("../res/results.json", "**Sample**")  # relative to the document
    assert body == report.doc_block(store.load(results), results, doc, label)
    assert "](../res/results.json)" in body and "26.50 / 0.9000" in body and "NVIDIA A100" in body
    assert "; code " in body  # the commit(s) its rows were made with
    assert not report.update_doc(doc, results)  # idempotent


def test_several_blocks_each_from_its_own_json(tmp_path, data):
    saved = {}
    for name in ("a", "b"):
        results = tmp_path / name / "results.json"
        results.parent.mkdir()
        store.ResultStore(results, data["settings"], [name], allow_dirty=True).save()
        saved[name] = store.load(results)
        saved[name]["entries"] = data["entries"]
        results.write_text(json.dumps(saved[name]))
    doc = tmp_path / "RESULTS.md"
    empty = '<!-- results:begin source="{}/results.json" label="{}" -->\n<!-- results:end -->\n'
    doc.write_text(empty.format("a", "A") + "middle\n" + empty.format("b", "B"))
    assert report.update_doc(doc, tmp_path / "b" / "results.json")
    (a, _, body_a), (b, label_b, body_b) = report.blocks(doc.read_text())
    assert body_a == "" and (b, label_b) == ("b/results.json", "B") and "```bash\nb\n```" in body_b
    assert report.update_doc(doc, tmp_path / "a" / "results.json")
    assert "```bash\na\n```" in report.blocks(doc.read_text())[0][2]
    c = tmp_path / "c" / "results.json"
    c.parent.mkdir()
    c.write_text(json.dumps(saved["a"]))
    with pytest.raises(io.InputError, match="none from c/results.json"):
        report.update_doc(doc, c)


def test_dirty_commits_are_flagged(data):
    assert "Warning" not in report.markdown(data)
    data["runs"][0]["code"] = "abc1234-dirty"
    assert "**Warning: abc1234-dirty had uncommitted changes**" in report.markdown(data)
    for i, e in enumerate(data["entries"]):  # per-entry commits, when every entry has one
        e["code"] = "abc1234" if i else "fed4321"
    assert tables.commits(data) == (["fed4321", "abc1234"], True)
    assert "code fed4321, abc1234 (per entry)" in report.markdown(data)


def test_results_doc_matches_the_committed_json():
    """The numbers of docs/RESULTS.md are the committed results.json's, regenerated, not typed."""
    doc = ROOT / "docs" / "RESULTS.md"
    text = doc.read_text()
    found = report.blocks(text)
    assert found, "docs/RESULTS.md has no results block"
    assert len(found) == text.count(report.BEGIN), "a results:begin marker that does not parse"
    for source, label, body in found:
        path = doc.parent / source
        assert source and path.exists(), f"results block from {source!r}, not in this checkout"
        assert body == report.doc_block(store.load(path), path, doc, label), (
            f"results block is stale: python -m igi_jax.experiments.report "
            f"{path.resolve().relative_to(ROOT)} --doc docs/RESULTS.md"
        )


def test_readme_keeps_only_a_short_results_section():
    """The README's results are a pointer to docs/RESULTS.md, not a second copy."""
    text = (ROOT / "README.md").read_text()
    assert report.BEGIN not in text
    section = text.split("\n## Results\n", 1)[1].split("\n## ", 1)[0]
    assert "docs/RESULTS.md" in section and len(section.strip().splitlines()) <= 15
