"""cocotb testbench: the ``SB_MAC16`` storage of :mod:`modsnn.hw.dsp` against Python.

Random words every cycle into a :func:`~modsnn.hw.dsp.mac16_register` (loaded on a random enable)
and into :func:`~modsnn.hw.dsp.mac16_delay` lines of one and two cycles; every output is compared
with the register and the delay lines modelled in Python twice a cycle: at the falling edge, and
again after the new inputs are driven but before the rising edge (a path from the inputs straight
to an output, i.e. a missing register, fails there). Values not yet loaded are skipped; a loaded
one that is X or Z fails. Run on the iCE40 netlist (the Yosys ``SB_MAC16`` cell model), where a
block that ``synth_ice40 -dsp`` re-packed as a multiplier fails at once, by ``tests/test_gatelevel.py``.
"""

from __future__ import annotations

import os
from typing import Any

import cocotb
from cocotb.triggers import FallingEdge, Timer

from modsnn.sim.streams import start, stimulus_random

NAMES = ("register", "delay1", "delay2")


def _check(dut: Any, cycle: int, when: str, want: dict[str, int | None]) -> None:
    for name in NAMES:
        if want[name] is None:                              # unknown (X on Icarus) until loaded / filled
            continue
        value = getattr(dut, name).value
        assert value.is_resolvable, f"cycle {cycle} ({when}): {name} is {value} (X or Z)"
        got = value.to_unsigned()
        assert got == want[name], (
            f"cycle {cycle} ({when}): {name} is {got:#x}, not {want[name]:#x}")


@cocotb.test()
async def the_blocks_store_what_python_stores(dut: Any) -> None:
    width = int(os.environ["MODSNN_MAC16_WIDTH"])
    assert len(dut.d) == width and all(len(getattr(dut, n)) == width for n in NAMES)
    mask = (1 << width) - 1
    await start(dut, ("d", "load"))
    rnd = stimulus_random(dut._log)
    register: int | None = None               # unknown until the first load
    line: list[int | None] = [None, None]     # the input one and two cycles ago
    loads = holds = 0
    for cycle in range(2000):                 # inputs change at falling edges
        await FallingEdge(dut.clk)
        want = {"register": register, "delay1": line[0], "delay2": line[1]}
        _check(dut, cycle, "before the new inputs", want)
        value, load = rnd.getrandbits(width), int(rnd.random() < 0.3)
        dut.d.value, dut.load.value = value, load
        await Timer(1, unit="ns")                  # still before the rising edge: no input-to-output path
        _check(dut, cycle, "after the new inputs", want)
        if load:
            register, loads = value & mask, loads + 1
        elif register is not None:
            holds += 1
        line = [value & mask, line[0]]
    assert loads > 400 and holds > 1000, f"{loads} loads, {holds} holds checked"
