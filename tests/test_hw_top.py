"""The accelerator top against the golden model: spikes per step, weights after every update,
cycle counts; lanes > 1 gives the same bits; both simulators."""

from __future__ import annotations

import json
import os

import pytest

from modsnn.golden_model.config import load_config
from modsnn.hw.top import Accelerator
from modsnn.sim.runner import build_dir, icarus_available, run_cocotb, verilog_for

SIMS = ["verilator", pytest.param("icarus", marks=pytest.mark.icarus)]


def run_top(overrides: list[str], samples: int, simulator: str = "verilator") -> None:
    if simulator == "icarus" and not icarus_available():
        pytest.skip("Icarus Verilog is not installed: apt-get install iverilog")
    cfg = load_config("tiny", overrides)
    directory = build_dir("top", {"cfg": cfg.hash()}, simulator)
    verilog = verilog_for(Accelerator(cfg), "top", directory)
    run_cocotb(verilog=verilog, toplevel="top", test_module="modsnn.sim.tb_top", directory=directory,
               simulator=simulator, env={"MODSNN_TB_CONFIG": "tiny", "MODSNN_TB_SET": json.dumps(overrides),
                                         "MODSNN_TB_SAMPLES": str(samples), "MODSNN_TB_FIT": os.environ.get("MODSNN_TB_FIT", "")})


@pytest.mark.parametrize("lanes", [1, 2])
def test_top_verilator(lanes: int) -> None:
    run_top([f"lanes={lanes}"] + json.loads(os.environ.get("MODSNN_TB_EXTRA", "[]")), samples=6)
