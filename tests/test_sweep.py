"""`modsnn sweep`: study files and grids, validation messages, resume, failures, Ray, tables."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from modsnn.cli import main
from modsnn.golden_model.report import mean_std
from modsnn.golden_model.sweep import Study, StudyError, load_study, make_study, parse_grid, run_study
from modsnn.golden_model.train import train

# Small enough for the default suite: 100 training and 50 test samples of digits, 2 epochs.
FAST = {"epochs": 2, "train_limit": 100, "test_limit": 50}


def small_study(**head: object) -> Study:
    data = {"study": {"name": "t", "config": "tiny", "seeds": [1, 2], "set": dict(FAST), **head},
            "grid": {"readout_density": [0.25, 0.5]}}
    return make_study(data, "test.toml")


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open() as fh:
        return list(csv.DictReader(fh))


def weights(folder: Path) -> dict[str, np.ndarray]:
    with np.load(folder / "weights.npz") as data:
        return {k: data[k] for k in data.files}


def assert_same_weights(a: Path, b: Path) -> None:
    wa, wb = weights(a), weights(b)
    assert sorted(wa) == sorted(wb)
    for key in wa:
        np.testing.assert_array_equal(wa[key], wb[key])


def test_points_are_the_grid_times_models_times_seeds() -> None:
    study = small_study(models=["int", "float"])
    points = study.points()
    assert len(points) == 2 * 2 * 2
    assert points[0].name == "readout_density=0.25,model=int,seed=1"
    assert {p.config.readout_density for p in points} == {0.25, 0.5}
    assert all(p.config.epochs == 2 and p.config.seed == p.seed for p in points)
    assert len({p.group for p in points}) == 4                  # seeds are what the table averages


def test_variant_axis_sets_fields_together() -> None:
    study = make_study({"study": {"config": "tiny", "seeds": [1], "set": dict(FAST)},
                        "grid": {"layers": [{"label": 1, "hidden": [32]},
                                            {"label": 2, "hidden": [32, 16], "threshold": [32, 24],
                                             "init_ff": [16, 16], "init_rec": [4, 4],
                                             "lr_shift_hidden": [12, 12]}]}}, "layers.toml")
    a, b = study.points()
    assert a.name == "layers=1,model=int,seed=1" and a.config.hidden == (32,)
    assert b.name == "layers=2,model=int,seed=1" and b.config.hidden == (32, 16)


@pytest.mark.parametrize(("text", "message"), [
    ('[study]\nconfig = "tiny"\n[grid]\nreadout_density = [0.05, 2.0]\n',
     "grid point readout_density = 2.0, seed 1: config field readout_density = 2.0 is out of range: "
     "must be a number in (0.0, 1.0]"),
    ('[study]\nconfig = "tiny"\n[grid]\nweight_bits = [12, 40]\n',
     "config field weight_bits = 40 is out of range: must be an integer in [2, 18]"),
    ('[study]\nconfig = "tiny"\n[grid]\nhidden = [[32], [0]]\n',
     "config field hidden[0] = 0 is out of range: must be an integer in [1, 4096]"),
    ('[study]\nconfig = "tiny"\n[grid]\nbogus = [1, 2]\n', "[grid] unknown field 'bogus'"),
    ('[study]\nconfig = "tiny"\n[grid]\nseed = [1, 2]\n', "'seed' is not a grid field; list the seeds"),
    ('[study]\nconfig = "tiny"\n[grid]\nreadout_density = []\n', "must be a non-empty list of values"),
    ('[study]\nconfig = "tiny"\nmodels = ["fixed"]\n',
     "[study] models = ['fixed']: each must be one of 'int', 'float'"),
    ('[study]\nconfig = "tiny"\nseeds = [1, -1]\n', "[study] seeds = [1, -1] must be a non-empty list of integers"),
    ('[study]\nconfig = "tiny"\nepochs = 3\n', "[study] has unknown key(s) 'epochs'; allowed keys are: name, config"),
    ('[study]\nconfig = "tiny"\nset = { leak_shift = 0 }\n', "config field leak_shift = 0 is out of range"),
    ('[study]\nconfig = "nope"\n', "[study] config = 'nope': configuration file 'nope' does not exist"),
    ('[grid]\nreadout_density = [0.1]\n', "missing [study] table"),
    ('[study]\nconfig = "tiny"\nplot = "hidden"\n[grid]\nreadout_density = [0.5]\n',
     "[study] plot = 'hidden' must be a grid field or 'model'"),
    ('[study]\nconfig = "tiny"\n[grid]\nlayers = [{ hidden = [32] }, { bogus = 1 }]\n',
     "[grid] layers variant 2: unknown field 'bogus'"),
    ('[study\n', "not valid TOML"),
])
def test_bad_study_files_are_refused_with_field_value_and_range(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, message: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(StudyError) as error:
        load_study(path)
    assert message in str(error.value)
    assert main(["sweep", str(path), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("modsnn: error: ") and message in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()                     # nothing ran


@pytest.mark.parametrize(("argv", "message"), [
    (["--grid", "readout_density=0.05,0"], "config field readout_density = 0.0 is out of range: must be a number "
                                           "in (0.0, 1.0]"),
    (["--grid", "lanes=3"], "config field lanes = 3 must be a power of two"),
    (["--grid", "readout_density"], "--grid 'readout_density': expected FIELD=V1,V2,..."),
    (["--grid", "nope=1,2"], "unknown field 'nope'"),
    (["--grid", "readout_density=0.5", "--seeds", "0"], "--seeds 0: must be at least 1"),
    (["--grid", "readout_density=0.5", "--jobs", "0"], "--jobs 0: must be at least 1"),
])
def test_bad_grid_values_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str],
                                     message: str) -> None:
    assert main(["sweep", "--config", "tiny", *argv, "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("modsnn: error: ") and message in err


def test_grid_values_parse_as_toml_with_lists() -> None:
    study = parse_grid("tiny", ["hidden=[32];[48]", "readout_density=0.25,0.5"], seeds=2)
    assert [v for _, v in study.grid] == [((32,), (48,)), (0.25, 0.5)]
    assert study.seeds == (1, 2) and len(study.points()) == 8
    assert parse_grid("tiny", ["hidden=[32],[48]"], seeds=1).grid[0][1] == ((32,), (48,))


def test_sweep_end_to_end_with_tables_plot_eval_and_compare(tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "study"
    argv = ["sweep", "--config", "tiny", "--grid", "readout_density=0.25,0.5", "--seeds", "2", "--model", "int",
            "float", *(a for k, v in FAST.items() for a in ("--set", f"{k}={v}")), "--jobs", "2", "--out", str(out)]
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert "8 points, 0 already finished, 8 to run on 2 local processes" in captured.err
    assert "[8/8]" in captured.err and "| readout_density | model | seeds |" in captured.out
    rows = read_csv(out / "results.csv")
    assert [(r["readout_density"], r["model"], r["seeds"]) for r in rows] == [
        ("0.25", "int", "2"), ("0.25", "float", "2"), ("0.5", "int", "2"), ("0.5", "float", "2")]
    point = out / "readout_density=0.25,model=int,seed=2"
    summaries = [json.loads((out / f"readout_density=0.25,model=int,seed={s}" / "summary.json").read_text())
                 for s in (1, 2)]
    mean, std = mean_std([s["test_accuracy"] for s in summaries])
    assert float(rows[0]["test_mean"]) == pytest.approx(mean, abs=1e-6)
    assert float(rows[0]["test_std"]) == pytest.approx(std, abs=1e-6)
    assert (out / "accuracy.png").read_bytes()[:4] == b"\x89PNG"
    assert "± " in (out / "results.md").read_text()
    # every point is an ordinary run folder
    assert main(["eval", str(point), "--dataset", "digits", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["samples"] == 360
    # compare takes the study folder (all its points) and prints the same mean ± std table
    assert main(["compare", str(out), "--png", str(tmp_path / "c.png"), "--csv", str(tmp_path / "c.csv")]) == 0
    printed = capsys.readouterr().out
    assert "mean ± std over seeds" in printed and "| readout_density | model | seeds |" in printed
    compared = read_csv(tmp_path / "c.csv")
    assert [(r["readout_density"], r["model"], r["test_mean"]) for r in compared] == [
        (r["readout_density"], r["model"], r["test_mean"]) for r in rows]
    # running it again does nothing
    assert main(argv) == 0
    assert "8 points, 8 already finished, 0 to run" in capsys.readouterr().err


def test_interrupted_point_resumes_and_finished_points_are_skipped(tmp_path: Path) -> None:
    study = small_study()
    reference = tmp_path / "reference"
    run_study(study, reference, say=lambda s: None)
    resumed = tmp_path / "resumed"
    first = study.points()[0]

    def interrupt(line: str) -> None:
        if line.startswith("epoch 1/"):          # logged right after the epoch-1 checkpoint is written
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(first.config, resumed / first.name, log=interrupt)
    assert (resumed / first.name / "checkpoint.npz").is_file()
    assert not (resumed / first.name / "summary.json").exists()
    lines: list[str] = []
    run_study(study, resumed, say=lines.append)
    assert "4 points, 0 already finished, 4 to run" in lines[0]
    metrics = (resumed / first.name / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(m)["epoch"] for m in metrics] == [1, 2]
    for point in study.points():
        assert_same_weights(reference / point.name, resumed / point.name)
    stamp = (resumed / first.name / "weights.npz").stat().st_mtime_ns
    lines.clear()
    results = run_study(study, resumed, say=lines.append)
    assert "4 points, 4 already finished, 0 to run" in lines[0]
    assert {r.status for r in results} == {"skipped"}
    assert (resumed / first.name / "weights.npz").stat().st_mtime_ns == stamp


def test_a_failed_point_is_reported_and_the_others_finish(tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "study"
    code = main(["sweep", "--config", "tiny", "--grid", "dataset=digits,idx", "--seeds", "1",
                 *(a for k, v in FAST.items() for a in ("--set", f"{k}={v}")), "--out", str(out)])
    assert code == 1
    captured = capsys.readouterr()
    assert "dataset=idx,model=int,seed=1: FAILED: DatasetError: dataset 'idx' needs a folder" in captured.err
    assert "modsnn: point dataset=idx,model=int,seed=1 failed" in captured.err
    assert (out / "dataset=digits,model=int,seed=1" / "summary.json").is_file()
    rows = read_csv(out / "results.csv")
    assert [(r["dataset"], r["seeds"], r["failed"]) for r in rows] == [("digits", "1", "0"), ("idx", "0", "1")]


def test_ray_gives_the_same_results_bit_for_bit(tmp_path: Path) -> None:
    pytest.importorskip("ray", reason="Ray is an optional extra: pip install 'modsnn[ray]'")
    study = small_study(models=["int", "float"])
    local, on_ray = tmp_path / "local", tmp_path / "ray"
    run_study(study, local, jobs=2, say=lambda s: None)
    lines: list[str] = []
    results = run_study(study, on_ray, jobs=2, ray_address="local", say=lines.append)
    assert "to run on Ray (local)" in lines[0] and {r.status for r in results} == {"done"}
    for point in study.points():
        assert_same_weights(local / point.name, on_ray / point.name)
    assert (local / "results.csv").read_text().split("samples_per_second")[0] == \
        (on_ray / "results.csv").read_text().split("samples_per_second")[0]


def test_ray_missing_says_how_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    import builtins

    real_import = builtins.__import__

    def no_ray(name: str, *args: object, **kwargs: object) -> object:
        if name == "ray":
            raise ImportError("No module named 'ray'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_ray)
    code = main(["sweep", "--config", "tiny", "--grid", "readout_density=0.5", "--seeds", "1", "--ray", "local",
                 "--out", str(tmp_path / "out")])
    assert code == 2
    assert "--ray needs Ray: pip install 'modsnn[ray]'" in capsys.readouterr().err


def test_shipped_study_files_are_valid() -> None:
    studies = sorted((Path(__file__).resolve().parents[1] / "studies").glob("*.toml"))
    assert studies
    for path in studies:
        assert load_study(path).points()
