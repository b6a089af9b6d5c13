"""The experiment command end to end on a 48×64 image with an untrained tiny net: entries,
budgets by steps and by seconds, resuming, the report, the plots, the PyTorch rows, and the
commit each entry records. (The checkout is shared and often dirty: runs here pass
``--allow-dirty``; the refusal itself is tested with a stubbed revision.)"""

import dataclasses
import importlib.util
import json
import re
from pathlib import Path

import pytest

from igi_jax.experiments import cli, config, report, runner, store, tables

STEPS = (0, 10, 20)
SECONDS = (0.2,)
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, dataset, tiny_weights):
    out = tmp_path_factory.mktemp("exp")
    argv = [
        "--dataset",
        str(dataset),
        "--limit",
        "1",
        "--inits",
        "net,quadtree,random",
        "--steps",
        "0,10,20",
        "--seconds",
        "0.2",
        "--weights",
        str(tiny_weights),
        "--fps-repeats",
        "2",
        "--allow-dirty",
        "--out",
        str(out),
    ]
    assert cli.main(argv) == 0
    return out, argv


def _entries(out):
    return store.load(out / "results.json")["entries"]


def test_one_entry_per_image_init_and_k(run_dir):
    entries = _entries(run_dir[0])
    keys = sorted(store.entry_key(e) for e in entries)
    assert keys == sorted(
        (img, init, k, "jax")
        for img in ("img0",)
        for init, k in (("net", 3), ("quadtree", None), ("random", 3))
    )
    for e in entries:
        assert e["params"] == 8 * e["gaussians"] > 0
        assert e["init_seconds"] > 0 and e["fps"] > 0
    # The programs are shared by entries of one shape: compiled for one entry, reused by the rest.
    assert max(e["compile_seconds"] for e in entries) > 0


def test_random_uses_the_nets_count(run_dir):
    entries = _entries(run_dir[0])
    for img in ("img0",):
        by = {e["init"]: e for e in entries if e["image"] == img}
        assert by["random"]["gaussians"] == by["net"]["gaussians"]
        assert by["random"]["count_source"] == "net"


def test_budgets_in_steps_and_seconds(run_dir):
    for e in _entries(run_dir[0]):
        recs = e["budgets"]
        want = [{"steps": s} for s in STEPS] + [{"seconds": t} for t in SECONDS]
        assert [r["budget"] for r in recs] == want
        steps = recs[:3]
        assert [r["steps"] for r in steps] == list(STEPS)
        assert steps[0]["seconds"] == pytest.approx(e["init_seconds"])  # the clock starts at the init
        assert steps[0]["seconds"] < steps[1]["seconds"] < steps[2]["seconds"]
        # Each step budget is read off the one logged fit: its PSNR (the fit's, on the unclamped
        # render) and the budget's (from the kept render) agree, and so do the clocks.
        for rec in steps:
            logged = next(h for h in e["history"] if h["step"] == rec["steps"])
            assert logged["psnr"] == pytest.approx(rec["psnr"], abs=1e-3)
            assert logged["seconds"] == rec["seconds"]
        timed = recs[3]
        assert timed["seconds"] >= SECONDS[0] or timed["steps"] == 0  # ran until the budget was spent
        # its log: a first one-step block that times a step, then blocks cut to the time left
        clock = [(h["step"], h["seconds"]) for h in e["history_seconds"]]
        assert clock[1][0] == 1 and clock[-1] == (timed["steps"], timed["seconds"])
        assert all(t < SECONDS[0] for _, t in clock[:-1])  # it stopped at the first log point past it
        assert all(r["ms_ssim"] is None for r in recs)  # 48 px < 161 px: no MS-SSIM, not a fake one


