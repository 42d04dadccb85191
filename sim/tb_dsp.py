"""cocotb testbench: the ``SB_MAC16`` storage of :mod:`modsnn.hw.dsp` against Python.

Random words every cycle into a :func:`~modsnn.hw.dsp.mac16_register` (loaded on a random enable)
and into :func:`~modsnn.hw.dsp.mac16_delay` lines of one and two cycles; every output is compared
at every cycle with the register and the delay lines modelled in Python. Run on the iCE40 netlist
(the Yosys ``SB_MAC16`` cell model), where a block that ``synth_ice40 -dsp`` re-packed as a multiplier
fails the first comparison, by ``tests/test_gatelevel.py``.
"""

from __future__ import annotations

import os
from typing import Any

import cocotb
from cocotb.triggers import FallingEdge

from modsnn.sim.streams import start, stimulus_random


@cocotb.test()
async def the_blocks_store_what_python_stores(dut: Any) -> None:
    width = int(os.environ["MODSNN_MAC16_WIDTH"])
    mask = (1 << width) - 1
    await start(dut, ("d", "load"))
    rnd = stimulus_random(dut._log)
    register: int | None = None               # unknown until the first load
    line: list[int | None] = [None, None]     # the input one and two cycles ago
    loads = holds = 0
    for cycle in range(2000):                 # inputs change and outputs are read at falling edges
        await FallingEdge(dut.clk)
        got = {name: getattr(dut, name).value.to_unsigned() for name in ("register", "delay1", "delay2")}
        for name, want in (("register", register), ("delay1", line[0]), ("delay2", line[1])):
            assert want is None or got[name] == want, f"cycle {cycle}: {name} is {got[name]:#x}, not {want:#x}"
        value, load = rnd.getrandbits(width), int(rnd.random() < 0.3)
        dut.d.value, dut.load.value = value, load
        if load:
            register, loads = value & mask, loads + 1
        elif register is not None:
            holds += 1
        line = [value & mask, line[0]]
    assert loads > 400 and holds > 1000, f"{loads} loads, {holds} holds checked"
