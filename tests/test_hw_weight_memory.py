"""The weight memories (chunked dual-port and single-port) against a Python list, cycle by cycle.

Random reads and writes over every chunk, including the short last one: ``rdata`` must be the word
at the address read :data:`~modsnn.hw.weight_memory.READ_LATENCY` cycles earlier, as it stood
before that cycle's write.
"""

from __future__ import annotations

import random

import pytest
from amaranth.sim import Simulator

from modsnn.hw.spram import SinglePortMemory
from modsnn.hw.weight_memory import READ_LATENCY, WeightMemory, chunk_depths


def test_chunk_depths() -> None:
    assert chunk_depths(10, 4) == [4, 4, 2]
    assert chunk_depths(8, 4) == [4, 4]
    assert chunk_depths(3, 4) == [3]


@pytest.mark.parametrize(("depth", "chunk"), [(10, 4), (8, 8), (3, 4), (37, 8)])
@pytest.mark.parametrize("single_port", [False, True], ids=["dual-port", "single-port"])
def test_memory_reads_two_cycles_later(depth: int, chunk: int, single_port: bool) -> None:
    width = 7
    dut = SinglePortMemory(width, depth) if single_port else WeightMemory(width, depth, chunk)
    model = [0] * depth
    rng = random.Random(depth * 100 + chunk + single_port)
    checked = 0

    async def testbench(ctx) -> None:  # type: ignore[no-untyped-def]
        nonlocal checked
        pending: list[int | None] = [None] * (READ_LATENCY - 1)    # expected rdata, oldest first
        for _cycle in range(600):
            write = rng.random() < 0.4
            addr = rng.randrange(depth)
            if write:
                value = rng.randrange(-(1 << (width - 1)), 1 << (width - 1))
                ctx.set(dut.waddr, addr)
                ctx.set(dut.wdata, value)
                ctx.set(dut.we, 1)
                if not single_port:                                 # a dual-port memory reads as well
                    ctx.set(dut.raddr, rng.randrange(depth))
            else:
                ctx.set(dut.raddr, addr)
                ctx.set(dut.we, 0)
            reading = not (write and single_port)
            expect = model[ctx.get(dut.raddr)] if reading else None  # the word before this cycle's write
            if write:
                model[addr] = value
            await ctx.tick()
            pending.append(expect)
            due = pending.pop(0)
            if due is not None:
                assert ctx.get(dut.rdata) == due
                checked += 1

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(testbench)
    sim.run()
    assert checked > 300


def test_bad_geometry_is_refused() -> None:
    with pytest.raises(ValueError, match="chunk_depth must be a power of two"):
        WeightMemory(8, 100, 6)
    with pytest.raises(ValueError, match="depth must be a positive integer"):
        WeightMemory(8, 0, 4)