def _evaluate_py():
    spec = importlib.util.spec_from_file_location("evaluate_script", ROOT / "evaluate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_second_run_fits_nothing(run_dir, capsys):
    """The same command again, through ``evaluate.py --dataset``, computes nothing."""
    out, argv = run_dir
    before = (out / "results.json").read_text()
    assert _evaluate_py().main(argv) == 0
    assert "0 entries computed, 3 reused" in capsys.readouterr().out
    after = json.loads((out / "results.json").read_text())
    assert after["entries"] == json.loads(before)["entries"]
    assert len(after["runs"]) == len(json.loads(before)["runs"]) + 1
    code = after["runs"][-1]["code"]  # the git revision, when run from a checkout
    assert code is None or re.fullmatch(r"[0-9a-f]{4,}(-dirty)?", code), code
    assert all("code" in e for e in after["entries"])  # each entry names its commit


def test_a_dirty_tree_is_refused_and_entries_name_their_commit(dataset, tmp_path, monkeypatch, capsys):
    argv = ["--dataset", str(dataset), "--limit", "1", "--inits", "quadtree", "--steps", "0"]
    argv += ["--fps-repeats", "1", "--grid-images", "0", "--out", str(tmp_path)]
    monkeypatch.setattr(store, "code_version", lambda exclude=None: "abc1234-dirty")
    assert cli.main(argv) == 2
    assert "uncommitted changes (abc1234-dirty)" in capsys.readouterr().err
    assert not (tmp_path / "results.json").exists()
    assert cli.main([*argv, "--allow-dirty"]) == 0
    assert [e["code"] for e in _entries(tmp_path)] == ["abc1234-dirty"]
    text = report.markdown(store.load(tmp_path / "results.json"))
    assert "uncommitted changes" in text and "abc1234-dirty" in text  # flagged loudly
    monkeypatch.setattr(store, "code_version", lambda exclude=None: "def5678")
    assert cli.main([*argv, "--limit", "2"]) == 0  # a clean commit: no flag needed
    assert [e["code"] for e in _entries(tmp_path)] == ["abc1234-dirty", "def5678"]


def test_other_runs_results_do_not_make_the_tree_dirty(tmp_path, monkeypatch):
    # Every result under bench/results is an output: a run beside another (which rewrites its
    # results.json as it goes) is not refused; outside bench/results only its own folder is.
    seen = []
    monkeypatch.setattr(store, "code_version", lambda exclude=None: seen.append(Path(exclude)) or "abc1234")
    store.ResultStore(tmp_path / "bench" / "results" / "a" / "b" / "results.json", {}, ["cmd"])
    store.ResultStore(tmp_path / "out" / "results.json", {}, ["cmd"])
    assert seen == [(tmp_path / "bench" / "results").resolve(), (tmp_path / "out").resolve()]


def test_other_settings_refuse_to_resume(run_dir, capsys):
    out, argv = run_dir
    i = argv.index("--steps")
    assert cli.main([*argv[:i], "--steps", "0,30", *argv[i + 2 :]]) == 2
    assert "other settings (steps)" in capsys.readouterr().err


def test_report_and_plots_written(run_dir):
    out = run_dir[0]
    text = (out / "report.md").read_text()
    assert "| jax | net | 3 | 1 |" in text and "Published" in text
    assert "stops the fit about a step past it (blocks cut to the time left)" in text  # the legend's rule
    settings = store.load(out / "results.json")["settings"]
    assert settings["seconds_blocks"] == config.SECONDS_BLOCKS  # results of the old rule can't resume
    assert settings["dataset"] == config.dataset_label(settings["dataset"])
    for name in ("psnr_vs_time.png", "psnr_vs_time_images.png", "grid.png"):
        assert (out / name).stat().st_size > 10_000
    assert sorted(p.name for p in (out / "artifacts").iterdir())[0] == "img0__net__k3__jax.npz"


def test_torch_rows_added_later(run_dir):
    pytest.importorskip("torch")
    out, argv = run_dir
    assert cli.main([*argv, "--baseline", "torch", "--inits", "random"]) == 0
    entries = _entries(out)
    torch_rows = [e for e in entries if e["impl"] == "torch"]
    assert [store.entry_key(e) for e in torch_rows] == [("img0", "random", 3, "torch")]
    jax_row = next(e for e in entries if store.entry_key(e) == ("img0", "random", 3, "jax"))
    t, j = torch_rows[0], jax_row
    assert t["gaussians"] == j["gaussians"] and t["init_seconds"] == j["init_seconds"]  # same init
    assert [r["steps"] for r in t["budgets"]][:3] == list(STEPS)
    assert t["budgets"][0]["psnr"] == pytest.approx(j["budgets"][0]["psnr"], abs=1e-3)  # same start
    assert t["budgets"][2]["psnr"] == pytest.approx(j["budgets"][2]["psnr"], abs=0.5)
    assert t["torch_threads"] == 1
    rows = {(r["impl"], r["init"]) for r in tables.summarize(store.load(out / "results.json"))}
    assert ("torch", "random") in rows


def test_torch_fps_stops_at_its_time_cap():
    pytest.importorskip("torch")
    import time

    from igi_jax.experiments import baseline

    calls = []

    def slow_model():  # a render that takes 20 ms
        calls.append(1)
        time.sleep(0.02)

    fps = baseline.torch_fps(slow_model, repeats=1000, max_seconds=0.1)
    # The warm-up, then at most 5 timed renders of ≥ 20 ms each before 0.1 s has passed (+ the one
    # that crosses it), not 1,000; a loaded machine only makes each render slower.
    assert 1 + 1 <= len(calls) <= 1 + 6
    assert 0 < fps <= 51
    calls.clear()
    assert baseline.torch_fps(slow_model, repeats=2, max_seconds=10.0) > 0 and len(calls) == 1 + 2


def test_repeated_list_values_are_refused(dataset):
    from igi_jax import io

    args = cli.parser().parse_args(["--dataset", str(dataset), "--seconds", "2,10,2"])
    with pytest.raises(io.InputError, match="lists 2.0 more than once"):
        cli.experiment_from_args(args)


def test_only_selects_images_by_name(dataset, tiny_weights, tmp_path):
    from igi_jax import io
    from igi_jax.experiments.runner import Runner

    def make(only, out):
        args = cli.parser().parse_args(
            [
                "--dataset",
                str(dataset),
                "--only",
                only,
                "--inits",
                "quadtree",
                "--steps",
                "0",
                "--weights",
                str(tiny_weights),
            ]
        )
        exp = dataclasses.replace(cli.experiment_from_args(args), out=str(tmp_path / out))
        return Runner(exp, log=lambda *_: None, allow_dirty=True)

    assert [p.stem for p in make("img1", "a").images()] == ["img1"]
    with pytest.raises(io.InputError, match="no image named img7"):
        make("img1,img7", "b").images()


def test_a_bad_image_is_a_user_error(tmp_path, capsys):
    """Fitting a folder goes through the runner; an unreadable image stops it with its name."""
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "a.png").write_text("not a png")
    argv = ["--dataset", str(tmp_path / "data"), "--inits", "quadtree+solve", "--steps", "5"]
    assert cli.main([*argv, "--allow-dirty", "--out", str(tmp_path / "out")]) == 2
    assert "a.png" in capsys.readouterr().err


