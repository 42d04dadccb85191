"""Framing of the host link: COBS decoding and encoding, the frame CRC, and the receive buffers.

Between the blocks frames travel as streams of :data:`FRAME_TOKEN`: a *data* token per body byte
and one *end* token per frame (``end`` = 1, ``data`` unused). On the receive side the end token's
``error`` says the frame was damaged below the CRC (COBS or UART); on the transmit side ``error``
is ignored. The wire format is that of :mod:`modsnn.hw.link.protocol`.

Receive path::

    UartRx ─► CobsDecoder ─► FrameReceiver (CRC check, ``slots`` frame buffers) ─► command layer

Transmit path::

    command layer ─► CrcAppender ─► CobsEncoder ─► UartTx
"""


from amaranth.hdl import Array, Assert, Cat, Module, Mux, Signal, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from ..params import rejected
from .protocol import CRC_ALGORITHM, CRC_BYTES, HEADER_BYTES, Status
from .uart import RX_BYTE

__all__ = ["COLLISION_UNUSED", "FRAME_TOKEN", "CobsDecoder", "CobsEncoder", "CrcAppender", "FrameBufferSignature",
           "FrameReceiver", "StreamRegister"]

FRAME_TOKEN = data.StructLayout({"data": 8, "end": 1, "error": 1})
#: The receiver's frame buffers (a slot being filled is never the one the command layer reads) and
#: the encoder's ring (a slot written is never one whose read data ``o`` shows the next cycle): both
#: asserted, so the iCE40 build drops the memories' read-first emulation.
COLLISION_UNUSED = ("frames", "ring")


class CobsDecoder(wiring.Component):
    """COBS decoder: wire bytes (0x00-delimited frames) → data and end tokens.

    Ports: ``i`` (in, stream of :data:`~modsnn.hw.link.uart.RX_BYTE`), ``o`` (out, stream of
    :data:`FRAME_TOKEN`).

    Behaviour, per input byte ``b``: ``b = 0`` ends the frame: an end token, ``error`` set when a
    COBS block was still open (the frame was cut short) or any byte of the frame carried the UART
    ``error`` flag. Otherwise, when a code byte is due, ``b`` is the next code: it yields a 0x00 data
    token if the previous block's code was below 0xFF (nothing otherwise), and ``b − 1`` data bytes
    follow; else ``b`` is a data token. Decoding is exactly the PyPI ``cobs`` package's ``decode`` on
    every well-formed frame, frame by frame; the decoder never locks up, and an empty frame
    (0x00 0x00) gives a bare end token.

    Latency 0 (each input byte yields at most one token, combinationally); throughput 1 byte per
    cycle; ``i.ready = o.ready`` when the byte yields a token, else 1.
    """

    i: In(stream.Signature(RX_BYTE))
    o: Out(stream.Signature(FRAME_TOKEN))

    def elaborate(self, platform: object) -> Module:
        m = Module()
        left = Signal(8)                   # 1 + data bytes left in the current block; 0 or 1: a code byte is due
        zero_due = Signal()                # the previous block's code was < 0xFF: a 0x00 precedes the next
        error = Signal()                   # a UART error in this frame so far
        byte = self.i.payload.data
        damaged = error | self.i.payload.error
        delimiter, code = byte == 0, left[1:] == 0
        m.d.comb += [self.o.valid.eq(self.i.valid & (delimiter | ~code | zero_due)),
                     self.o.payload.data.eq(Mux(code, 0, byte)),      # a delimiter's byte is 0 anyway
                     self.o.payload.end.eq(delimiter),
                     self.o.payload.error.eq(delimiter & (damaged | ~code)),
                     self.i.ready.eq(self.o.ready | ~self.o.valid)]
        with m.If(self.i.valid & self.i.ready):
            with m.If(delimiter):
                m.d.sync += [left.eq(0), zero_due.eq(0), error.eq(0)]
            with m.Elif(code):
                m.d.sync += [left.eq(byte), zero_due.eq(byte != 0xFF), error.eq(damaged)]
            with m.Else():
                m.d.sync += [left.eq(left - 1), error.eq(damaged)]
        return m


