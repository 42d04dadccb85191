"""`modsnn sim` (what `make sim` runs): on-chip training bit-exact with the golden model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from modsnn.cli import main


def test_sim_trains_on_chip_bit_exact(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)                  # a report path relative to where the user is, in a new folder
    assert main(["sim", "--samples", "4", "--test-samples", "3", "--set", "lanes=2", "--set", "cores=2",
                 "--report", "out/report.json"]) == 0
    result = json.loads((tmp_path / "out" / "report.json").read_text())
    assert result["bit_exact"] and result["weights_match"] and result["train_samples"] == 4
    assert result["cycles_per_train_sample"]["total"] > 0
    assert "bit-exact with the golden model: YES" in capsys.readouterr().out


@pytest.mark.parametrize(("args", "message"), [
    (["--samples", "0"], "--samples must be ≥ 1"),
    (["--set", "hidden=[30]", "--set", "lanes=4"],
     "configuration not supported by the RTL: hidden[0] = 30 is not a multiple of lanes × cores = 4 × 1 = 4"),
    (["--set", "cores=3"], "cores = 3 must be a power of two"),
    (["--set", "lanes=3"], "lanes = 3 must be a power of two"),
])
def test_sim_bad_arguments(args: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sim", *args]) == 2
    assert message in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.parametrize("lanes", [1, 4])
def test_long_on_chip_training_parity(lanes: int, tmp_path: Path) -> None:
    """600 training samples on chip leave every weight identical to the golden model's."""
    report = tmp_path / "report.json"
    assert main(["sim", "--samples", "600", "--test-samples", "200", "--set", f"lanes={lanes}",
                 "--report", str(report)]) == 0
    assert json.loads(report.read_text())["bit_exact"]


def test_sim_without_icarus(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import modsnn.sim.onchip as onchip

    monkeypatch.setattr(onchip, "icarus_available", lambda: False)
    assert main(["sim", "--simulator", "icarus", "--samples", "1"]) == 2
    assert "Icarus Verilog is missing: install it with `apt-get install iverilog`" in capsys.readouterr().err
