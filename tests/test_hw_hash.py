"""Hash32 RTL against the golden generator, on both simulators."""

from __future__ import annotations

import pytest

from modsnn.hw.hash import Hash32
from modsnn.sim.runner import icarus_available, rtl_build, run_cocotb, run_dir

SIMS = ["verilator", pytest.param("icarus", marks=pytest.mark.icarus)]


@pytest.mark.parametrize("simulator", SIMS)
def test_hash32(simulator: str) -> None:
    if simulator == "icarus" and not icarus_available():
        pytest.skip("Icarus Verilog is not installed: apt-get install iverilog")
    verilog, build = rtl_build(Hash32(), "hash32", simulator)
    run_cocotb(verilog=verilog, toplevel="hash32", test_module="modsnn.sim.tb_hash", build=build, run=run_dir("hash32"),
               simulator=simulator)