class CobsEncoder(wiring.Component):
    """COBS encoder: data and end tokens → wire bytes, each frame followed by a 0x00 delimiter.

    Ports: ``i`` (in, stream of :data:`FRAME_TOKEN`; ``error`` ignored), ``o`` (out, stream of bytes).

    Behaviour: the output of a frame is ``cobs.encode(body) + b"\\x00"`` (PyPI ``cobs``). The
    encoder is a 256-byte ring that is also the output FIFO: non-zero data bytes are *staged* behind
    a reserved slot for their block's code byte; a block is *committed* (its code written, the
    write pointer moved past it) on a 0x00 data token, on the end token, or when a data token
    arrives with 254 bytes staged (code 0xFF; that token waits). Committed bytes drain to ``o``
    while the next block is staged, so a reply of up to 254 bytes never waits for the line.

    Latency: a block's bytes leave from 2 cycles after its commit (non-zero bytes wait for their
    block to close: up to 254 tokens). Throughput: 1 token per cycle while the ring has room.
    """

    i: In(stream.Signature(FRAME_TOKEN))
    o: Out(stream.Signature(8))

    def elaborate(self, platform: object) -> Module:
        m = Module()
        m.submodules.ring = ring = Memory(shape=unsigned(8), depth=256, init=[])
        wr, rd = ring.write_port(), ring.read_port()
        # Slots count modulo 256; every write (a staged byte, a code, a delimiter) moves `at` on by one.
        w = Signal(8)                  # the current block's code slot; everything before it is committed
        staged = Signal(8, init=1)     # the code of the current block if it closed now
        at = Signal(8, init=1)         # w + staged: the slot of the next data byte
        r = Signal(8)                  # next byte to output
        ahead = Signal(9, init=1)      # at − r, from 1 to 510 (the bytes in the ring, plus the next slot)
        room = ~ahead[8]               # slot `at` (hence every slot up to it) is < 256 bytes past `r`
        pop = self.o.valid & self.o.ready
        down = pop & ~wr.en
        m.d.sync += [at.eq(at + wr.en), ahead.eq(ahead + Cat(wr.en ^ pop, down.replicate(8))),
                     r.eq(r + pop)]

        token = self.i.payload
        delimiter = Signal()           # the frame's blocks are committed: its 0x00 delimiter is due at `w`
        full = staged == 0xFF          # 254 bytes staged: the block closes (code 0xFF) and the token waits
        close = token.end | full | (token.data == 0)               # a data-phase write commits the block
        m.d.comb += [wr.en.eq(room & (delimiter | self.i.valid)),
                     wr.addr.eq(Mux(delimiter | close, w, at)),    # the code or delimiter slot, else `at`
                     wr.data.eq(Mux(delimiter, 0, Mux(close, staged, token.data))),
                     self.i.ready.eq(~delimiter & self.i.valid & room & (token.end | ~full))]
        with m.If(wr.en):
            with m.If(delimiter | close):                         # commit: `w` moves past the written slot
                m.d.sync += w.eq(at)                              # (the delimiter's: `staged` is 1)
            with m.If(~delimiter):
                m.d.sync += [staged.eq(Mux(close, 1, staged + 1)), delimiter.eq(token.end)]
            with m.Else():
                m.d.sync += delimiter.eq(0)

        # o.valid: a committed byte waits, i.e. `r` is behind `w` as it was one cycle earlier (so the
        # read port never hands out a slot that was being written). As 0 ≤ w − r ≤ 255 (writes need
        # `room`), that is the comparison modulo 256 of last cycle's `w` with this cycle's `r`
        # (`rd.addr`), kept in one flip-flop rather than a delayed copy of `w`.
        valid_next = Signal()
        m.d.comb += [rd.addr.eq(r + pop), valid_next.eq(w != rd.addr), self.o.payload.eq(rd.data)]
        m.d.sync += self.o.valid.eq(valid_next)
        # a slot is written only where the data read goes unused next cycle (COLLISION_UNUSED)
        m.d.sync += Assert(~(wr.en & (wr.addr == rd.addr) & valid_next), "the ring's read data collided with a write")
        return m


class StreamRegister(wiring.Component):
    """A skid buffer on a stream of :data:`FRAME_TOKEN`: registers in both directions (it cuts the
    combinational paths between the command executor and the CRC and COBS logic: the reply
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
