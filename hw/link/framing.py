"""Framing of the host link: SLIP decoding and encoding, the frame CRC, and the receive buffers.

Between the blocks frames travel as streams of :data:`FRAME_TOKEN`: a *data* token per body byte
and one *end* token per frame (``end`` = 1, ``data`` unused). On the receive side the end token's
``error`` says the frame was damaged below the CRC (SLIP or UART); on the transmit side ``error``
is ignored. The wire format is that of :mod:`modsnn.hw.link.protocol`.

Receive path::

    UartRx ─► SlipDecoder ─► FrameReceiver (CRC check, ``slots`` frame buffers) ─► command layer

Transmit path::

    command layer ─► CrcAppender ─► SlipEncoder ─► UartTx
"""


from amaranth.hdl import Array, Assert, Cat, Module, Mux, Signal, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from ..params import rejected
from .protocol import CRC_ALGORITHM, CRC_BYTES, HEADER_BYTES, SLIP_END, SLIP_ESC, SLIP_ESC_END, SLIP_ESC_ESC, Status
from .uart import RX_BYTE

__all__ = ["COLLISION_UNUSED", "FRAME_TOKEN", "CrcAppender", "FrameBufferSignature", "FrameReceiver", "SlipDecoder",
           "SlipEncoder", "StreamRegister"]

FRAME_TOKEN = data.StructLayout({"data": 8, "end": 1, "error": 1})
#: The receiver's frame buffers (a slot being filled is never the one the command layer reads:
#: asserted), so the iCE40 build drops the memory's read-first emulation.
COLLISION_UNUSED = ("frames",)


class SlipDecoder(wiring.Component):
    """SLIP decoder (RFC 1055): wire bytes (END-delimited frames) → data and end tokens.

    Ports: ``i`` (in, stream of :data:`~modsnn.hw.link.uart.RX_BYTE`), ``o`` (out, stream of
    :data:`FRAME_TOKEN`).

    Behaviour, per input byte ``b``: END ends the frame: an end token, ``error`` set when an escape
    was still open or the frame had a bad escape (ESC followed by anything but ESC_END or ESC_ESC)
    or a byte with the UART ``error`` flag. ESC opens an escape (no token); after it ESC_END and
    ESC_ESC yield END and ESC data tokens. Any other byte is a data token. Exactly the PyPI
    ``sliplib`` decoding of every well-formed frame; never locks up; an empty frame (END END) gives
    a bare end token.

    Latency 0 (each byte yields at most one token, combinationally); throughput 1 byte per cycle;
    ``i.ready = o.ready`` when the byte yields a token, else 1.
    """

    i: In(stream.Signature(RX_BYTE))
    o: Out(stream.Signature(FRAME_TOKEN))

    def elaborate(self, platform: object) -> Module:
        m = Module()
        escaped = Signal()                 # the previous byte was ESC
        error = Signal()                   # a UART error or a bad escape in this frame so far
        byte = self.i.payload.data
        end, escape = byte == SLIP_END, byte == SLIP_ESC
        bad = escaped & (byte != SLIP_ESC_END) & (byte != SLIP_ESC_ESC)
        damaged = error | self.i.payload.error | bad
        m.d.comb += [self.o.valid.eq(self.i.valid & (end | ~escape | escaped)),
                     self.o.payload.data.eq(Mux(escaped, Mux(byte[0], SLIP_ESC, SLIP_END), byte)),
                     self.o.payload.end.eq(end),
                     self.o.payload.error.eq(end & damaged),
                     self.i.ready.eq(self.o.ready | ~self.o.valid)]
        with m.If(self.i.valid & self.i.ready):
            m.d.sync += [escaped.eq(escape & ~escaped & ~end), error.eq(~end & damaged)]
        return m


class SlipEncoder(wiring.Component):
    """SLIP encoder: data and end tokens → wire bytes, each frame followed by END.

    Ports: ``i`` (in, stream of :data:`FRAME_TOKEN`; ``error`` ignored), ``o`` (out, stream of bytes).

    Behaviour: a data byte END or ESC goes out as ESC ESC_END or ESC ESC_ESC, any other byte as
    itself; an end token as END (``sliplib.encode(body)`` followed by END). Latency 0;
    throughput 1 token per cycle, 2 cycles for an escaped byte.
    """

    i: In(stream.Signature(FRAME_TOKEN))
    o: Out(stream.Signature(8))

    def elaborate(self, platform: object) -> Module:
        m = Module()
        second = Signal()                  # the escaped byte's second half is due
        token = self.i.payload
        special = ~token.end & ((token.data == SLIP_END) | (token.data == SLIP_ESC))
        m.d.comb += [self.o.valid.eq(self.i.valid),
                     self.o.payload.eq(Mux(token.end, SLIP_END, Mux(special, Mux(second, Mux(
                         token.data[0], SLIP_ESC_ESC, SLIP_ESC_END), SLIP_ESC), token.data))),
                     self.i.ready.eq(self.o.ready & (second | ~special))]
        with m.If(self.o.valid & self.o.ready & special):
            m.d.sync += second.eq(~second)
        return m


