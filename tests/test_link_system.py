"""The host link on the real accelerator: the host driver trains the RTL through the UART pins
(`modsnn sim --link`), bit-exact with the golden model, and the link survives fuzzing — every
refused frame changes nothing, every valid request after it is answered correctly, nothing hangs."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from modsnn.boards.link_rate import BOARD_OVERHEAD, REPLY_AHEAD, link_rate
from modsnn.cli import main
from modsnn.golden_model.config import load_config
from modsnn.sim.link_sim import run_system_bench


def fuzz(overrides: list[str], frames: int, bits: int, report: Path) -> dict:
    run_system_bench(load_config("tiny", overrides), "modsnn.sim.tb_link_fuzz", {
        "MODSNN_FUZZ_FRAMES": str(frames), "MODSNN_FUZZ_BITS": str(bits), "MODSNN_FUZZ_REPORT": str(report)})
    result: dict = json.loads(report.read_text())
    assert result["frames_refused"] >= frames and result["hangs"] == 0
    return result


def test_link_short(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A few samples trained and inferred through the UART, bit-exact; a short fuzz run (one build)."""
    report = tmp_path / "report.json"
    assert main(["sim", "--link", "--samples", "3", "--test-samples", "2", "--report", str(report)]) == 0
    result = json.loads(report.read_text())
    assert result["bit_exact"] and result["weights_match"] and result["train_samples"] == 3
    assert "bit-exact with the golden model: YES" in capsys.readouterr().out
    fuzz([], 80, 6, tmp_path / "fuzz.json")


def test_sim_link_bad_arguments(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sim", "--link", "--set", "hidden=[30]", "--set", "lanes=4"]) == 2
    assert "configuration not supported by the RTL: hidden[0] = 30 is not a multiple" in capsys.readouterr().err


@pytest.mark.slow
def test_link_training_acceptance(tmp_path: Path) -> None:
    """≥ 50 training samples and ≥ 20 inferences through the UART: predictions, per-sample cycle
    counters and the final weights identical to the golden model's."""
    report = tmp_path / "report.json"
    assert main(["sim", "--link", "--samples", "60", "--test-samples", "20", "--report", str(report)]) == 0
    result = json.loads(report.read_text())
    assert result["bit_exact"] and result["weights_match"]
    # the measured rate is the link-rate model's: per sample the accelerator's cycles plus the link's
    # board-side cycles and its reply's time on the line (the command layer sends it before it takes
    # the next request), plus once the first request's time on the line
    cfg = load_config("tiny")
    model = link_rate(cfg, baud=round(result["baud"]), clock_hz=result["clock_hz"], samples=5)
    byte_time = 10 * result["divisor"]
    fill = byte_time * (model.request_bytes + 1)
    for phase, n, cycles in (("train", 60, result["cycles_per_train_sample"]["total"]),
                             ("test", 20, result["cycles_per_test_sample"])):
        on_the_line = byte_time * (model.reply_bytes - REPLY_AHEAD)
        predicted = n * (cycles + 3 * cfg.n_inputs + BOARD_OVERHEAD + on_the_line) + fill
        measured = result["seconds"][phase] * result["clock_hz"]
        assert abs(measured / predicted - 1) < 0.002, f"{phase}: {measured:.0f} cycles, the model {predicted:.0f}"


@pytest.mark.slow
def test_link_fuzz_acceptance(tmp_path: Path) -> None:
    """≥ 10,000 refused frames (``MODSNN_FUZZ_FRAMES`` changes it) and 200 bit-level items, 0 hangs."""
    frames = int(os.environ.get("MODSNN_FUZZ_FRAMES", "10000"))
    result = fuzz(["lanes=2"], frames, 200, tmp_path / "fuzz.json")
    print(json.dumps(result, indent=2))
