"""cocotb side of the host link: byte ports into the simulated link, a synchronous
:class:`~modsnn.boards.driver.Transport` over them, and the reference model of what the link must
answer to any byte stream (for the block benches and the fuzzer).

Ports (all ``async``: ``send(data)`` and ``receive(timeout_s) -> bytes``, at least one byte or
``b""`` when nothing arrived within ``timeout_s`` seconds of *simulated* time):

* :class:`UartPins` — bit-level serial on the DUT's pins, as a USB-serial chip drives them; the
  host's bit time may differ from the DUT's (``skew``);
* :class:`HarnessBytes` — bytes through the host-side UARTs of
  :class:`~modsnn.sim.link_harness.LinkHarness` (fast: one clock edge per byte in Python);
* :class:`StreamBytes` — bytes straight into :class:`~modsnn.hw.link.LinkCore`'s streams, under
  random idle and back-pressure.

:class:`SimTransport` makes any of them a blocking transport for the synchronous host driver,
which then runs in a thread started with ``cocotb.task.bridge``.
"""

from __future__ import annotations

import random
from typing import Any

import cocotb
from cocotb.task import bridge, resume
from cocotb.triggers import Event, First, ReadOnly, RisingEdge, Timer, ValueChange
from cocotb.utils import get_sim_time

from ..golden_model.config import Config
from ..hw.link.protocol import (
    SLIP_END,
    SLIP_ESC,
    SLIP_ESC_END,
    SLIP_ESC_ESC,
    LinkLimits,
    Status,
    check_request,
    reply_echo,
)
from .streams import StreamSource

__all__ = ["HarnessBytes", "SimTransport", "StreamBytes", "UartPins", "bridge", "expected_replies",
           "reference_frames"]


class _Receiver:
    """Bytes received from the DUT. A waiter wakes when a frame delimiter (SLIP END, 0xC0) has
    arrived, so a host thread resumes once per reply rather than once per byte."""

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.errors = 0
        self.received_total = 0
        self._arrived = Event()

    def put(self, byte: int, error: bool = False) -> None:
        self.buffer.append(byte)
        self.errors += error
        self.received_total += 1
        if byte == SLIP_END:
            self._arrived.set()

    async def receive(self, timeout_s: float) -> bytes:
        """What arrived up to and including the last delimiter, waiting up to ``timeout_s`` for one;
        after the timeout whatever arrived (possibly nothing)."""
        if SLIP_END not in self.buffer:
            self._arrived.clear()
            await First(self._arrived.wait(), Timer(max(1, round(timeout_s * 1e9)), unit="ns"))
        data = bytes(self.buffer)
        self.buffer.clear()
        return data


class UartPins(_Receiver):
    """Bit-level UART on ``dut.<rx>`` (driven) and ``dut.<tx>`` (sampled mid-bit), 8N1.

    ``bit_ps`` is the DUT's bit time; the host's is ``bit_ps · (1 + skew)``."""

    def __init__(self, dut: Any, bit_ps: int, *, rx: str = "rx_pin", tx: str = "tx_pin", skew: float = 0.0) -> None:
        super().__init__()
        self.rx, self.tx = getattr(dut, rx), getattr(dut, tx)
        self.bit_ps = bit_ps
        self.host_bit_ps = round(bit_ps * (1 + skew))
        self.rx.value = 1
        self.framing_errors = 0
        self.starts: list[float] = []                # simulated time (ps) of every start bit seen
        cocotb.start_soon(self._monitor())

    async def send(self, data: bytes) -> None:
        for byte in data:
            for bit in [0, *((byte >> i) & 1 for i in range(8)), 1]:
                self.rx.value = bit
                await Timer(self.host_bit_ps, unit="ps")

    async def glitch(self, width_ps: int) -> None:
        """Pull the line low for ``width_ps`` (shorter than half a bit: not a start bit)."""
        self.rx.value = 0
        await Timer(width_ps, unit="ps")
        self.rx.value = 1

    async def line_break(self, bits: int) -> None:
        """Hold the line low for ``bits`` bit times."""
        self.rx.value = 0
        await Timer(bits * self.bit_ps, unit="ps")
        self.rx.value = 1
        await Timer(2 * self.bit_ps, unit="ps")

    async def _monitor(self) -> None:
        half = self.host_bit_ps // 2
        while True:
            await ValueChange(self.tx)
            if int(self.tx.value):
                continue
            self.starts.append(get_sim_time("ps"))
            await Timer(self.host_bit_ps + half, unit="ps")
            byte = 0
            for i in range(8):
                byte |= int(self.tx.value) << i
                await Timer(self.host_bit_ps, unit="ps")
            stop = int(self.tx.value)
            self.framing_errors += not stop
            self.put(byte, not stop)


class HarnessBytes(_Receiver):
    """Bytes through :class:`~modsnn.sim.link_harness.LinkHarness`'s host-side UARTs (``pin_mode`` 0)."""

    def __init__(self, dut: Any) -> None:
        super().__init__()
        self.dut = dut
        dut.pin_mode.value = 0
        dut.host_tx__valid.value = 0
        cocotb.start_soon(self._monitor())

    async def send(self, data: bytes) -> None:
        dut = self.dut
        pos = 0
        while pos < len(data):
            await ReadOnly()
            space = int(dut.host_tx_space.value)
            await RisingEdge(dut.clk)
            if space < 2:
                continue
            for byte in data[pos:pos + space - 1]:
                dut.host_tx__payload.value = byte
                dut.host_tx__valid.value = 1
                await RisingEdge(dut.clk)
            pos += space - 1
            dut.host_tx__valid.value = 0

    async def _monitor(self) -> None:
        dut = self.dut
        while True:
            await ValueChange(dut.host_rx_toggle)
            self.put(int(dut.host_rx_data.value), bool(int(dut.host_rx_error.value)))


