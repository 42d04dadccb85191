"""The host link: UART, SLIP framing with CRC, and the command layer, joined by streams.

::

    rx ─► UartRx ─► SlipDecoder ─► FrameReceiver ─► CommandExecutor ─► bus (the accelerator's control port)
    tx ◄─ UartTx ◄─ SlipEncoder ◄─ CrcAppender ◄──────────┘

:class:`LinkCore` is everything but the UART (byte streams in and out); :class:`HostLink` adds the
UART for a board's serial pins. The protocol is :mod:`modsnn.hw.link.protocol`.
"""

from __future__ import annotations

from amaranth.hdl import Module
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from ...golden_model.config import Config
from ..formats import formats_for
from ..params import rejected
from .command import CommandExecutor, control_bus
from .framing import CrcAppender, FrameReceiver, SlipDecoder, SlipEncoder, StreamRegister
from .protocol import LinkLimits, identity_bytes, link_limits
from .uart import RX_BYTE, UartRx, UartTx, baud_divisor

__all__ = ["HostLink", "LinkCore"]


class LinkCore(wiring.Component):
    """Framing and command layer of the host link, on byte streams.

    Parameters: ``cfg`` (the accelerator's configuration: memory map, ID ROM, buffer sizes),
    ``clock_hz`` and ``divisor`` (only reported by ``IDENTIFY``), ``bus_read_latency`` (cycles from
    ``re`` to valid ``rdata`` on the accelerator's port; 1 in v1), ``slots`` (receive buffers, a
    power of two ≥ 2: the host may keep that many requests outstanding).

    Ports: ``rx`` (in, stream of :data:`~modsnn.hw.link.uart.RX_BYTE`: wire bytes with their UART
    error flag), ``tx`` (out, stream of wire bytes), ``bus`` (out, the control port), ``busy`` (in,
    the accelerator's), ``error`` (out, the last reply was an error).

    Latency of a reply: the request's last byte, 1 cycle to the receive buffer, the command layer's
    time (:class:`~modsnn.hw.link.command.CommandExecutor`), one register stage
    (:class:`~modsnn.hw.link.framing.StreamRegister`), CRC and SLIP (combinational), then the UART:
    the command layer sends its reply at the line's rate (the UART holds one byte). Throughput: the
    command layer works on one frame while the receiver fills the other buffers; a frame's reply
    is sent before the next frame is taken, so back-to-back requests run at the rate of the slower
    of the link and the accelerator, plus the reply's time on the line per frame.
    """

    def __init__(self, cfg: Config, *, clock_hz: int, divisor: int, bus_read_latency: int = 1,
                 slots: int = 2) -> None:
        if not isinstance(cfg, Config):
            raise rejected(self, TypeError(f"cfg must be a modsnn Config, not {cfg!r}"))
        try:
            self._limits = link_limits(cfg, slots)
        except ValueError as error:
            raise rejected(self, error) from None
        if not isinstance(bus_read_latency, int) or isinstance(bus_read_latency, bool) or bus_read_latency < 1:
            raise rejected(self, ValueError(f"bus_read_latency must be an integer ≥ 1, not {bus_read_latency!r}"))
        self._cfg = cfg
        self._identity = identity_bytes(cfg, self._limits, clock_hz=clock_hz, divisor=divisor,
                                        read_latency=bus_read_latency)
        self._latency = bus_read_latency
        super().__init__({
            "rx": In(stream.Signature(RX_BYTE)),
            "tx": Out(stream.Signature(8)),
            "bus": Out(control_bus(formats_for(cfg).mmio_address)),
            "busy": In(1),
            "error": Out(1),
        })

    @property
    def limits(self) -> LinkLimits:
        return self._limits

    @property
    def identity(self) -> bytes:
        """The ``IDENTIFY`` reply payload."""
        return self._identity

    def elaborate(self, platform: object) -> Module:
        m = Module()
        m.submodules.decoder = decoder = SlipDecoder()
        m.submodules.receiver = receiver = FrameReceiver(self._limits.slot_bytes, self._limits.slots)
        m.submodules.executor = executor = CommandExecutor(self._cfg, self._limits, self._identity,
                                                           bus_read_latency=self._latency)
        m.submodules.crc = appender = CrcAppender()
        m.submodules.encoder = encoder = SlipEncoder()
        wiring.connect(m, wiring.flipped(self.rx), decoder.i)
        wiring.connect(m, decoder.o, receiver.i)
        wiring.connect(m, receiver.frame, executor.frame)
        m.submodules.reply = reply = StreamRegister()
        wiring.connect(m, executor.reply, reply.i)
        wiring.connect(m, reply.o, appender.i)
        wiring.connect(m, appender.o, encoder.i)
        wiring.connect(m, encoder.o, wiring.flipped(self.tx))
        wiring.connect(m, executor.bus, wiring.flipped(self.bus))
        m.d.comb += [executor.busy.eq(self.busy), self.error.eq(executor.error)]
        return m


class HostLink(wiring.Component):
    """The host link on a board's serial pins: :class:`LinkCore` behind a UART.

    Parameters as :class:`LinkCore`, with ``baud`` instead of a divisor: ``clock_hz / baud`` must be
    within 2 % of an integer divisor ≥ 4 (:func:`~modsnn.hw.link.uart.baud_divisor`), else
    ``ValueError`` naming clock, baud and error.

    Ports: ``rx`` (in, the serial line from the host, idle 1), ``tx`` (out, to the host),
    ``bus``, ``busy``, ``error`` as :class:`LinkCore`.
    """

    def __init__(self, cfg: Config, *, clock_hz: int, baud: int, bus_read_latency: int = 1, slots: int = 2) -> None:
        try:
            self._divisor = baud_divisor(clock_hz, baud)
        except (TypeError, ValueError) as error:
            raise rejected(self, error) from None
        try:
            self._core = LinkCore(cfg, clock_hz=clock_hz, divisor=self._divisor, bus_read_latency=bus_read_latency,
                                  slots=slots)
        except (TypeError, ValueError) as error:
            raise rejected(self, error) from None
        self._clock_hz = clock_hz
        super().__init__({
            "rx": In(1, init=1),
            "tx": Out(1, init=1),
            "bus": Out(control_bus(formats_for(cfg).mmio_address)),
            "busy": In(1),
            "error": Out(1),
        })

    @property
    def divisor(self) -> int:
        """Clock cycles per bit."""
        return self._divisor

    @property
    def limits(self) -> LinkLimits:
        return self._core.limits

    @property
    def identity(self) -> bytes:
        return self._core.identity

    def elaborate(self, platform: object) -> Module:
        m = Module()
        m.submodules.core = core = self._core
        m.submodules.uart_rx = uart_rx = UartRx(self._divisor)
        m.submodules.uart_tx = uart_tx = UartTx(self._divisor)
        m.d.comb += [uart_rx.rx.eq(self.rx), self.tx.eq(uart_tx.tx)]
        wiring.connect(m, uart_rx.o, core.rx)
        wiring.connect(m, core.tx, uart_tx.i)
        wiring.connect(m, core.bus, wiring.flipped(self.bus))
        m.d.comb += [core.busy.eq(self.busy), self.error.eq(core.error)]
        return m