class StreamRegister(wiring.Component):
    """A skid buffer on a stream of :data:`FRAME_TOKEN`: registers in both directions (it cuts the
    combinational paths between the command executor and the CRC and SLIP logic: the reply
    multiplexer forward, the ``ready`` chain backward).

    Ports: ``i``, ``o``. ``o`` is a register; ``i.ready`` is a register (``¬skid.valid``). Latency 1;
    throughput 1 token per cycle; a token offered while ``o`` is stalled waits in the skid register.
    Tokens leave in the order they came, unchanged.
    """

    i: In(stream.Signature(FRAME_TOKEN))
    o: Out(stream.Signature(FRAME_TOKEN))

    def elaborate(self, platform: object) -> Module:
        m = Module()
        skid_valid = Signal()
        skid = Signal(FRAME_TOKEN)
        m.d.comb += self.i.ready.eq(~skid_valid)
        with m.If(~self.o.valid | self.o.ready):                # o moves on: from the skid first
            with m.If(skid_valid):
                m.d.sync += [self.o.valid.eq(1), self.o.payload.eq(skid), skid_valid.eq(0)]
            with m.Else():
                m.d.sync += [self.o.valid.eq(self.i.valid), self.o.payload.eq(self.i.payload)]
        with m.Elif(self.i.valid & ~skid_valid):                # o stalled: keep the offered token
            m.d.sync += [skid_valid.eq(1), skid.eq(self.i.payload)]
        return m


class CrcAppender(wiring.Component):
    """Appends the frame CRC (:data:`~modsnn.hw.link.protocol.CRC_ALGORITHM`) to every frame.

    Ports: ``i``, ``o`` (streams of :data:`FRAME_TOKEN`).

    Behaviour: data tokens pass unchanged and enter the CRC; an end token is preceded by the two
    CRC bytes, most significant first (so that the CRC over body and CRC is the residue), after
    which the CRC restarts. Latency 0 (combinational pass-through); throughput 1 token per cycle
    plus 2 cycles per frame.
    """

    i: In(stream.Signature(FRAME_TOKEN))
    o: Out(stream.Signature(FRAME_TOKEN))

    def elaborate(self, platform: object) -> Module:
        m = Module()
        m.submodules.crc = crc = CRC_ALGORITHM(data_width=8).create()
        with m.FSM(init="data"):
            with m.State("data"):
                with m.If(self.i.valid & self.i.payload.end):
                    m.next = "high"
                with m.Else():
                    m.d.comb += [self.o.valid.eq(self.i.valid), self.o.payload.eq(self.i.payload),
                                 self.i.ready.eq(self.o.ready), crc.data.eq(self.i.payload.data),
                                 crc.valid.eq(self.i.valid & self.o.ready)]
            with m.State("high"):
                m.d.comb += [self.o.valid.eq(1), self.o.payload.data.eq(crc.crc[8:])]
                with m.If(self.o.ready):
                    m.next = "low"
            with m.State("low"):
                m.d.comb += [self.o.valid.eq(1), self.o.payload.data.eq(crc.crc[:8])]
                with m.If(self.o.ready):
                    m.next = "end"
            with m.State("end"):
                m.d.comb += [self.o.valid.eq(1), self.o.payload.end.eq(1), self.i.ready.eq(self.o.ready)]
                with m.If(self.o.ready):
                    m.d.comb += crc.start.eq(1)
                    m.next = "data"
        return m


class FrameBufferSignature(wiring.Signature):
    """A received frame, seen from the receiver (``Out`` members) and read by the command layer.

    * ``valid`` — a frame is waiting; ``length`` bytes of it are stored (body and CRC, at most
      ``slot_bytes``); ``status`` — the receiver's verdict (:class:`~modsnn.hw.link.protocol.Status`:
      ``OK``, ``FRAMING``, ``OVERSIZE``, ``BAD_LENGTH`` or ``BAD_CRC``);
    * ``addr`` (in) → ``data``: byte ``addr`` of the frame, one cycle later;
    * ``done`` (in) — a one-cycle strobe: the frame was handled, its buffer is free.
    """

    def __init__(self, slot_bytes: int) -> None:
        self.slot_bytes = slot_bytes
        super().__init__({"valid": Out(1), "length": Out(range(slot_bytes + 1)), "status": Out(Status),
                          "addr": In(range(slot_bytes)), "data": Out(8), "done": In(1)})


