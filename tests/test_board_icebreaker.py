"""The iCEBreaker bitstream of its preset, built for real in the default suite (issue 7: the UP5K
build, synthesis and place and route, runs in ``make test``; ~2 minutes of one core, named to be
collected early so that pytest-xdist starts it first rather than last).

The ``icebreaker`` preset fills the UP5K: ~98 % of its logic cells, all 30 block RAMs, all 8 DSPs
and 3 of its 4 SPRAMs (``docs/boards.md``). A change that no longer fits, or no longer meets the
board's default clock with its default seed, fails here rather than on a user's machine.
"""

from __future__ import annotations

import json
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
    assert used["lut4"] <= 5280 and used["bram"] <= 30 and used["dsp"] == 8
    assert used["spram"] == 3                                       # the weights: FF and REC in 2, readout in 1
    # the memory inventory predicts the accelerator's block RAMs; the host link adds its frame
    # buffers and identity ROM (2 on iCE40)
    assert report["fit_check"]["bram_inferred_by_yosys"] == used["bram"]
    assert report["fit_check"]["bram_predicted"] + 2 >= used["bram"]
    assert report["uart"]["baud"] == 3_000_000
    storage_mac16s_are_storage(tmp_path / "icebreaker" / "modsnn.json")


#: the SB_MAC16 blocks that hold storage (hw/dsp.py) in the icebreaker netlist → their C_REG / D_REG
STORAGE_MAC16S = {"accelerator.learner.prefix_key0": 0, "accelerator.learner.prefix_key1": 0,
                  "accelerator.learner.prefix_key2": 0, "accelerator.core0.bank0.pj_l7": 1}


def storage_mac16s_are_storage(netlist: Path) -> None:
    """The storage ``SB_MAC16`` cells of the netlist nextpnr placed still hold data: not re-packed by
    ``ice40_dsp`` as multipliers (output registers loading ``C:D``, clock enabled, a register's hold
    driven by logic, data reaching ``C`` and ``D``), and no black box left over from hiding them."""
    cells = {name: cell for module in json.loads(netlist.read_text())["modules"].values()
             for name, cell in module.get("cells", {}).items()}
    assert not any(c["type"] == "MODSNN_MAC16" for c in cells.values()), "the rename back is missing"
    for name, reg in STORAGE_MAC16S.items():
        cell = cells[name]
        params, ports = {k: int(v, 2) for k, v in cell["parameters"].items()}, cell["connections"]
        assert cell["type"] == "SB_MAC16", (name, cell["type"])
        assert (params["TOPOUTPUT_SELECT"], params["BOTOUTPUT_SELECT"], params["C_REG"], params["D_REG"]) == \
            (1, 1, reg, reg), (name, params)
        assert ports["OLOADTOP"] == ports["OLOADBOT"] == ["1"] and ports["CE"] == ["1"], (name, "OLOAD/CE")
        if name.startswith("accelerator.learner.prefix_key"):      # a register: OHOLD follows ~load
            assert ports["OHOLDTOP"] == ports["OHOLDBOT"] and isinstance(ports["OHOLDTOP"][0], int), name
        for port in ("C", "D"):                                      # data reaches the block
            assert any(isinstance(bit, int) for bit in ports[port]), (name, port, "constant")
