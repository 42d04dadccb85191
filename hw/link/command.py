"""The command layer of the host link: checks a buffered request, then masters the control port.

:class:`CommandExecutor` takes the oldest frame from the :class:`~modsnn.hw.link.framing.FrameReceiver`,
parses its first ``REQUEST`` bytes, decides its status exactly as
:func:`~modsnn.hw.link.protocol.check_request` does, replies with the header and — only when the status
is ``OK`` — executes it on the accelerator's ``bus`` and streams the reply payload. The whole frame
has been received and checked before the first bus access, so a refused frame changes nothing.
"""

from __future__ import annotations

import functools
import operator
from types import SimpleNamespace
from typing import Any

from amaranth.hdl import Cat, Const, Module, Mux, Signal, Value, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from ...golden_model.config import Config
from ..control_port import Command, Csr
from ..formats import Region, formats_for
from ..memory_map import address_windows, mmio_address
from ..params import rejected
from ..spram import is_ice40_up
from .framing import FRAME_TOKEN, FrameBufferSignature
from .protocol import (
    ARGS_BYTES,
    CRC_BYTES,
    HEADER_BYTES,
    REQUEST,
    SAMPLE_ARGS,
    SIZE_CODE,
    START_TIMEOUT,
    WORD_FORMAT,
    LinkLimits,
    Opcode,
    Status,
)

__all__ = ["CommandExecutor", "control_bus"]


def control_bus(address: data.Layout) -> wiring.Signature:
    """The accelerator's control port as its master sees it: ``addr`` (``address``), ``wdata``,
    ``we``, ``re`` out; ``rdata`` in."""
    return wiring.Signature({"addr": Out(address), "wdata": Out(32), "we": Out(1), "re": Out(1), "rdata": In(32)})