class FrameReceiver(wiring.Component):
    """Checks and buffers received frames: ``slots`` buffers of ``slot_bytes`` bytes in one memory.

    Ports: ``i`` (in, stream of :data:`FRAME_TOKEN`, from the decoder), ``frame`` (out,
    :class:`FrameBufferSignature`: the oldest buffered frame, in order of arrival).

    Behaviour: data tokens are stored (the first ``slot_bytes`` of them) and enter the CRC. An end
    token closes the frame with a verdict, the first that applies: ``FRAMING`` (the token's error),
    ``OVERSIZE`` (more than ``slot_bytes`` data tokens), ``BAD_LENGTH`` (fewer than 4),
    ``BAD_CRC`` (the CRC over body and CRC is not the residue), else ``OK``; the buffer is handed to
    the command layer and the next one filled. A clean empty frame is dropped. While every buffer
    is waiting for the command layer, ``i.ready`` is low.

    Latency: ``frame.valid`` 1 cycle after the end token. Throughput: one data token per 9 cycles
    (the CRC is bit-serial), an end token per cycle.
    """

    def __init__(self, slot_bytes: int, slots: int = 2) -> None:
        if not isinstance(slot_bytes, int) or slot_bytes < 16 or slot_bytes & (slot_bytes - 1):
            raise rejected(self, ValueError(f"slot_bytes must be a power of two ≥ 16, not {slot_bytes!r}"))
        if not isinstance(slots, int) or slots < 2 or slots & (slots - 1):
            raise rejected(self, ValueError(f"slots must be a power of two ≥ 2, not {slots!r}"))
        self._slot_bytes, self._slots = slot_bytes, slots
        super().__init__({"i": In(stream.Signature(FRAME_TOKEN)), "frame": Out(FrameBufferSignature(slot_bytes))})

    @property
    def slot_bytes(self) -> int:
        return self._slot_bytes

    @property
    def slots(self) -> int:
        return self._slots

    def elaborate(self, platform: object) -> Module:
        N, S = self._slot_bytes, self._slots
        m = Module()
        m.submodules.frames = buffer = Memory(shape=unsigned(8), depth=N * S, init=[])
        # The CRC runs bit-serially (8 cycles per byte, most significant bit first, as the
        # non-reflected algorithm consumes a byte): bytes arrive at most once per UART frame.
        m.submodules.crc = crc = CRC_ALGORITHM(data_width=1).create()
        wr, rd = buffer.write_port(), buffer.read_port()
        count = Signal(range(N + 2))                       # data tokens of this frame, saturating at N + 1
        log_n = N.bit_length() - 1
        # bit tests, as count ≤ N + 1 < 2N and N is a power of two (N + 1 is odd): count ≥ N, count = N + 1
        stored_all, over = count[log_n], count[log_n] & count[0]
        wslot, rslot = Signal(range(S)), Signal(range(S))
        full = Signal(S)
        lengths = Array(Signal(range(N + 1), name=f"length{s}") for s in range(S))
        statuses = Array(Signal(Status, name=f"status{s}") for s in range(S))
        bits = Signal(8)                                   # the byte entering the CRC, MSB first
        pending = Signal(range(9))                         # its bits still to enter

        m.d.comb += [crc.data.eq(bits[7]), crc.valid.eq(pending != 0)]
        with m.If(pending != 0):
            m.d.sync += [bits.eq(bits << 1), pending.eq(pending - 1)]

        token = self.i.payload
        started = Signal()                                 # count ≠ 0: a data token of this frame came
        empty = token.end & ~token.error & ~started
        m.d.comb += self.i.ready.eq((pending == 0) & (empty | ~full.bit_select(wslot, 1)))
        # address and data are don't-care unless written: driven unconditionally (no gating logic)
        m.d.comb += [wr.addr.eq(Cat(count[:log_n], wslot)), wr.data.eq(token.data)]
        with m.If(self.i.valid & self.i.ready):
            with m.If(~token.end):
                m.d.comb += wr.en.eq(~stored_all)
                m.d.sync += [bits.eq(token.data), pending.eq(8), started.eq(1)]
                with m.If(~over):
                    m.d.sync += count.eq(count + 1)
            with m.Elif(~empty):
                status = Signal(Status)
                with m.If(token.error):
                    m.d.comb += status.eq(Status.FRAMING)
                with m.Elif(over):
                    m.d.comb += status.eq(Status.OVERSIZE)
                with m.Elif(count < HEADER_BYTES + CRC_BYTES):
                    m.d.comb += status.eq(Status.BAD_LENGTH)
                with m.Elif(~crc.match_detected):
                    m.d.comb += status.eq(Status.BAD_CRC)
                with m.Else():
                    m.d.comb += status.eq(Status.OK)
                m.d.comb += crc.start.eq(1)
                m.d.sync += [lengths[wslot].eq(count), statuses[wslot].eq(status), full.bit_select(wslot, 1).eq(1),
                             wslot.eq(wslot + 1), count.eq(0), started.eq(0)]
                with m.If(over):
                    m.d.sync += lengths[wslot].eq(N)

        frame = self.frame
        m.d.comb += [frame.valid.eq(full.bit_select(rslot, 1)), frame.length.eq(lengths[rslot]),
                     frame.status.eq(statuses[rslot]), rd.addr.eq(Cat(frame.addr, rslot)), frame.data.eq(rd.data)]
        with m.If(frame.done):
            m.d.sync += [full.bit_select(rslot, 1).eq(0), rslot.eq(rslot + 1)]
        # a frame is written only into a free slot, never the one being read (COLLISION_UNUSED)
        m.d.comb += Assert(~(wr.en & (wr.addr == rd.addr) & frame.valid), "a frame slot was written while read")
        return m

