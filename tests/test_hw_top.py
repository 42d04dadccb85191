"""The accelerator top against the golden model: spikes per step, predictions, state, weights
after every update and cycle counts of every phase; lanes > 1 gives the same bits; both simulators."""

from __future__ import annotations

import pytest

from modsnn.hw.top import Accelerator
from modsnn.sim.runner import icarus_available, run_testbench


@pytest.mark.parametrize("overrides", [
    ["lanes=1"],
    ["lanes=2"],
    ["lanes=4", "readout_density=0.3", "teaching='margin'", "teach_margin=2"],
    ["mod_shift=8"],                     # every m_c = 0: the gated-off plasticity path
])
def test_top_verilator(overrides: list[str]) -> None:
    run_testbench("top", Accelerator, overrides, samples=6)


@pytest.mark.icarus
def test_top_icarus() -> None:
    if not icarus_available():
        pytest.skip("Icarus Verilog is not installed: apt-get install iverilog")
    run_testbench("top", Accelerator, ["lanes=2"], simulator="icarus", samples=2)