class StreamBytes(_Receiver):
    """Bytes into ``rx`` (RX_BYTE stream: ``error`` = bit 8) and out of ``tx`` of a
    :class:`~modsnn.sim.link_harness.CoreHarness`, with random idle and back-pressure."""

    def __init__(self, dut: Any, rnd: random.Random, idle: float = 0.0, backpressure: float = 0.0) -> None:
        super().__init__()
        self.dut, self.rnd, self.backpressure = dut, rnd, backpressure
        self.source = StreamSource(dut, "rx", dut.clk, rnd, idle=idle)
        dut.tx__ready.value = 0
        cocotb.start_soon(self._sink())

    async def send(self, data: bytes, errors: set[int] | None = None) -> None:
        """Send ``data``; the bytes at the indices in ``errors`` carry the UART error flag."""
        await self.source.send(byte | (256 if errors and i in errors else 0) for i, byte in enumerate(data))

    async def _sink(self) -> None:
        dut = self.dut
        while True:
            ready = self.rnd.random() >= self.backpressure
            dut.tx__ready.value = int(ready)
            await ReadOnly()
            byte = int(dut.tx__payload.value) if ready and dut.tx__valid.value else None
            await RisingEdge(dut.clk)
            if byte is not None:                     # waiters resume outside the read-only phase
                self.put(byte)


class SimTransport:
    """A blocking :class:`~modsnn.boards.driver.Transport` over an async port; call it only from a
    thread started with :func:`cocotb.task.bridge`. ``sent`` counts the bytes written."""

    def __init__(self, port: Any) -> None:
        self.port = port
        self.sent = 0

    def write(self, data: bytes) -> None:
        self.sent += len(data)
        resume(self.port.send)(bytes(data))

    def read(self, timeout: float) -> bytes:
        return resume(self.port.receive)(timeout)

    def close(self) -> None:
        pass

    def sim_ns(self) -> int:
        """The simulated time, in ns."""
        return resume(_sim_ns)()


async def _sim_ns() -> int:
    return int(get_sim_time("ns"))


# ---------------------------------------------------------------------------------- reference model
def reference_frames(wire: bytes) -> list[tuple[bytes, bool]]:
    """What the link's SLIP decoder makes of ``wire``: per END-terminated frame that decodes to at
    least one byte or is damaged, the decoded bytes and whether it was damaged. Bytes after the last
    END are still in flight.

    A frame is damaged when it has a bad escape (ESC followed by anything but ESC_END or ESC_ESC) or
    ends with an escape open (ESC right before END); exactly the frames that ``sliplib.decode``
    refuses, and every other frame decodes as ``sliplib.decode`` does. The decoded bytes of a
    damaged frame are the decoder's: an escape pair yields one byte, END or ESC by bit 0 of its
    second byte (a bad one included, which closes the escape); an open escape yields nothing."""
    frames = []
    for chunk in wire.split(bytes([SLIP_END]))[:-1]:
        out = bytearray()
        escaped = damaged = False
        for byte in chunk:
            if escaped:
                damaged |= byte not in (SLIP_ESC_END, SLIP_ESC_ESC)
                out.append(SLIP_ESC if byte & 1 else SLIP_END)
                escaped = False
            elif byte == SLIP_ESC:
                escaped = True
            else:
                out.append(byte)
        damaged |= escaped
        if out or damaged:                  # a frame that decodes to nothing is ignored
            frames.append((bytes(out), damaged))
    return frames


def expected_replies(cfg: Config, limits: LinkLimits, wire: bytes, *, busy: bool = False
                     ) -> list[tuple[int, int, Status]]:
    """``(opcode, seq, status)`` of every reply the link owes for ``wire`` (a stream of bytes without
    UART errors), per :func:`~modsnn.hw.link.protocol.check_request`."""
    replies = []
    for received, damaged in reference_frames(wire):
        status = check_request(cfg, limits, received, framing_error=damaged, busy=busy)
        replies.append((*reply_echo(received[:limits.slot_bytes]), status))
    return replies


class RawLink:
    """Frames on an async port, without the driver's checks: for testbenches that send anything."""

    def __init__(self, port: Any, timeout_s: float) -> None:
        self.port, self.timeout_s = port, timeout_s
        self._rx = bytearray()

    async def send(self, wire: bytes) -> None:
        await self.port.send(wire)

    async def reply(self) -> tuple[int, int, Status, bytes]:
        """The next reply: ``(opcode, seq, status, payload)``; ``AssertionError`` on a timeout or a
        reply that is not a well-formed frame."""
        import sliplib

        from ..hw.link.protocol import REPLY_HEADER, crc16, unpack

        while SLIP_END not in self._rx:
            data = await self.port.receive(self.timeout_s)
            assert data, f"no reply within {self.timeout_s * 1e6:g} µs of simulated time"
            self._rx += data
        end = self._rx.index(SLIP_END)
        raw = bytes(self._rx[:end])
        del self._rx[:end + 1]
        assert sliplib.is_valid(raw), f"reply with a bad SLIP escape {raw.hex()}"
        body = sliplib.decode(raw)
        assert len(body) >= 5 and crc16(body[:-2]) == int.from_bytes(body[-2:], "big"), f"bad reply {raw.hex()}"
        head = unpack(REPLY_HEADER, body[:3])
        return int(head.opcode), int(head.seq), Status(int(head.status)), bytes(body[3:-2])

    def pending(self) -> bytes:
        return bytes(self._rx)
