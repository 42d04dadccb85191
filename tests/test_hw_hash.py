"""Hash32 RTL against the golden generator, on both simulators."""

from __future__ import annotations

import pytest

from modsnn.hw.hash import Hash32
from modsnn.sim.runner import build_dir, icarus_available, run_cocotb, verilog_for

SIMS = ["verilator", pytest.param("icarus", marks=pytest.mark.icarus)]


@pytest.mark.parametrize("simulator", SIMS)
def test_hash32(simulator: str) -> None:
    if simulator == "icarus" and not icarus_available():
        pytest.skip("Icarus Verilog is not installed: apt-get install iverilog")
    directory = build_dir("hash32", {}, simulator)
    verilog = verilog_for(Hash32(), "hash32", directory)
    run_cocotb(verilog=verilog, toplevel="hash32", test_module="modsnn.sim.tb_hash", directory=directory,
               simulator=simulator)