class CommandExecutor(wiring.Component):
    """Executes checked requests on the accelerator's control port.

    Ports:

    * ``frame`` (in, :class:`~modsnn.hw.link.framing.FrameBufferSignature`) — the oldest received frame;
    * ``reply`` (out, stream of :data:`~modsnn.hw.link.framing.FRAME_TOKEN`) — reply bodies (header,
      payload) each closed by an end token; the CRC and SLIP are added downstream;
    * ``bus`` (out, :func:`control_bus`) — master of the accelerator's control port: one access per
      ``we``/``re`` cycle; ``rdata`` holds the answer from ``bus_read_latency`` cycles after ``re``
      until the next answer;
    * ``busy`` (in) — the accelerator is running a sample;
    * ``error`` (out) — the last reply's status was not ``OK`` (for a LED).

    Per frame: 11 cycles to parse the request, 1 to check it, the 3 header bytes, then the opcode's
    work, one bus access per word: a ``WRITE`` word of ``s`` bytes takes ``2s + 1`` cycles, a
    ``READ`` word ``1 + bus_read_latency + s`` (both plus reply back-pressure); a ``SAMPLE`` writes
    its inputs (3 cycles each), ``LABEL`` and ``COMMAND``, waits up to :data:`START_TIMEOUT` cycles
    for ``busy`` to rise and then for it to fall, and reads its reply registers. The frame buffer is
    released when the end token has been handed downstream.
    """

    def __init__(self, cfg: Config, limits: LinkLimits, identity: bytes, *, bus_read_latency: int = 1) -> None:
        if not isinstance(cfg, Config):
            raise rejected(self, TypeError(f"cfg must be a modsnn Config, not {cfg!r}"))
        if not isinstance(bus_read_latency, int) or isinstance(bus_read_latency, bool) or bus_read_latency < 1:
            raise rejected(self, ValueError(f"bus_read_latency must be an integer ≥ 1, not {bus_read_latency!r}"))
        self._cfg, self._limits, self._identity = cfg, limits, bytes(identity)
        self._latency = bus_read_latency
        self._fmt = fmt = formats_for(cfg)
        if fmt.mmio_address.size > 32:
            raise rejected(self, ValueError(f"the control-port address has {fmt.mmio_address.size} bits; "
                                            f"the link carries at most 32"))
        super().__init__({
            "frame": In(FrameBufferSignature(limits.slot_bytes)),
            "reply": Out(stream.Signature(FRAME_TOKEN)),
            "bus": Out(control_bus(fmt.mmio_address)),
            "busy": In(1),
            "error": Out(1),
        })

    @property
    def bus_read_latency(self) -> int:
        return self._latency

    def elaborate(self, platform: object) -> Module:
        m = Module()
        v = SimpleNamespace(cfg=self._cfg, limits=self._limits, fmt=self._fmt, layout=self._fmt.mmio_address,
                            frame=self.frame, reply=self.reply, bus=self.bus, ice40=is_ice40_up(platform))
        self._decode(m, v)
        self._field_checks(m, v)
        self._verdict(m, v)
        self._step_table(m, v)
        self._word_engine(m, v)
        with m.FSM(init="idle"):
            self._request_states(m, v)
            self._word_states(m, v)
        return m

    def _decode(self, m: Module, v: SimpleNamespace) -> None:
        """The request's fields, decoded as the bytes arrive (``v.parsed``: request byte → the loads
        ``parse`` makes when it arrives).

        No copy of the request is kept: in ``parse`` each byte goes straight into the register that
        uses it (the address into ``addr``, the count into ``left``, the format into ``size_code`` and
        ``signed``; the word engine starts from them) or into the few facts the checks need (which
        opcode, bits above the address or count register set, reserved bits set, the sample's mode
        and flags), and the opcode and ``seq`` the reply echoes into ``echo``. Bytes beyond a short
        frame are whatever the buffer holds, as before: they only decide checks that the length
        check, which comes first, has already failed.
        """
        cfg, limits, layout, frame = v.cfg, v.limits, v.layout, v.frame
        # request byte `index − 2` in `parse`: the block RAM's output registered before any decode
        # (an ECP5 DP16KD answers ~6 ns after the clock; the decode after it missed 100 MHz)
        byte = Signal(8, name="request_byte")
        m.d.sync += byte.eq(frame.data)
        parsed: dict[int, list[Any]] = {k: [] for k in range(REQUEST.size // 8)}  # request byte → its loads

        def take(at: int, width: int, into: Value | None, rest: Signal | None = None) -> None:
            """Request bits ``at`` … ``at + width`` (LSB first): the first ``len(into)`` into ``into``,
            the OR of the others into ``rest``."""
            keep, first = len(into) if into is not None else 0, True
            for k in range(at // 8, (at + width - 1) // 8 + 1):
                lo, hi = max(at, 8 * k) - at, min(at + width, 8 * k + 8) - at     # field bits in byte k
                if into is not None and lo < keep:
                    parsed[k].append(into[lo:min(hi, keep)].eq(byte[lo + at - 8 * k:min(hi, keep) + at - 8 * k]))
                if rest is not None and hi > keep:
                    part = byte[max(lo, keep) + at - 8 * k:hi + at - 8 * k].any()
                    parsed[k].append(rest.eq(part if first else rest | part))
                    first = False

        def byte_of(*path: str) -> int:
            at = _offset(REQUEST, *path)
            assert at % 8 == 0
            return at // 8

        # which opcode (one-hot; none: unknown)
        is_op = {op: Signal(name=f"is_{op.name.lower()}") for op in Opcode}
        parsed[byte_of("header", "opcode")] += [is_op[op].eq(byte == op.value) for op in Opcode]
        # the opcode and seq the reply echoes (0 where the frame was shorter): registers, not the frame
        # buffer read again (an ECP5 DP16KD answers ~6 ns after the clock: read into the reply, that
        # missed 100 MHz)
        echo = [Signal(8, name="echo_opcode"), Signal(8, name="echo_seq")]
        parsed[byte_of("header", "opcode")].append(echo[0].eq(byte & frame.length.any().replicate(8)))
        parsed[byte_of("header", "seq")].append(echo[1].eq(byte & frame.length[1:].any().replicate(8)))
        # BLOCK_ARGS: the start address into `addr`, the count into `left`, the format into
        # `size_code` and `signed`. A count ≥ slot_bytes can never fit a frame or a reply, so the
        # length and address arithmetic below runs on the low bits of `count` only; `huge` makes
        # such a count fail where the reference (`check_request`) fails it on the full value.
        addr = Signal(layout)                      # current bus address; `offset` steps per word
        count_bits = (limits.slot_bytes - 1).bit_length()
        left = Signal(count_bits)                  # words left, ≥ 1 while an operation runs (< slot_bytes)
        size_code, signed = Signal(2), Signal()
        above, huge, reserved = Signal(), Signal(), Signal()
        take(_offset(REQUEST, "args", "block", "address"), 32, addr.as_value(), above)
        take(_offset(REQUEST, "args", "block", "count"), 16, left, huge)
        fmt_at = _offset(REQUEST, "args", "block", "format")
        take(fmt_at + WORD_FORMAT["size"].offset, 2, size_code)
        take(fmt_at + WORD_FORMAT["reserved"].offset, 5, None, reserved)
        take(fmt_at + WORD_FORMAT["signed"].offset, 1, signed)
        # SAMPLE_ARGS: the mode's two legal values, TRAIN's label in range, the flags
        infer, train, label_ok, flags_reserved = Signal(), Signal(), Signal(), Signal()
        flags = Signal(data.StructLayout({"cycles": 1, "counts": 1, "levels": 1}))
        parsed[byte_of("args", "sample", "mode")] += [infer.eq(byte == Command.INFER), train.eq(byte == Command.TRAIN)]
        parsed[byte_of("args", "sample", "label")].append(label_ok.eq(_below(byte, cfg.n_classes)))
        take(_offset(REQUEST, "args", "sample", "flags"), 8, flags.as_value(), flags_reserved)
        v.__dict__.update(parsed=parsed, is_op=is_op, echo=echo, flags=flags, addr=addr, left=left, size_code=size_code,
                          signed=signed, count_bits=count_bits, above=above, huge=huge, reserved=reserved,
                          infer=infer, train=train, label_ok=label_ok, flags_reserved=flags_reserved)

    def _field_checks(self, m: Module, v: SimpleNamespace) -> None:
        """The checks of :func:`~.protocol.check_request`, combinational on the decoded fields, each a
        flag (``v.checks``: known opcode, length, argument, address, needs an idle accelerator)."""
        cfg, limits, layout, is_op = v.cfg, v.limits, v.layout, v.is_op
        count, size_code, huge, count_bits = v.left, v.size_code, v.huge, v.count_bits
        received = v.frame.length                  # body and CRC

        def body_is(value: Value | int) -> Value:
            return received == value + CRC_BYTES
        nbytes = Signal(count_bits + 3)
        m.d.comb += nbytes.eq(count << size_code)
        start = v.addr
        # the window: `hit` when the address falls in one; its attributes matter only then, so they
        # are decoded from the fewest key bits that tell the windows apart
        windows = address_windows(cfg)
        hit = ~v.above & Cat(*((start.as_value() & w.key_mask(cfg)) == w.base(cfg) for w in windows)).any()
        size = Signal(unsigned(max(w.size for w in windows).bit_length()))
        readable, writable, read_while_busy = Signal(), Signal(), Signal()
        with m.Switch(start.as_value()):
            for window, pattern in zip(windows, _window_patterns(cfg, layout.size), strict=True):
                with m.Case(pattern):
                    m.d.comb += [size.eq(window.size), readable.eq(window.readable),
                                 writable.eq(window.writable), read_while_busy.eq(window.read_while_busy)]
        in_window = hit & (start.offset + count <= size)
        # a READ reply over `max_data` bytes: `count << size > max_data`, per size (3 is refused anyway)
        over = [~_below(count, (limits.max_data >> s) + 1) for s in range(3)]     # count << s > max_data
        too_long = Mux(size_code[1], over[2], Mux(size_code[0], over[1], over[0]))
        bad_format = (size_code == 3) | v.reserved | ((count == 0) & ~huge)
        fixed = {op: HEADER_BYTES + ARGS_BYTES[op] for op in Opcode}
        mode_ok = v.infer | (v.train & v.label_ok)
        known = Cat(*is_op.values()).any()
        length_ok = ((is_op[Opcode.IDENTIFY] | is_op[Opcode.STATUS]) & body_is(HEADER_BYTES)) | \
            (is_op[Opcode.READ] & body_is(fixed[Opcode.READ])) | \
            (is_op[Opcode.WRITE] & ~huge & body_is(fixed[Opcode.WRITE] + nbytes)) | \
            (is_op[Opcode.SAMPLE] & (body_is(fixed[Opcode.SAMPLE]) | body_is(fixed[Opcode.SAMPLE] + cfg.n_inputs)))
        bad_argument = (is_op[Opcode.READ] & (bad_format | huge | too_long)) | (is_op[Opcode.WRITE] & bad_format) | \
            (is_op[Opcode.SAMPLE] & (~mode_ok | v.flags_reserved))
        bad_address = (is_op[Opcode.READ] & ~(in_window & readable)) | (is_op[Opcode.WRITE] & ~(in_window & writable))
        needs_idle = (is_op[Opcode.READ] & ~read_while_busy) | is_op[Opcode.WRITE] | is_op[Opcode.SAMPLE]
        v.__dict__.update(checks=Cat(known, length_ok, bad_argument, bad_address, needs_idle), body_is=body_is,
                          fixed=fixed)

    def _verdict(self, m: Module, v: SimpleNamespace) -> None:
        """The request's status (``v.verdict``), in :func:`~.protocol.check_request`'s order: the
        frame's own status, then the first failed check, then ``BUSY``.

        The checks are registered before the verdict (a window match, a size multiplexer and a
        comparator in one cycle with the verdict's priority chain limited the clock): the request is
        complete in ``settle``, the verdict is taken in ``check``."""
        frame = v.frame
        status = Signal(Status)
        checked = Signal.like(v.checks)
        m.d.sync += checked.eq(v.checks)
        known, length_ok, bad_argument, bad_address, needs_idle = checked
        verdict = Signal(Status)
        with m.If(frame.status != Status.OK):
            m.d.comb += verdict.eq(frame.status)
        with m.Elif(~known):
            m.d.comb += verdict.eq(Status.UNKNOWN_COMMAND)
        with m.Elif(~length_ok):
            m.d.comb += verdict.eq(Status.BAD_LENGTH)
        with m.Elif(bad_argument):
            m.d.comb += verdict.eq(Status.BAD_ARGUMENT)
        with m.Elif(bad_address):
            m.d.comb += verdict.eq(Status.BAD_ADDRESS)
        with m.Elif(self.busy & needs_idle):
            m.d.comb += verdict.eq(Status.BUSY)
        with m.Else():
            m.d.comb += verdict.eq(Status.OK)

        v.__dict__.update(status=status, verdict=verdict)

    def _step_table(self, m: Module, v: SimpleNamespace) -> None:
        """The bus operations of ``STATUS`` and of the steps of a ``SAMPLE``."""
        cfg, limits, layout, flags, body_is, count_bits = v.cfg, v.limits, v.layout, v.flags, v.body_is, v.count_bits
        # ------------------------------------------------------------ the operation table
        # Every bus operation is (kind, first address, words, size code, first frame byte of a write).
        # READ and WRITE take theirs from the request; STATUS and the steps of a SAMPLE from this
        # table, indexed by `step` (a SAMPLE runs steps 0 … 8 in order, skipping those whose
        # condition is false, then finishes; STATUS runs step 4 alone).
        def csr(register: Csr) -> int:
            return mmio_address(cfg, Region.CSR, int(register))

        sample_at = HEADER_BYTES + ARGS_BYTES[Opcode.SAMPLE]
        mode_at = HEADER_BYTES + SAMPLE_ARGS_LAYOUT_OFFSETS["mode"]
        label_at = HEADER_BYTES + SAMPLE_ARGS_LAYOUT_OFFSETS["label"]
        has_inputs = body_is(sample_at + cfg.n_inputs)
        steps = [  # (kind, address, words, size code, frame byte, condition)
            (_WRITE, mmio_address(cfg, Region.INPUT, 0), cfg.n_inputs, 0, sample_at, has_inputs),
            (_WRITE, csr(Csr.LABEL), 1, 0, label_at, 1),
            (_RUN, csr(Csr.COMMAND), 1, 0, mode_at, 1),
            (_HEADER, 0, 1, 0, 0, 1),
            (_READ, csr(Csr.COMMAND), 1, 0, 0, 1),
            (_READ, csr(Csr.PREDICTION), 1, 0, 0, 1),
            (_READ, csr(Csr.CYCLES_INTEGRATION), 4, SIZE_CODE[4], 0, flags.cycles),
            (_READ, csr(Csr.COUNT), cfg.n_classes, SIZE_CODE[limits.count_bytes], 0, flags.counts),
            (_READ, csr(Csr.LEVEL), cfg.n_classes, SIZE_CODE[limits.level_bytes], 0, flags.levels),
        ]
        status_step = 4
        step = Signal(range(16))
        kind = Signal(range(_FINISH + 1))             # of table step `step`
        op = Signal(range(_FINISH + 1))               # of the running operation
        table = {"address": Signal(layout.size), "words": Signal(count_bits), "size": Signal(2),
                 "at": Signal(range(limits.slot_bytes)), "enabled": Signal()}
        with m.Switch(step):
            for k, (op_kind, address, words, code, at, condition) in enumerate(steps):
                with m.Case(k):
                    m.d.comb += [kind.eq(op_kind), table["address"].eq(address), table["words"].eq(words),
                                 table["size"].eq(code), table["at"].eq(at), table["enabled"].eq(condition)]
            with m.Default():
                m.d.comb += [kind.eq(_FINISH), table["enabled"].eq(1)]

        v.__dict__.update(status_step=status_step, step=step, kind=kind, op=op, table=table, has_inputs=has_inputs)

    def _word_engine(self, m: Module, v: SimpleNamespace) -> None:
        """Address, word and byte registers of the running operation; the ``IDENTIFY`` ROM."""
        limits, bus, is_op = v.limits, v.bus, v.is_op
        addr, size_code, signed = v.addr, v.size_code, v.signed
        # ------------------------------------------------------------ the word engine
        # (`addr`, `left`, `size_code` and `signed` are loaded by `parse` and by the step table)
        wword = Signal(32)                         # write word, byte `nbyte` filled from the frame
        nbyte = Signal(2)                          # bytes of this word done
        latency = Signal(range(self._latency))
        index = Signal(range(limits.slot_bytes))   # parse, header, identity: byte; writes: next frame byte
        timer = Signal(range(START_TIMEOUT + 1))
        last_byte = Signal(2)
        m.d.comb += last_byte.eq((Const(1, 4) << size_code) - 1)

        # a write word is sign- (``signed``) or zero-extended from its size
        sign = signed & Mux(size_code == 0, wword[7], wword[15])
        m.d.comb += [bus.addr.eq(addr), bus.wdata.eq(Cat(
            wword[:8],
            Mux(size_code == 0, sign.replicate(8), wword[8:16]),
            Mux(size_code == 2, wword[16:], sign.replicate(16))))]

        # the IDENTIFY reply: a ROM, in block RAM on the iCE40 UP5K (LUTs are scarcer than block RAM
        # once the weights live in SPRAM; as logic it would take about 32 LUT4), in logic elsewhere (a
        # lone block RAM is placed far from the reply path, and its 5.6 ns clock-to-output is slow)
        m.submodules.identity = rom = Memory(shape=unsigned(8), depth=len(self._identity), init=self._identity,
                                             attrs={"ram_style": "block"} if v.ice40 else {})
        rom_rd = rom.read_port()                   # synchronous: data of `rom_rd.addr` one cycle later

        def finished() -> None:
            with m.If(is_op[Opcode.SAMPLE]):
                m.next = "next"
            with m.Else():
                m.next = "finish"

        v.__dict__.update(wword=wword, nbyte=nbyte, latency=latency, index=index, timer=timer, last_byte=last_byte,
                          rom_rd=rom_rd, finished=finished)

    def _request_states(self, m: Module, v: SimpleNamespace) -> None:
        """idle → parse → settle → check → header; ``IDENTIFY``; the ``SAMPLE`` step sequencer."""
        frame, reply, parsed, is_op, status = v.frame, v.reply, v.parsed, v.is_op, v.status
        fixed, verdict, status_step, step, kind = v.fixed, v.verdict, v.status_step, v.step, v.kind
        op, table, addr, left, size_code, signed, nbyte = v.op, v.table, v.addr, v.left, v.size_code, v.signed, v.nbyte
        index, rom_rd = v.index, v.rom_rd
        m.d.comb += self.error.eq(status != Status.OK)  # the last reply's: `status` changes in `check` only
        with m.State("idle"):                  # frame.addr is 0: byte 0 is read before `parse`
            m.d.sync += index.eq(1)
            with m.If(frame.valid):
                m.next = "parse"
        with m.State("parse"):
            m.d.comb += frame.addr.eq(index)
            m.d.sync += index.eq(index + 1)
            with m.Switch(index):                # frame.data is byte `index - 1`, `byte` byte `index - 2`
                for k, loads in parsed.items():
                    with m.Case(k + 2):
                        m.d.sync += loads
            with m.If(index == REQUEST.size // 8 + 1):
                m.next = "settle"
        with m.State("settle"):                 # the request's checks are registered
            m.next = "check"
        with m.State("check"):
            m.d.sync += [status.eq(verdict), index.eq(0), step.eq(0)]
            with m.If((verdict == Status.OK) & is_op[Opcode.SAMPLE]):
                m.next = "next"                 # a SAMPLE sends its header after the run
            with m.Else():
                m.next = "header"
        with m.State("header"):                  # opcode and seq echoed, then the status
            m.d.comb += [reply.valid.eq(1),
                         reply.payload.data.eq(Mux(index[1], status, Mux(index[0], v.echo[1], v.echo[0])))]
            with m.If(reply.ready):
                m.d.sync += index.eq(index + 1)
                with m.If(index == 2):
                    m.d.sync += index.eq(0)
                    with m.If(status != Status.OK):
                        m.next = "finish"
                    with m.Elif(is_op[Opcode.IDENTIFY]):
                        m.next = "identity"
                    with m.Elif(is_op[Opcode.STATUS]):
                        m.d.sync += step.eq(status_step)
                        m.next = "next"
                    with m.Elif(is_op[Opcode.READ]):   # addr, left, size_code: the request's, from `parse`
                        m.d.sync += nbyte.eq(0)
                        m.next = "rd_issue"
                    with m.Elif(is_op[Opcode.WRITE]):  # … and signed
                        m.d.sync += [nbyte.eq(0), index.eq(fixed[Opcode.WRITE])]
                        m.next = "wr_fetch"
                    with m.Else():
                        m.next = "next"          # SAMPLE: the steps after its header
        with m.State("identity"):                # rom_rd.addr was 0 in the header state
            m.d.comb += [reply.valid.eq(1), reply.payload.data.eq(rom_rd.data), rom_rd.addr.eq(index)]
            with m.If(reply.ready):
                m.d.comb += rom_rd.addr.eq(index + 1)
                m.d.sync += index.eq(index + 1)
                with m.If(index == len(self._identity) - 1):
                    m.next = "finish"
        with m.State("next"):                   # start the operation of table step `step`
            m.d.sync += [step.eq(step + 1), op.eq(kind), addr.eq(table["address"]), left.eq(table["words"]),
                         size_code.eq(table["size"]), signed.eq(0), index.eq(table["at"]), nbyte.eq(0)]
            with m.If(table["enabled"]):
                with m.Switch(kind):
                    with m.Case(_WRITE, _RUN):
                        m.next = "wr_fetch"
                    with m.Case(_READ):
                        m.next = "rd_issue"
                    with m.Case(_HEADER):
                        m.next = "header"
                    with m.Default():
                        m.next = "finish"

    def _word_states(self, m: Module, v: SimpleNamespace) -> None:
        """Bus writes and reads word by word, a sample's run, the end token."""
        frame, reply, bus, op = v.frame, v.reply, v.bus, v.op
        addr, left, wword = v.addr, v.left, v.wword
        nbyte, latency, index = v.nbyte, v.latency, v.index
        timer, last_byte, finished = v.timer, v.last_byte, v.finished
        # ---- writes: fetch the word's bytes from the frame, then one bus write
        with m.State("wr_fetch"):
            m.d.comb += frame.addr.eq(index)
            m.next = "wr_byte"
        with m.State("wr_byte"):
            m.d.sync += [wword.word_select(nbyte, 8).eq(frame.data), index.eq(index + 1), nbyte.eq(nbyte + 1)]
            with m.If(nbyte == last_byte):
                m.d.sync += nbyte.eq(0)
                m.next = "wr_issue"
            with m.Else():
                m.next = "wr_fetch"
        with m.State("wr_issue"):
            m.d.comb += bus.we.eq(1)
            m.d.sync += [addr.offset.eq(addr.offset + 1), left.eq(left - 1), timer.eq(START_TIMEOUT)]
            with m.If(left != 1):
                m.next = "wr_fetch"
            with m.Elif(op == _RUN):
                m.next = "run_start"
            with m.Else():
                finished()
        # ---- reads: one bus read, then the word's low bytes into the reply (``rdata`` holds the
        # answer until the next read)
        with m.State("rd_issue"):
            m.d.comb += bus.re.eq(1)
            m.d.sync += latency.eq(self._latency - 1)
            m.next = "rd_wait"
        with m.State("rd_wait"):
            with m.If(latency == 0):                # the answer is on rdata from the next cycle
                m.next = "rd_emit"
            with m.Else():
                m.d.sync += latency.eq(latency - 1)
        with m.State("rd_emit"):
            m.d.comb += [reply.valid.eq(1), reply.payload.data.eq(bus.rdata.word_select(nbyte, 8))]
            with m.If(reply.ready):
                m.d.sync += nbyte.eq(nbyte + 1)
                with m.If(nbyte == last_byte):
                    m.d.sync += [nbyte.eq(0), addr.offset.eq(addr.offset + 1), left.eq(left - 1)]
                    with m.If(left == 1):
                        finished()
                    with m.Else():
                        m.next = "rd_issue"
        # ---- a sample runs: wait for busy to rise (or time out: refused), then to fall
        with m.State("run_start"):
            m.d.sync += timer.eq(timer - 1)
            with m.If(self.busy):
                m.next = "run_wait"
            with m.Elif(timer == 0):
                m.next = "next"
        with m.State("run_wait"):
            with m.If(~self.busy):
                m.next = "next"
        with m.State("finish"):
            m.d.comb += [reply.valid.eq(1), reply.payload.end.eq(1)]
            with m.If(reply.ready):
                m.d.comb += frame.done.eq(1)
                m.next = "idle"



_WRITE, _READ, _RUN, _HEADER, _FINISH = range(5)   # kinds of table steps
SAMPLE_ARGS_LAYOUT_OFFSETS = {name: SAMPLE_ARGS[name].offset // 8 for name in ("mode", "label", "flags")}


def _offset(layout: data.Layout, *path: str) -> int:
    """The bit offset of the field ``path`` in ``layout``."""
    at = 0
    for name in path:
        field = layout[name]
        at, layout = at + field.offset, field.shape
    return at


def _below(x: Value, bound: int) -> Value:
    """``x < bound`` for a constant ``bound``, as logic (LUTs, not a carry chain): from the LSB up,
    ``x[:i+1] < bound[:i+1]`` is ``¬x[i] ∨ below`` where the bound's bit is 1, ``¬x[i] ∧ below`` where 0."""
    if bound <= 0:
        return Const(0)
    if bound >= 1 << len(x):
        return Const(1)
    below: Value = Const(0)
    for i in range(len(x)):
        below = (~x[i] | below) if (bound >> i) & 1 else (~x[i] & below)
    return below


def _window_patterns(cfg: Config, width: int) -> list[str]:
    """A ``Case`` pattern per address window (``width`` address bits) that tells an address inside
    that window from one inside any other: the key bits common to all windows where their bases
    differ, if those suffice, else each window's whole key."""
    windows = address_windows(cfg)
    common = functools.reduce(operator.and_, (w.key_mask(cfg) for w in windows))
    differ = functools.reduce(operator.or_, ((w.base(cfg) ^ windows[0].base(cfg)) & common for w in windows))
    if len({w.base(cfg) & differ for w in windows}) < len(windows):
        masks = [w.key_mask(cfg) for w in windows]
    else:
        masks = [differ] * len(windows)
    return ["".join("-" if not (mask >> i) & 1 else str((w.base(cfg) >> i) & 1) for i in reversed(range(width)))
            for w, mask in zip(windows, masks, strict=True)]
