"""Hash32 RTL against the golden generator, on both simulators."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from amaranth.hdl import Fragment, Module, Signal
from amaranth.sim import Simulator

from modsnn.golden_model.rng import hash32_int
from modsnn.hw.hash import Hash32, hash32_stages
from modsnn.sim.runner import icarus_available, rtl_build, run_cocotb, run_dir

SIMS = ["verilator", pytest.param("icarus", marks=pytest.mark.icarus)]


@pytest.mark.parametrize("simulator", SIMS)
def test_hash32(simulator: str) -> None:
    if simulator == "icarus" and not icarus_available():
        pytest.skip("Icarus Verilog is not installed: apt-get install iverilog")
    verilog, build = rtl_build(Hash32(), "hash32", simulator)
    run_cocotb(verilog=verilog, toplevel="hash32", test_module="modsnn.sim.tb_hash", build=build, run=run_dir("hash32"),
               simulator=simulator)


@pytest.mark.parametrize("registers", [2, 3])
def test_hash32_grouped_stages(registers: int) -> None:
    """``hash32_stages`` with fewer registers: the same hash, ``registers`` cycles later."""
    rng = np.random.default_rng(7)
    values = [int(v) for v in rng.integers(0, 2**32, 40, dtype=np.uint64)] + [0, 2**32 - 1]
    m = Module()
    value = Signal(32)
    out = hash32_stages(m, value, registers=registers)

    async def bench(ctx: Any) -> None:
        for n in range(len(values) + registers - 1):
            if n < len(values):
                ctx.set(value, values[n])
            await ctx.tick()
            if n + 1 >= registers:
                assert ctx.get(out) == hash32_int(values[n + 1 - registers])

    sim = Simulator(m)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()


def test_hash32_stages_rejects_other_register_counts() -> None:
    m = Module()
    with pytest.raises(ValueError, match="registers must be 1, 2, 3 or 6 \\(a divisor of 6\\), not 4"):
        hash32_stages(m, Signal(32), registers=4)
    Fragment.get(m, None)                 # elaborated: no unused-elaboratable warning
