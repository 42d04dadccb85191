"""The iCEBreaker bitstream of its preset, built for real in the default suite (issue 7: the UP5K
build, synthesis and place and route, runs in ``make test``; ~2 minutes of one core, named to be
collected early so that pytest-xdist starts it first rather than last).

The ``icebreaker`` preset fills the UP5K: ~98 % of its logic cells, all 30 block RAMs, all 8 DSPs
and 3 of its 4 SPRAMs (``docs/boards.md``). A change that no longer fits, or no longer meets the
board's default clock with its default seed, fails here rather than on a user's machine.
"""

from __future__ import annotations

from pathlib import Path

from modsnn.boards.build import build, tool_env
from modsnn.boards.registry import BOARDS
from modsnn.golden_model.config import load_config


def test_icebreaker_preset_fits_and_meets_its_clock(tmp_path: Path) -> None:
    assert "YOSYS" in tool_env()
    board = BOARDS["icebreaker"]
    result = build(board, load_config(board.preset), seed=board.default_seed, out=tmp_path / "icebreaker")
    report = result.report
    assert result.bitstream.is_file() and result.bitstream.suffix == ".bin" and result.bitstream.stat().st_size > 50_000
    assert report["clock_mhz"] == board.default_clock / 1e6 and report["clocking"]["kind"] == "pll"
    assert report["timing_met"] and report["fmax_mhz"] >= report["clock_mhz"]
    used = {name: r["used"] for name, r in report["resources"].items()}
    assert used["lut4"] <= 5280 and used["bram"] <= 30 and used["dsp"] <= 8
    assert used["spram"] == 3                                       # the weights: FF and REC in 2, readout in 1
    # the memory inventory predicts the accelerator's block RAMs; the host link adds its frame
    # buffers and identity ROM (2 on iCE40)
    assert report["fit_check"]["bram_inferred_by_yosys"] == used["bram"]
    assert report["fit_check"]["bram_predicted"] + 2 >= used["bram"]
    assert report["uart"]["baud"] == 3_000_000