def test_images_sharing_a_name_are_refused(dataset, tmp_path):
    from igi_jax import io
    from igi_jax.experiments.runner import Runner

    folder = tmp_path / "data"
    folder.mkdir()
    for suffix in (".png", ".jpg"):
        (folder / f"img0{suffix}").write_bytes((dataset / "img0.png").read_bytes())
    args = cli.parser().parse_args(["--dataset", str(folder), "--inits", "quadtree", "--steps", "0"])
    with pytest.raises(io.InputError, match="img0.jpg, img0.png share a name"):
        exp = dataclasses.replace(cli.experiment_from_args(args), out=str(tmp_path / "out"))
        Runner(exp, log=lambda *_: None, allow_dirty=True).images()


def test_stop_after_ends_between_entries_and_resumes(dataset, tiny_weights, tmp_path, capsys):
    out = tmp_path / "exp"
    argv = [
        "--dataset",
        str(dataset),
        "--inits",
        "quadtree,random",
        "--steps",
        "0",
        "--weights",
        str(tiny_weights),
        "--fps-repeats",
        "1",
        "--grid-images",
        "0",
        "--allow-dirty",
        "--out",
        str(out),
    ]
    assert cli.main([*argv, "--stop", "0"]) == 3  # 4 entries (2 images × 2 inits), none started
    assert "with 4 entries left; run the same command again to resume" in capsys.readouterr().err
    assert _entries(out) == [] and not list(out.glob("*.png"))  # no plots of nothing
    # the quad-tree init does not depend on k: one entry per image at k = 3 and 4, counted once
    assert cli.main([*argv, "--kernel-size", "3,4", "--stop", "0"]) == 3
    assert "with 6 entries left;" in capsys.readouterr().err

    args = cli.parser().parse_args(argv)
    run = runner.Runner(
        cli.experiment_from_args(args), log=lambda *_: None, stop_after=150.0, allow_dirty=True
    )
    ticks = iter(range(0, 10_000, 100))  # each look at the clock: 100 s later
    run.clock = lambda: float(next(ticks))
    run.run()  # t0 = 0; entry 1 starts at 100 s; at 200 s the rest are left
    assert run.fitted == 1 and run.left == 3 and len(_entries(out)) == 1

    assert cli.main([*argv, "--stop-after=1h"]) == 0  # resumes the other three
    data = store.load(out / "results.json")
    assert len(data["entries"]) == 4
    assert all("--stop" not in " ".join(r["command"]) for r in data["runs"])  # not a result setting
    assert "--out" in data["runs"][-1]["command"]


