"""Board top-level: PLL → ``sync`` domain, the accelerator, the host link on the UART pins, LEDs.

::

    board clock ──► PLL (EHXPLLL / SB_PLL40_PAD), an even divider, or nothing (see Clocking)
                     │ lock ──► reset: held while the PLL is unlocked, the board's reset button is
                     ▼           pressed, or (iCE40) for the first ~20 µs, then released in step
                   sync          with the clock (ResetSynchronizer)
    UART rx/tx ◄──► HostLink (hw/link: UART, SLIP, CRC, commands) ◄── bus ──► Accelerator
    LEDs: busy (accelerator busy), error (the link's ``error``), heartbeat (~1 Hz)

The host link runs at the fastest FTDI rate the clock makes (:func:`uart_rate`), its bus reads
with the accelerator's read latency.
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

from amaranth.hdl import ClockDomain, ClockSignal, Const, Instance, Module, Mux, Signal
from amaranth.lib import io, wiring
from amaranth.lib.cdc import ResetSynchronizer

from ..golden_model.config import Config
from ..hw.link.host_link import HostLink
from ..hw.params import rejected
from ..hw.top import Accelerator
from .pll import ecp5_pll, ice40_pll
from .registry import Board

__all__ = ["BAUD_RATES", "BoardTop", "Clocking", "uart_rate"]

POR_SECONDS = 20e-6      # iCE40 block RAMs read 0 for ~3 µs after configuration: hold reset ×5 longer


# Rates every FTDI bridge makes exactly (3 MHz / n), fastest first.
BAUD_RATES = (3_000_000, 2_000_000, 1_500_000, 1_000_000, 500_000, 115_200)


def uart_rate(clock_hz: float, max_baud: int, tolerance: float = 0.02) -> tuple[int, int]:
    """``(baud, divisor)``: the fastest of :data:`BAUD_RATES` up to ``max_baud`` that ``clock_hz``
    makes within ``tolerance`` (relative) with an integer divisor ≥ 4 clocks per bit."""
    for baud in (b for b in BAUD_RATES if b <= max_baud):
        divisor = round(clock_hz / baud)
        if divisor >= 4 and abs(clock_hz / divisor - baud) <= tolerance * baud:
            return baud, divisor
    raise ValueError(f"a {clock_hz / 1e6:g} MHz clock makes none of the UART rates {BAUD_RATES} within "
                     f"{tolerance:.0%}")


class Clocking(wiring.Component):
    """Drives the clock and reset of the ``sync`` domain (defined by the parent) at ``clock_hz``
    from the board clock, with a reset synchronised to it.

    Three ways, chosen from ``clock_hz``: the board clock itself; a PLL (``pll`` holds its
    parameters); or, for a clock below the PLL's output range (16 MHz on iCE40, 10 MHz on ECP5)
    that is the board clock divided by an integer ``k``, a counter whose registered output is high
    for ``ceil(k/2)`` board cycles of every ``k`` (``divider = k``; only rising edges are used, so
    the duty cycle does not matter). That is how today's RTL runs on the UP5K.
    """

    PLL_MIN_HZ: ClassVar[dict[str, float]] = {"ice40": 16e6, "ecp5": 10e6}

    def __init__(self, board: Board, clock_hz: float) -> None:
        self._board, self._clock = board, float(clock_hz)
        self.pll: Any = None
        self.divider: int | None = None
        ratio = board.clock_in / self._clock
        if abs(self._clock - board.clock_in) <= 1e-6 * board.clock_in:
            pass
        elif self._clock < self.PLL_MIN_HZ[board.family] and abs(ratio - round(ratio)) < 1e-6:
            self.divider = round(ratio)
        else:
            make = ecp5_pll if board.family == "ecp5" else ice40_pll
            try:
                self.pll = make(board.clock_in, self._clock)
            except ValueError as error:
                raise rejected(self, error) from None
        self.ticks = Signal(max(8, int(self.frequency).bit_length() - 1))   # wraps about every 1–2 s
        super().__init__({})

    @property
    def frequency(self) -> float:
        """The achieved ``sync`` frequency in Hz."""
        if self.pll is not None:
            return float(self.pll.f_out)
        return self._board.clock_in / self.divider if self.divider else self._clock

    def describe(self) -> dict[str, Any]:
        """How the clock is made, for the build report."""
        if self.pll is not None:
            return {"kind": "pll", **dataclasses.asdict(self.pll)}
        if self.divider:
            return {"kind": "divider", "divide_by": self.divider, "f_in": self._board.clock_in}
        return {"kind": "board clock", "f_in": self._board.clock_in}

    def elaborate(self, platform: Any) -> Module:
        m = Module()
        clk_io = platform.request(platform.default_clk, dir="-")
        locked = Signal()
        clk = Signal(name="sync_clk")
        if self.divider:
            m.submodules.clk_buf = clk_buf = io.Buffer("i", clk_io)
            m.domains.board = ClockDomain("board", reset_less=True)
            m.d.comb += [ClockSignal("board").eq(clk_buf.i), locked.eq(1)]
            k = self.divider
            count = Signal(range(k))
            m.d.board += [count.eq(Mux(count == k - 1, 0, count + 1)), clk.eq(count < (k + 1) // 2)]
        elif self.pll is None:
            m.submodules.clk_buf = clk_buf = io.Buffer("i", clk_io)
            m.d.comb += [clk.eq(clk_buf.i), locked.eq(1)]
        elif self._board.family == "ecp5":
            m.submodules.clk_buf = clk_buf = io.Buffer("i", clk_io)
            m.submodules.pll = Instance(
                "EHXPLLL", **{f"p_{k}": v for k, v in self.pll.parameters().items()},
                a_ICP_CURRENT="12", a_LPF_RESISTOR="8", a_MFG_ENABLE_FILTEROPAMP="1", a_MFG_GMCREF_SEL="2",
                i_CLKI=clk_buf.i, i_CLKFB=clk, o_CLKOP=clk, o_LOCK=locked,
                i_RST=0, i_STDBY=0, i_PHASESEL0=0, i_PHASESEL1=0, i_PHASEDIR=1, i_PHASESTEP=1,
                i_PHASELOADREG=1, i_PLLWAKESYNC=0, i_ENCLKOP=0)
        else:
            m.submodules.pll = Instance(
                "SB_PLL40_PAD", **{f"p_{k}": v for k, v in self.pll.parameters().items()},
                i_PACKAGEPIN=clk_io.io, i_RESETB=1, i_BYPASS=0, o_PLLOUTGLOBAL=clk, o_LOCK=locked)
        # No add_clock_constraint here: Amaranth names the net by one of its aliases, which flattening
        # may not keep (nextpnr then ignores it). The build passes the frequency as nextpnr's --freq,
        # which covers every clock without a constraint of its own; the PLL's output is derived anyway.
        m.d.comb += ClockSignal("sync").eq(clk)

        button = Const(0)
        if platform.default_rst is not None:
            rst_io = platform.request(platform.default_rst, dir="-")
            m.submodules.rst_buf = rst_buf = io.Buffer("i", rst_io)
            button = rst_buf.i
        # One free-running counter that no reset touches (flip-flops start at 0 on both families):
        # its top bit is the ~1 Hz heartbeat, and a sticky flag ends the power-on delay.
        m.domains.free = ClockDomain("free", reset_less=True)
        m.d.comb += ClockSignal("free").eq(clk)
        m.d.free += self.ticks.eq(self.ticks + 1)
        por_cycles = max(1, int(POR_SECONDS * self.frequency)) if self._board.family == "ice40" else 1
        por_done = Signal()
        with m.If(self.ticks == por_cycles):
            m.d.free += por_done.eq(1)
        m.submodules.reset_sync = ResetSynchronizer(~locked | button | ~por_done, domain="sync")
        return m


class BoardTop(wiring.Component):
    """Everything on one board for ``cfg`` at ``clock_hz`` (see the module docstring)."""

    def __init__(self, board: Board, cfg: Config, clock_hz: float | None = None, slots: int = 2) -> None:
        self._board, self._cfg = board, cfg
        try:
            self.clocking = Clocking(board, board.default_clock if clock_hz is None else clock_hz)
            self.baud, self.divisor = uart_rate(self.clocking.frequency, board.baud)
            self.accelerator = Accelerator(cfg)
            self.link = HostLink(cfg, clock_hz=round(self.clocking.frequency), baud=self.baud,
                                 bus_read_latency=Accelerator.bus_read_latency, slots=slots)
        except (TypeError, ValueError) as error:
            for part in ("clocking", "accelerator"):
                if hasattr(self, part):
                    rejected(getattr(self, part), error)
            raise rejected(self, error) from None
        super().__init__({})

    def elaborate(self, platform: Any) -> Module:
        m = Module()
        m.domains.sync = ClockDomain("sync")
        m.submodules.clocking = self.clocking
        m.submodules.accelerator = acc = self.accelerator
        m.submodules.link = link = self.link
        wiring.connect(m, link.bus, acc.bus)
        m.d.comb += link.busy.eq(acc.busy)
        uart = platform.request(*self._board.uart, dir="-")
        m.submodules.uart_rx = uart_rx = io.Buffer("i", uart.rx)
        m.submodules.uart_tx = uart_tx = io.Buffer("o", uart.tx)
        m.d.comb += [link.rx.eq(uart_rx.i), uart_tx.o.eq(link.tx)]

        drive = {"busy": acc.busy, "error": link.error, "heartbeat": self.clocking.ticks[-1]}
        requested: dict[tuple[str, int], Any] = {}
        for role, led in self._board.leds.items():
            key = (led.name, led.number)
            if key not in requested:
                requested[key] = platform.request(led.name, led.number, dir="-")
            port = requested[key] if led.subsignal is None else getattr(requested[key], led.subsignal)
            m.submodules[f"led_{role}"] = buffer = io.Buffer("o", port)
            m.d.comb += buffer.o.eq(drive[role])
        return m
