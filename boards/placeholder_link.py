"""PLACEHOLDER host link for board builds, until ``HostLink`` (``hw/link/``) is merged.

It exists so that a board bitstream holds the whole accelerator (every control-port input is
driven from the UART, every output is observable) and can be poked by hand. It is NOT the host
link of issue 7: no framing, no CRC, no status, no batch mode. Raw register access over 8N1 serial:

* ``'w'`` (0x77), address (``A`` bytes, little-endian: the bits of ``Formats.mmio_address``,
  ``A = ceil(bits / 8)``), data (4 bytes, little-endian) → one bus write; reply ``'k'``;
* ``'r'`` (0x72), address (``A`` bytes) → one bus read; reply the 4 data bytes, little-endian;
* any other first byte → ignored, ``error`` goes high until the next valid command.

The board top (:mod:`modsnn.boards.top`) uses it through :data:`LinkFactory`: any component with
``rx: In(1)``, ``tx: Out(1)``, ``error: Out(1)`` and ``bus`` (the accelerator's control port,
flipped) plugs in the same way, which is how ``HostLink`` will replace this class.

UART: ``divisor`` clocks per bit; the receiver synchronises ``rx`` (two flip-flops), waits for a
start bit, samples every bit in its middle and drops a byte whose stop bit is low.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Module, Mux, Signal, Value
from amaranth.lib import wiring
from amaranth.lib.cdc import FFSynchronizer
from amaranth.lib.wiring import In, Out

__all__ = ["PlaceholderLink"]

WRITE, READ, ACK = 0x77, 0x72, 0x6B


class PlaceholderLink(wiring.Component):
    """Raw bus access over a UART (see module docstring); ``bus_signature`` is the accelerator's
    control-port signature seen from the initiator (``addr``, ``wdata``, ``we``, ``re`` outputs),
    ``divisor`` the clocks per bit (≥ 4)."""

    def __init__(self, bus_signature: wiring.Signature, divisor: int) -> None:
        if not isinstance(divisor, int) or divisor < 4:
            raise ValueError(f"divisor must be an integer ≥ 4 clocks per bit, not {divisor!r}")
        self._divisor = divisor
        super().__init__({"rx": In(1), "tx": Out(1), "error": Out(1), "bus": Out(bus_signature)})

    def elaborate(self, platform: object) -> Module:
        m = Module()
        div = self._divisor
        # ---------------- receiver
        rx = Signal(init=1)
        m.submodules.rx_sync = FFSynchronizer(self.rx, rx, init=1)
        rx_timer = Signal(range(div + div // 2 + 1))
        rx_bits = Signal(range(10))
        rx_shift = Signal(8)
        rx_byte, rx_valid = Signal(8), Signal()
        with m.FSM(name="uart_rx"):
            with m.State("idle"):
                with m.If(~rx):
                    m.d.sync += [rx_timer.eq(div + div // 2 - 1), rx_bits.eq(0)]   # to the middle of bit 0
                    m.next = "bits"
            with m.State("bits"):
                m.d.sync += rx_timer.eq(rx_timer - 1)
                with m.If(rx_timer == 0):
                    m.d.sync += [rx_timer.eq(div - 1), rx_bits.eq(rx_bits + 1)]
                    with m.If(rx_bits == 8):                                   # stop bit
                        m.d.comb += [rx_valid.eq(rx), rx_byte.eq(rx_shift)]
                        m.next = "idle"
                    with m.Else():
                        m.d.sync += rx_shift.eq(Cat(rx_shift[1:], rx))
        # ---------------- transmitter: 10-bit frames (start, 8 data LSB first, stop)
        tx_shift = Signal(10, init=0x3FF)
        tx_timer = Signal(range(div))
        tx_left = Signal(range(11))
        tx_start, tx_byte = Signal(), Signal(8)
        m.d.comb += self.tx.eq(tx_shift[0])
        with m.If(tx_left != 0):
            m.d.sync += tx_timer.eq(tx_timer - 1)
            with m.If(tx_timer == 0):
                m.d.sync += [tx_timer.eq(div - 1), tx_shift.eq(Cat(tx_shift[1:], 1)), tx_left.eq(tx_left - 1)]
        with m.Elif(tx_start):
            m.d.sync += [tx_shift.eq(Cat(0, tx_byte, 1)), tx_timer.eq(div - 1), tx_left.eq(10)]
        # ---------------- command decoder: one shift register holds {address, data}; bytes enter at
        # the top, so after a write's A + 4 bytes the address is in the low 8·A bits and the data
        # above it (a read shifts in 4 zero bytes instead of data); the reply leaves from the data field
        A = (len(Value.cast(self.bus.addr)) + 7) // 8
        shift = Signal(8 * (A + 4))
        address, data = shift[:8 * A], shift[8 * A:]
        count = Signal(range(A + 5))
        is_write = Signal()
        with m.FSM(name="command"):
            with m.State("opcode"):
                with m.If(rx_valid):
                    m.d.sync += [count.eq(0), is_write.eq(rx_byte == WRITE), self.error.eq(0)]
                    with m.If((rx_byte == WRITE) | (rx_byte == READ)):
                        m.next = "operands"
                    with m.Else():
                        m.d.sync += self.error.eq(1)
            with m.State("operands"):
                pad = ~is_write & (count >= A)                        # a read: shift in zeros for the data
                with m.If(rx_valid | pad):
                    m.d.sync += [count.eq(count + 1), shift.eq(Cat(shift[8:], Mux(pad, 0, rx_byte)))]
                    with m.If(count == A + 3):
                        m.next = "access"
            with m.State("access"):
                m.d.comb += [self.bus.addr.eq(address), self.bus.wdata.eq(data), self.bus.we.eq(is_write),
                             self.bus.re.eq(~is_write)]
                m.d.sync += count.eq(0)
                m.next = "ack"
                with m.If(~is_write):
                    m.next = "capture"
            with m.State("capture"):                                           # rdata is valid now
                m.d.sync += data.eq(self.bus.rdata)
                m.next = "reply"
            with m.State("ack"):
                with m.If(tx_left == 0):
                    m.d.comb += [tx_start.eq(1), tx_byte.eq(ACK)]
                    m.next = "opcode"
            with m.State("reply"):
                with m.If(tx_left == 0):
                    m.d.comb += [tx_start.eq(1), tx_byte.eq(data[:8])]
                    m.d.sync += [shift.eq(shift >> 8), count.eq(count + 1)]
                    with m.If(count == 3):
                        m.next = "opcode"
        return m
