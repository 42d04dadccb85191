"""A deep weight memory read in three cycles, with registers on its request and on every chunk's output.

A memory deeper than one block RAM is a cascade: the synthesiser stacks blocks and multiplexes
their outputs by the high address bits. On ECP5 a ``DP16KD``'s clock-to-output alone is 5.8 ns
(Yosys maps to the unregistered ``NOREG`` mode and cannot absorb an output register), so a
20-block-deep weight memory followed by its multiplexer and one more multiplexer does not reach
100 MHz. :class:`WeightMemory` splits the ``depth`` words into *chunks* of ``chunk_depth`` words
(one block RAM deep at the weight width: :attr:`~modsnn.hw.params.HwParams.weight_chunk_depth`),
registers each chunk's read data, and multiplexes the registers::

    cycle t      raddr = c·chunk_depth + r      the request (addresses, data, per-chunk write
                                                enables) is registered; sel₁ ← c
    cycle t+1    every chunk reads its row r    (the block RAM); sel₂ ← sel₁
    cycle t+2    d_k ← chunk_k[r]               (each chunk's output, registered); sel₃ ← sel₂
    cycle t+3    rdata = d_{sel₃}               (combinational from registers)

so ``rdata`` is ``mem[raddr]`` three cycles after ``raddr`` (the bank registers what it computes
from it). A write (``we``) lands in chunk ``waddr div chunk_depth`` at the end of the next cycle
(reads and writes are delayed alike, so their order is kept). A read
of the address written in the same cycle is undefined on the FPGA (the chunks carry Yosys'
``no_rw_check``: without it Yosys emulates read-before-write with a comparator and multiplexer in
front of every chunk register, the slowest path at 100 MHz); the accelerator never does it (the
accumulate pass only reads; the plasticity jobs of a pass write distinct synapses; the host
accesses the weights while the accelerator is idle), and simulation returns the old word. The read
port is always enabled.

Ports: ``raddr``, ``rdata`` (signed ``width``, :data:`READ_LATENCY` cycles later), ``waddr``,
``wdata``, ``we``.
"""

from __future__ import annotations

from typing import Any

from amaranth.hdl import Array, Module, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from .params import bits_for, rejected

__all__ = ["READ_LATENCY", "WeightMemory", "chunk_depths"]

READ_LATENCY = 3        # raddr → rdata


def chunk_depths(depth: int, chunk_depth: int) -> list[int]:
    """The depths of the chunks of a ``depth``-word memory cut every ``chunk_depth`` words."""
    full, rest = divmod(depth, chunk_depth)
    return [chunk_depth] * full + ([rest] if rest else [])


class WeightMemory(wiring.Component):
    """``depth`` signed words of ``width`` bits in chunks of ``chunk_depth`` (see the module docstring)."""

    def __init__(self, width: int, depth: int, chunk_depth: int) -> None:
        for name, value in (("width", width), ("depth", depth), ("chunk_depth", chunk_depth)):
            if not isinstance(value, int) or value < 1:
                raise rejected(self, ValueError(f"{name} must be a positive integer, not {value!r}"))
        if chunk_depth & (chunk_depth - 1):
            raise rejected(self, ValueError(f"chunk_depth must be a power of two, not {chunk_depth}"))
        self._width, self._depth, self._chunk = width, depth, chunk_depth
        self.depths = chunk_depths(depth, chunk_depth)
        super().__init__({"raddr": In(bits_for(depth)), "rdata": Out(signed(width)), "waddr": In(bits_for(depth)),
                          "wdata": In(signed(width)), "we": In(1)})

    def elaborate(self, platform: Any) -> Module:
        m = Module()
        row_bits = bits_for(self._chunk) if len(self.depths) > 1 else bits_for(self._depth)
        # the request, registered (the chunks are spread over the block RAM columns: the address and
        # the per-chunk write enables fan out from flip-flops, not from the bank's multiplexers)
        raddr, waddr = Signal.like(self.raddr, name="raddr_r"), Signal.like(self.waddr, name="waddr_r")
        wdata = Signal.like(self.wdata, name="wdata_r")
        m.d.sync += [raddr.eq(self.raddr), waddr.eq(self.waddr), wdata.eq(self.wdata)]
        selects = [Signal(range(len(self.depths)), name=f"sel{n}") for n in range(3)]
        m.d.sync += [selects[0].eq(self.raddr >> row_bits), selects[1].eq(selects[0]), selects[2].eq(selects[1])]
        outputs = []
        for n, depth in enumerate(self.depths):
            m.submodules[f"chunk{n}"] = mem = Memory(shape=signed(self._width), depth=depth, init=[],
                                                     attrs={"no_rw_check": 1})
            # an asynchronous read port and a register: Yosys merges the two into the block RAM's
            # synchronous read, and only there does it honour ``no_rw_check``
            rd, wr = mem.read_port(domain="comb"), mem.write_port()
            read = Signal(signed(self._width), name=f"chunk{n}_read", reset_less=True)
            registered = Signal(signed(self._width), name=f"chunk{n}_data", reset_less=True)   # data only
            write = Signal(name=f"chunk{n}_we")
            m.d.sync += write.eq(self.we & ((self.waddr >> row_bits) == n))
            m.d.comb += [rd.addr.eq(raddr[:row_bits]), wr.addr.eq(waddr[:row_bits]), wr.data.eq(wdata),
                         wr.en.eq(write)]
            m.d.sync += [read.eq(rd.data), registered.eq(read)]
            outputs.append(registered)
        m.d.comb += self.rdata.eq(Array(outputs)[selects[2]])      # a balanced multiplexer, not a chain
        return m