@pytest.mark.parametrize("text, seconds", [("5400", 5400.0), ("90s", 90.0), ("90m", 5400.0), ("1.5h", 5400)])
def test_duration(text, seconds):
    assert cli.duration(text) == seconds


@pytest.mark.parametrize("text", ["", "-5", "1d", "h", "1.5 hours"])
def test_bad_duration_is_refused(text):
    from igi_jax import io

    with pytest.raises(io.InputError, match="--stop-after"):
        cli.duration(text)


def test_count_from_gives_the_net_the_other_inits_count(tmp_path, dataset, tiny_weights):
    exp = config.Experiment(
        dataset=str(dataset),
        limit=1,
        inits=("quadtree", "net"),
        count_from="quadtree",
        steps=(0,),
        weights=str(tiny_weights),
        fps_repeats=1,
        grid_images=0,
        out=str(tmp_path / "matched"),
    )
    entries = runner.Runner(exp, allow_dirty=True, log=lambda s: None).run()["entries"]
    by = {e["init"]: e for e in entries}
    assert by["net"]["gaussians"] == by["quadtree"]["gaussians"] > 0
    assert by["net"]["count_source"] == "quadtree" and by["net"]["init_info"]["ppm_scale"] > 0
    assert (
        json.loads((tmp_path / "matched" / "results.json").read_text())["settings"]["count_from"]
        == "quadtree"
    )
    with pytest.raises(ValueError, match="listed before the net inits"):
        dataclasses.replace(exp, inits=("net", "quadtree"))


def test_ppm_scale_moves_the_nets_count_and_is_a_setting(tmp_path, dataset, tiny_weights):
    exp = config.Experiment(
        dataset=str(dataset),
        limit=1,
        inits=("net", "random"),
        steps=(0,),
        weights=str(tiny_weights),
        fps_repeats=1,
        grid_images=0,
        out=str(tmp_path / "own"),
    )
    quiet = {"allow_dirty": True, "log": lambda s: None}
    own = {e["init"]: e for e in runner.Runner(exp, **quiet).run()["entries"]}
    dense_exp = dataclasses.replace(exp, ppm_scale=1.5, out=str(tmp_path / "dense"))
    dense = {e["init"]: e for e in runner.Runner(dense_exp, **quiet).run()["entries"]}
    assert dense["net"]["gaussians"] > own["net"]["gaussians"]
    assert dense["net"]["init_info"]["ppm_scale"] == 1.5
    assert dense["random"]["gaussians"] == dense["net"]["gaussians"]  # random takes the net's count
    settings = json.loads((tmp_path / "dense" / "results.json").read_text())["settings"]
    assert settings["ppm_scale"] == 1.5
    assert "ppm_scale" not in json.loads((tmp_path / "own" / "results.json").read_text())["settings"]
    with pytest.raises(ValueError, match="give one"):
        dataclasses.replace(exp, inits=("quadtree", "net"), count_from="quadtree", ppm_scale=1.5)
    with pytest.raises(ValueError, match="ppm_scale must be a number"):
        dataclasses.replace(exp, ppm_scale=-1.0)
