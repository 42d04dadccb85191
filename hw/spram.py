"""A single-port memory: one address for reads and writes, one access per cycle.

The weight memories of ``weight_ports = 1`` configurations. On an iCE40 UltraPlus (the iCEBreaker's
UP5K) it is built from ``SB_SPRAM256KA`` blocks (16K × 16 bits each, cascaded by the high address
bits; words narrower than 16 bits use the low bits and are sign-extended on the way out), which
have no initial contents: the host loads the weights, as it does on every board. Elsewhere (and in
simulation) it is an Amaranth memory with a shared address. In both, a read at ``raddr`` in a
cycle without a write (``we`` low) answers on ``rdata`` :data:`~modsnn.hw.weight_memory.READ_LATENCY`
(3) cycles later, like a :class:`~modsnn.hw.weight_memory.WeightMemory`: the request is registered,
and the blocks' multiplexed output is registered. ``rdata`` is not valid three
cycles after a write; the
accelerator never reads and writes in one cycle (the bank asserts it).

Ports: ``raddr``, ``rdata`` (signed ``width``), ``waddr``, ``wdata``, ``we``.
"""

from __future__ import annotations

from typing import Any

from amaranth.hdl import ClockSignal, Const, Instance, Module, Mux, Signal, Value, signed
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from .params import bits_for, rejected

__all__ = ["SPRAM_DEPTH", "SPRAM_WIDTH", "SinglePortMemory", "is_ecp5", "is_ice40_up"]

SPRAM_DEPTH, SPRAM_WIDTH = 16384, 16


def is_ice40_up(platform: Any) -> bool:
    """Whether ``platform`` builds for an iCE40 UltraPlus device (which has SPRAM)."""
    device = getattr(platform, "device", "")
    return isinstance(device, str) and device.startswith("iCE40UP")


def is_ecp5(platform: Any) -> bool:
    """Whether ``platform`` builds for an ECP5 device (LFE5U, LFE5UM, LFE5UM5G)."""
    device = getattr(platform, "device", "")
    return isinstance(device, str) and device.startswith("LFE5U")


class SinglePortMemory(wiring.Component):
    """``depth`` signed words of ``width`` bits behind one address (see the module docstring)."""

    def __init__(self, width: int, depth: int) -> None:
        if not isinstance(width, int) or not 1 <= width <= SPRAM_WIDTH:
            raise rejected(self, ValueError(f"width must be an integer in [1, {SPRAM_WIDTH}], not {width!r}"))
        if not isinstance(depth, int) or depth < 1:
            raise rejected(self, ValueError(f"depth must be a positive integer, not {depth!r}"))
        self._width, self._depth = width, depth
        super().__init__({"raddr": In(bits_for(depth)), "rdata": Out(signed(width)), "waddr": In(bits_for(depth)),
                          "wdata": In(signed(width)), "we": In(1)})

    @property
    def blocks(self) -> int:
        """``SB_SPRAM256KA`` blocks it takes on an iCE40 UltraPlus."""
        return -(-self._depth // SPRAM_DEPTH)

    def elaborate(self, platform: Any) -> Module:
        m = Module()
        # the request, registered (as in a WeightMemory: reads and writes delayed alike)
        addr, we = Signal(bits_for(self._depth), name="addr_r"), Signal(name="we_r")
        wdata = Signal.like(self.wdata, name="wdata_r")
        m.d.sync += [addr.eq(Mux(self.we, self.waddr, self.raddr)), we.eq(self.we), wdata.eq(self.wdata)]
        if not is_ice40_up(platform):
            m.submodules.mem = mem = Memory(shape=signed(self._width), depth=self._depth, init=[])
            rd, wr = mem.read_port(), mem.write_port()
            m.d.comb += [rd.addr.eq(addr), rd.en.eq(~we), wr.addr.eq(addr), wr.data.eq(wdata), wr.en.eq(we)]
            m.d.sync += self.rdata.eq(rd.data)
            return m
        select = Signal(range(max(2, self.blocks)))
        m.d.comb += select.eq(addr >> 14)
        read_select = Signal.like(select)        # the block whose output is on the SPRAM pins
        with m.If(~we):
            m.d.sync += read_select.eq(select)
        wide = Signal(SPRAM_WIDTH)
        m.d.comb += wide.eq(wdata.as_unsigned())
        value: Value = Const(0, SPRAM_WIDTH)
        for n in range(self.blocks):
            data = Signal(SPRAM_WIDTH, name=f"spram{n}_out")
            m.submodules[f"spram{n}"] = Instance(
                "SB_SPRAM256KA", i_ADDRESS=addr[:14], i_DATAIN=wide, i_MASKWREN=Const(0b1111, 4),
                i_WREN=we & (select == n), i_CHIPSELECT=Const(1, 1), i_CLOCK=ClockSignal("sync"),
                i_STANDBY=Const(0, 1), i_SLEEP=Const(0, 1), i_POWEROFF=Const(1, 1), o_DATAOUT=data)
            value = data if n == 0 else Mux(read_select == n, data, value)
        # the blocks' outputs multiplexed, then registered: one register per bit, packed with its
        # multiplexer's logic cell (a register per block before the multiplexer took a cell per bit each)
        registered = Signal(SPRAM_WIDTH, name="spram_data")
        m.d.sync += registered.eq(value)
        m.d.comb += self.rdata.eq(registered[:self._width].as_signed())
        return m
