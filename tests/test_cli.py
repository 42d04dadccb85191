"""The `modsnn` command line end to end on the tiny preset, and its error messages."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from modsnn.cli import main

FAST = ["--set", "train_limit=200", "--set", "test_limit=100"]


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_train_eval_compare_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "tiny"
    code, stdout, stderr = run(["train", "--config", "tiny", "--out", str(out), "--epochs", "2", *FAST], capsys)
    assert code == 0, stderr
    printed = json.loads(stdout)
    summary = json.loads((out / "summary.json").read_text())
    for key in ("test_accuracy", "train_accuracy", "epochs", "train_samples_per_second", "model", "config_hash"):
        assert key in summary and printed[key] == summary[key]
    assert summary["epochs"] == 2 and summary["model"] == "int"
    assert 0.0 <= summary["test_accuracy"] <= 1.0 and 0.0 <= summary["train_accuracy"] <= 1.0
    assert summary["test_accuracy"] > 0.3                 # it learned something in 400 samples
    assert summary["cycles_per_sample"]["total"] > 0
    lines = (out / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["epoch"] for line in lines] == [1, 2]
    assert {"config.toml", "run.json", "checkpoint.npz", "weights.npz", "summary.json"} <= {
        p.name for p in out.iterdir()}
    assert "epoch 2/2" in stderr

    code, stdout, _ = run(["eval", str(out), "--dataset", "digits", "--json"], capsys)
    assert code == 0
    result = json.loads(stdout)
    assert result["samples"] == 360 and 0.0 <= result["accuracy"] <= 1.0
    code, stdout, _ = run(["eval", str(out), "--dataset", "digits", "--split", "train"], capsys)
    assert code == 0 and "digits/train accuracy" in stdout

    other = tmp_path / "float"
    code, _, stderr = run(["train", "--config", "tiny", "--out", str(other), "--epochs", "1", "--model", "float",
                           "--seed", "3", *FAST], capsys)
    assert code == 0, stderr
    assert json.loads((other / "summary.json").read_text())["model"] == "float"
    png = tmp_path / "curves.png"
    code, stdout, _ = run(["compare", str(out), str(other), "--png", str(png)], capsys)
    assert code == 0 and png.stat().st_size > 1000 and png.read_bytes()[:4] == b"\x89PNG"
    assert "tiny" in stdout and "float" in stdout and "test" in stdout


def test_resume_gives_the_uninterrupted_result(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    full, part = tmp_path / "full", tmp_path / "part"
    assert run(["train", "--config", "tiny", "--out", str(full), "--epochs", "3", *FAST], capsys)[0] == 0
    assert run(["train", "--config", "tiny", "--out", str(part), "--epochs", "1", *FAST], capsys)[0] == 0
    code, _, stderr = run(["train", "--out", str(part), "--resume", "--epochs", "3"], capsys)
    assert code == 0, stderr
    assert "resuming" in stderr
    a, b = np.load(full / "weights.npz"), np.load(part / "weights.npz")
    assert sorted(a.files) == sorted(b.files)
    for key in a.files:
        np.testing.assert_array_equal(a[key], b[key])
    sa, sb = (json.loads((p / "summary.json").read_text()) for p in (full, part))
    assert sa["test_accuracy"] == sb["test_accuracy"] and sa["config_hash"] == sb["config_hash"]


def test_set_overrides_reach_the_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "sparse"
    code, _, _ = run(["train", "--config", "tiny", "--out", str(out), "--epochs", "1", "--set", "readout_density=0.25",
                      *FAST], capsys)
    assert code == 0
    assert "readout_density = 0.25" in (out / "config.toml").read_text()


@pytest.mark.parametrize(("argv", "message"), [
    (["train", "--config", "nope.toml", "--out", "{tmp}/x"], "configuration file 'nope.toml' does not exist"),
    (["train", "--config", "tiny", "--out", "{tmp}/x", "--set", "leak_shift=0"],
     "config field leak_shift = 0 is out of range"),
    (["train", "--config", "tiny", "--out", "{tmp}/x", "--set", "bogus=1"], "unknown field 'bogus'"),
    (["train", "--config", "tiny", "--out", "{tmp}/x", "--set", "n_inputs=10"],
     "has 64 inputs per sample but the configuration has n_inputs = 10"),
    (["train", "--out", "{tmp}/x"], "train needs --config"),
    (["train", "--out", "{tmp}/x", "--resume"], "has no config.toml"),
    (["eval", "{tmp}", "--dataset", "digits"], "is not a modsnn run folder"),
    (["compare", "{tmp}"], "is not a modsnn run folder with metrics"),
    (["train", "--config", "tiny", "--out", "{tmp}/x", "--set", "dataset=idx"], "dataset 'idx' needs a folder"),
])
def test_bad_input_gets_one_clear_line(tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str],
                                       message: str) -> None:
    code, _, stderr = run([a.replace("{tmp}", str(tmp_path)) for a in argv], capsys)
    assert code == 2
    assert stderr.startswith("modsnn: error: ") and message in stderr
    assert "Traceback" not in stderr


def test_existing_run_folder_is_not_overwritten(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    out.mkdir()
    (out / "precious.txt").write_text("keep me")
    code, _, stderr = run(["train", "--config", "tiny", "--out", str(out), *FAST], capsys)
    assert code == 2 and "exists and is not empty; pass --resume" in stderr
    assert (out / "precious.txt").read_text() == "keep me"


def test_resume_rejects_a_different_configuration(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    assert run(["train", "--config", "tiny", "--out", str(out), "--epochs", "1", *FAST], capsys)[0] == 0
    code, _, stderr = run(["train", "--config", "tiny", "--out", str(out), "--resume", "--seed", "9", *FAST], capsys)
    assert code == 2 and "differs from the one" in stderr


def test_argparse_errors_and_help() -> None:
    exe = shutil.which("modsnn") or ""
    cmd = [exe] if exe else [sys.executable, "-m", "modsnn"]
    done = subprocess.run([*cmd, "train", "--help"], capture_output=True, text=True, check=False)
    assert done.returncode == 0 and "--resume" in done.stdout and "(default: None)" not in done.stdout
    assert "float64 twin (default: int)" in " ".join(done.stdout.split())
    done = subprocess.run([*cmd, "eval"], capture_output=True, text=True, check=False)
    assert done.returncode == 2 and "the following arguments are required" in done.stderr


def test_config_and_topology_commands(capsys: pytest.CaptureFixture[str]) -> None:
    code, stdout, _ = run(["config", "digits", "--set", "readout_density=0.05"], capsys)
    assert code == 0 and "readout_density = 0.05" in stdout
    code, stdout, _ = run(["topology", "digits", "--set", "readout_density=0.05", "--set", "rewire_beta=0.1"], capsys)
    assert code == 0 and "sigma" in stdout
