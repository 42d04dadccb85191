"""`modsnn bench`: peers measured in the same process, training speed against a baseline checkout.

Speeds are printed, never asserted: these tests check that the measurements run and say what they
need.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from modsnn.cli import main
from modsnn.golden_model import peers
from modsnn.golden_model.bench import arch_config, compare_training, inputs
from modsnn.golden_model.network import Network

ROOT = Path(__file__).resolve().parents[1]


def test_peers_without_the_extra_say_how_to_install(monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(peers, "missing", lambda: ["snntorch", "brian2"])
    assert main(["bench", "--peers", "--quick"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("modsnn: error: --peers needs snntorch, brian2: pip install 'modsnn[peers]'")


def test_peer_networks_run_on_the_golden_models_input() -> None:
    absent = peers.missing()
    if absent:
        pytest.skip(f"the peers extra is missing ({', '.join(absent)}): {peers.INSTALL_HINT}")
    cfg = arch_config()
    net = Network(cfg)
    spikes, _, _ = net.encode(inputs(cfg, 16))
    torch_rates = peers.snntorch_rates(net, spikes, repeats=1)
    assert {"snntorch_b1_threads1", "snntorch_b256_threads1"} <= set(torch_rates)
    brian = peers.brian2_rates(net, spikes, repeats=1, quick=True, targets=("numpy",), copies_list=(1, 4))
    assert set(brian) == {"brian2_numpy_copies1", "brian2_numpy_copies4", "brian2_numpy_copies1_one_run",
                          "brian2_numpy_copies4_one_run"}
    assert all(np.isfinite(v) and v > 0 for v in (*torch_rates.values(), *brian.values()))


def test_training_against_a_baseline_checkout_compares_weights() -> None:
    result = compare_training(ROOT, rounds=1, samples=30)          # this checkout against itself
    assert result["same_weights"] and result["samples"] == 30
    assert set(result["best"]) == {"baseline", "this"}


def test_a_bad_baseline_is_one_clear_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "--quick", "--baseline", str(tmp_path)]) == 2
    assert "not a modsnn checkout" in capsys.readouterr().err


def test_accelerator_rates_use_the_achieved_fmax(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    from modsnn.golden_model import bench
    from modsnn.golden_model.config import load_config

    cfg = load_config("ecp5-85f")
    builds = tmp_path / "builds.json"
    builds.write_text(json.dumps([{"board": "ulx3s-85f", "config_hash": cfg.hash(), "fmax_mhz": 50.0,
                                   "clock_mhz": 40.0, "timing_met": True}]))
    monkeypatch.setattr(bench, "BUILDS_FILE", builds)
    monkeypatch.setenv("MODSNN_BUILD", str(tmp_path / "no-builds"))
    monkeypatch.setattr(bench, "BOARD_ROWS", (("ulx3s-85f", "ecp5-85f", ()), ("ecpix5-85f", "ecp5-85f", ())))
    golden = [{"config": "ecp5-85f", "int_train": 100.0, "int_infer_batch1": 200.0}]
    built, unbuilt = bench._projections(True, golden)
    assert built["fmax_mhz"] == 50.0 and built["timing_met_at_mhz"] == 40.0
    assert built["train_per_s"] == pytest.approx(50e6 / built["cycles_train"])
    assert built["infer_per_s"] == pytest.approx(50e6 / built["cycles_infer"])
    assert unbuilt["fmax_mhz"] is None and "train_per_s" not in unbuilt
    out = capsys.readouterr().out
    assert f"{built['train_per_s'] / 100:.1f}×" in out and "no build: make build BOARD=ecpix5-85f" in out
