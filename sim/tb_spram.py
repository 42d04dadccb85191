"""cocotb testbench: a :class:`modsnn.hw.spram.SinglePortMemory` against a dictionary.

Random single-port traffic (a write or a read or nothing per cycle) over addresses in every block of
the memory, with the corners of each block; every read is checked :data:`~modsnn.hw.weight_memory.READ_LATENCY`
cycles later against the last value written (words never written are not read). Run on the iCE40
netlist, where the memory is ``SB_SPRAM256KA`` blocks with a block multiplexer before the output
register, by ``tests/test_gatelevel.py``.
"""

from __future__ import annotations

import os
from typing import Any

import cocotb
from cocotb.triggers import FallingEdge

from modsnn.hw.spram import SPRAM_DEPTH
from modsnn.hw.weight_memory import READ_LATENCY
from modsnn.sim.streams import start, stimulus_random


@cocotb.test()
async def reads_return_the_last_write_in_every_block(dut: Any) -> None:
    width, depth = int(os.environ["MODSNN_SPRAM_WIDTH"]), int(os.environ["MODSNN_SPRAM_DEPTH"])
    await start(dut, ("raddr", "waddr", "wdata", "we"))
    rnd = stimulus_random(dut._log)
    corners = sorted({a for n in range(-(-depth // SPRAM_DEPTH)) for a in (n * SPRAM_DEPTH, n * SPRAM_DEPTH + 1,
                      min(depth, (n + 1) * SPRAM_DEPTH) - 1)})
    pool = corners + [rnd.randrange(depth) for _ in range(40)]
    memory: dict[int, int] = {}
    expected: list[tuple[int, int] | None] = [None] * READ_LATENCY     # (address, value) per cycle in flight
    reads = 0
    for cycle in range(3000):                 # inputs change and outputs are read at falling edges
        await FallingEdge(dut.clk)
        due = expected.pop(0)
        if due is not None:
            got = dut.rdata.value.to_signed()
            assert got == due[1], f"cycle {cycle}: the read of word {due[0]} gave {got}, not {due[1]}"
        action = rnd.random()
        dut.we.value = 0
        if cycle < 2 * len(pool):             # first every word of the pool, then random traffic
            action = 0.0 if cycle % 2 == 0 else 0.99
        if action < 0.35:
            address = pool[cycle // 2] if cycle < 2 * len(pool) else rnd.choice(pool)
            value = rnd.randrange(-(1 << (width - 1)), 1 << (width - 1))
            dut.waddr.value, dut.wdata.value, dut.we.value = address, value & ((1 << width) - 1), 1
            memory[address] = value
            expected.append(None)
        elif action < 0.85:
            address = rnd.choice(pool)
            dut.raddr.value = address
            expected.append((address, memory[address]))
            reads += 1
        else:                                 # an idle cycle, the read address anywhere
            dut.raddr.value = rnd.randrange(depth)
            expected.append(None)
    assert reads > 1000, f"only {reads} reads were checked"
