"""UART receiver and transmitter: 8 data bits, no parity, 1 stop bit, least significant bit first.

Both count ``divisor`` clock cycles per bit (``divisor = round(clock_hz / baud)``, see
:func:`baud_divisor`). The line idles high; a frame on the wire is a start bit (0), the eight data
bits, and a stop bit (1).
"""


from amaranth.hdl import Cat, Const, Module, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.cdc import FFSynchronizer
from amaranth.lib.wiring import In, Out

from ..params import rejected

__all__ = ["MAX_BAUD_ERROR", "MIN_DIVISOR", "RX_BYTE", "UartRx", "UartTx", "baud_divisor"]

MIN_DIVISOR = 4
"""Fewest clock cycles per bit: mid-bit sampling needs a bit at least 4 cycles long."""
MAX_BAUD_ERROR = 0.02
"""Largest relative difference between the requested and the generated baud rate."""

RX_BYTE = data.StructLayout({"data": 8, "error": 1})
"""A received byte; ``error``: its stop bit was 0 (framing error or break), or the previous byte
was still unread when this one completed (overrun: that byte was lost)."""


def baud_divisor(clock_hz: int, baud: int) -> int:
    """Clock cycles per bit for ``baud`` at ``clock_hz``: the nearest integer, refused (``ValueError``
    naming clock, baud and error) when it is below :data:`MIN_DIVISOR` or when the baud rate it
    generates is off by :data:`MAX_BAUD_ERROR` or more."""
    for name, value in (("clock_hz", clock_hz), ("baud", baud)):
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            raise TypeError(f"{name} must be a positive integer, not {value!r}")
    divisor = max(1, round(clock_hz / baud))
    if divisor < MIN_DIVISOR:
        raise ValueError(f"baud {baud} at clock {clock_hz} Hz is {clock_hz / baud:.2f} clock cycles per bit; "
                         f"the UART needs at least {MIN_DIVISOR}")
    error = abs(clock_hz / divisor - baud) / baud
    if error >= MAX_BAUD_ERROR:
        raise ValueError(f"baud {baud} at clock {clock_hz} Hz: the nearest divisor {divisor} gives "
                         f"{clock_hz / divisor:.0f} baud, an error of {error:.2%} (must be below "
                         f"{MAX_BAUD_ERROR:.0%})")
    return divisor


class _Uart(wiring.Component):
    """A UART block clocked at ``divisor`` cycles per bit (an integer ≥ :data:`MIN_DIVISOR`)."""

    def __init__(self, divisor: int) -> None:
        if not isinstance(divisor, int) or isinstance(divisor, bool) or divisor < MIN_DIVISOR:
            raise rejected(self, ValueError(f"divisor must be an integer ≥ {MIN_DIVISOR}, not {divisor!r}"))
        self._divisor = divisor
        super().__init__()

    @property
    def divisor(self) -> int:
        """Clock cycles per bit."""
        return self._divisor


class UartRx(_Uart):
    """UART receiver.

    Ports:

    * ``rx`` (in) — the serial line, asynchronous to the clock: it passes a 2-flip-flop
      synchroniser (reset value 1, the idle level) before anything looks at it.
    * ``o`` (out, stream of :data:`RX_BYTE`) — one item per received byte. The receiver cannot be
      stalled: an item not taken before the next byte completes is replaced by it, flagged ``error``.

    Behaviour: a low level seen while idle starts a byte; ``divisor // 2`` cycles later the start
    bit is sampled again (high: a glitch, ignored); then every ``divisor`` cycles one data bit is
    sampled (mid-bit) and finally the stop bit. A stop bit of 0 flags ``error`` and the receiver
    waits for the line to go high before it looks for the next start bit (a break yields one
    byte). The receiver hunts for the next start bit right after sampling the stop bit, so it
    tolerates a transmitter up to about ±(``divisor//2 − 2``)/(``9.5·divisor``) off in baud.

    Latency: ``o.valid`` rises 2 + ``divisor//2`` + 9·``divisor`` (+1) cycles after the falling edge
    of the start bit. Throughput: one byte per 10 bit times.
    """

    rx: In(1, init=1)
    o: Out(stream.Signature(RX_BYTE))

    def elaborate(self, platform: object) -> Module:
        D = self._divisor
        m = Module()
        line = Signal(init=1)
        m.submodules.sync = FFSynchronizer(self.rx, line, init=1)
        timer = Signal(range(D))
        bits = Signal(range(8))
        shift = Signal(8)

        with m.If(self.o.valid & self.o.ready):
            m.d.sync += self.o.valid.eq(0)
        with m.If(timer != 0):
            m.d.sync += timer.eq(timer - 1)
        with m.FSM(init="idle"):
            with m.State("idle"):
                with m.If(~line):
                    m.d.sync += timer.eq(D // 2 - 1)
                    m.next = "start"
            with m.State("start"):
                with m.If(timer == 0):
                    with m.If(line):
                        m.next = "idle"                     # a glitch, not a start bit
                    with m.Else():
                        m.d.sync += [timer.eq(D - 1), bits.eq(0)]
                        m.next = "data"
            with m.State("data"):
                with m.If(timer == 0):
                    m.d.sync += [shift.eq(Cat(shift[1:], line)), timer.eq(D - 1), bits.eq(bits + 1)]
                    with m.If(bits == 7):
                        m.next = "stop"
            with m.State("stop"):
                with m.If(timer == 0):
                    overrun = self.o.valid & ~self.o.ready
                    m.d.sync += [self.o.valid.eq(1), self.o.payload.data.eq(shift),
                                 self.o.payload.error.eq(~line | overrun)]
                    with m.If(line):
                        m.next = "idle"
                    with m.Else():
                        m.next = "break"
            with m.State("break"):
                with m.If(line):
                    m.next = "idle"
        return m


class UartTx(_Uart):
    """UART transmitter.

    Ports:

    * ``i`` (in, stream of bytes) — accepted while the transmitter is idle.
    * ``tx`` (out) — the serial line, driven straight from a flip-flop (idle 1).

    Behaviour: an accepted byte is sent as start bit, 8 data bits (LSB first) and stop bit, each
    ``divisor`` cycles long. Latency: the start bit begins the cycle after ``i`` is accepted.
    Throughput: one byte per ``10·divisor + 1`` cycles (the stop bit is one cycle longer when bytes
    follow back to back).
    """

    i: In(stream.Signature(8))
    tx: Out(1, init=1)

    def elaborate(self, platform: object) -> Module:
        D = self._divisor
        m = Module()
        shift = Signal(10, init=(1 << 10) - 1)              # LSB is on the line
        left = Signal(range(11))                            # bits still to finish
        timer = Signal(range(D))
        m.d.comb += [self.tx.eq(shift[0]), self.i.ready.eq(left == 0)]
        with m.If(self.i.valid & self.i.ready):
            m.d.sync += [shift.eq(Cat(Const(0, 1), self.i.payload, Const(1, 1))), left.eq(10), timer.eq(D - 1)]
        with m.Elif(left != 0):
            with m.If(timer == 0):
                m.d.sync += [shift.eq(Cat(shift[1:], Const(1, 1))), left.eq(left - 1), timer.eq(D - 1)]
            with m.Else():
                m.d.sync += timer.eq(timer - 1)
        return m
