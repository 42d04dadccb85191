"""The formal checks: one wrapper component per block of :mod:`modsnn.hw`, and the check list.

Every wrapper instantiates the real block, drives its inputs from the wrapper's own (free) ports,
constrains them with ``Assume`` where the block's contract says so, and states the properties with
``Assert``. Where an invariant needs a block's internal state, the wrapper elaborates the block
itself and reads a named submodule (never a copy of the block's logic).

Configurations are small so that each proof takes seconds: the ``tiny`` preset (widths of
:mod:`modsnn.hw.params`), whose sizes appear in the property texts.
"""

from amaranth.hdl import Assert, Assume, Cat, Const, Module, Mux, Signal, Value, signed, unsigned
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from ...golden_model.config import Config, load_config
from ...hw.bank import ACC_LATENCY, Bank
from ...hw.core import CORE_LATENCY
from ...hw.dispatcher import Dispatcher
from ...hw.link.framing import FRAME_TOKEN, CrcAppender, SlipDecoder, SlipEncoder
from ...hw.link.protocol import CRC_ALGORITHM, SLIP_END, SLIP_ESC, SLIP_ESC_END, SLIP_ESC_ESC
from ...hw.link.uart import RX_BYTE
from ...hw.modulator import Modulator
from ...hw.neuron import membrane_update, spike_and_boxcar, trace_update
from ...hw.params import bits_for, hw_params
from ...hw.sequencer import Phase, Sequencer
from ...hw.serializer import SpikeSerializer
from .harness import Check
from .properties import handshake_rules, no_reset, past

__all__ = ["CHECKS", "TOY_CHECKS", "check_named"]

# The wrappers declare their ports the Amaranth way, as annotations that wiring.Component evaluates
# (`i: In(stream.Signature(...))`): a call, which mypy cannot read as a type, hence the
# `# type: ignore[valid-type]` on those lines (amaranth has no type information; see pyproject).

#: cycles within which the sequencer's environment answers (done, ~enc_busy) once a phase waits on it
SEQUENCER_ENV_BOUND = 3


def _tiny() -> Config:
    return load_config("tiny")


def _elaborated(dut: wiring.Component, platform: object) -> Module:
    """``dut`` elaborated here, so that the wrapper can reach its named submodules (the returned
    module replaces ``dut`` in the hierarchy; ``dut`` itself is marked as used)."""
    dut._MustUse__silence = True
    inner = dut.elaborate(platform)
    assert isinstance(inner, Module)
    return inner


def _mirror(m: Module, wrapper: wiring.Component, dut: wiring.Component) -> None:
    """Connect every member of ``dut``'s signature to the wrapper's member of the same name (the
    wrapper's inputs drive the block's inputs, the block's outputs drive the wrapper's outputs)."""
    for name, member in dut.signature.members.items():
        outer, inner = getattr(wrapper, name), getattr(dut, name)
        if member.is_signature:
            if member.flow == In:
                wiring.connect(m, wiring.flipped(outer), inner)
            else:
                wiring.connect(m, inner, wiring.flipped(outer))
        elif member.flow == In:
            m.d.comb += inner.eq(outer)
        else:
            m.d.comb += outer.eq(inner)


# ------------------------------------------------------------------------------------ link framing
class CrcAppenderCheck(wiring.Component):
    """:class:`~modsnn.hw.link.framing.CrcAppender` between a free input stream and a free ``ready``."""

    i: In(stream.Signature(FRAME_TOKEN))  # type: ignore[valid-type]
    o: Out(stream.Signature(FRAME_TOKEN))  # type: ignore[valid-type]

    def elaborate(self, platform: object) -> Module:
        m = Module()
        no_reset(m)
        dut = CrcAppender()
        m.submodules.dut = dut_module = _elaborated(dut, platform)
        wiring.connect(m, wiring.flipped(self.i), dut.i)
        wiring.connect(m, dut.o, wiring.flipped(self.o))
        handshake_rules(m, self.i.valid, self.i.ready, self.i.payload, "i", assume=True)
        handshake_rules(m, self.o.valid, self.o.ready, self.o.payload, "o", assume=False)
        # `body`: a data token of the current frame has entered (since the last end token left)
        body = Signal()
        with m.If(self.o.valid & self.o.ready & self.o.payload.end):
            m.d.sync += body.eq(0)
        with m.Elif(self.i.valid & self.i.ready & ~self.i.payload.end):
            m.d.sync += body.eq(1)
        empty = CRC_ALGORITHM(data_width=8).compute(b"")
        crc = dut_module.submodules.crc.crc
        m.d.comb += Assert(body | (crc == empty), "the CRC restarts after every frame")
        # so the CRC bytes of an empty frame (tokens out that are neither input data nor the end) are CRC(b"")'s
        passing = self.i.valid & ~self.i.payload.end
        with m.If(self.o.valid & ~body & ~passing & ~self.o.payload.end):
            data = self.o.payload.data
            m.d.comb += Assert((data == (empty >> 8)) | (data == (empty & 0xFF)),
                               "an empty frame's CRC bytes are CRC(b'')")
        return m


class SlipDecoderCheck(wiring.Component):
    """:class:`~modsnn.hw.link.framing.SlipDecoder` between a free byte stream and a free ``ready``."""

    i: In(stream.Signature(RX_BYTE))  # type: ignore[valid-type]
    o: Out(stream.Signature(FRAME_TOKEN))  # type: ignore[valid-type]

    def elaborate(self, platform: object) -> Module:
        m = Module()
        no_reset(m)
        m.submodules.dut = dut = SlipDecoder()
        wiring.connect(m, wiring.flipped(self.i), dut.i)
        wiring.connect(m, dut.o, wiring.flipped(self.o))
        handshake_rules(m, self.i.valid, self.i.ready, self.i.payload, "i", assume=True)
        handshake_rules(m, self.o.valid, self.o.ready, self.o.payload, "o", assume=False)
        with m.If(self.i.valid & (self.i.payload.data == SLIP_END)):
            m.d.comb += Assert(self.o.valid & self.o.payload.end, "an END byte always yields an end token")
        with m.If(self.o.valid & self.o.payload.end):
            m.d.comb += Assert(self.i.valid & (self.i.payload.data == SLIP_END), "an end token only for an END byte")
        with m.If(self.o.valid & ~self.o.payload.end):
            m.d.comb += Assert(~self.o.payload.error, "the error flag only on an end token")
        with m.If(self.i.valid & self.i.payload.error & (self.i.payload.data == SLIP_END)):
            m.d.comb += Assert(self.o.payload.error, "an END byte with the UART error flag yields an error")
        m.d.comb += Assert(self.i.ready | (self.o.valid & ~self.o.ready), "the decoder only waits on o.ready")
        return m


class SlipEncoderCheck(wiring.Component):
    """:class:`~modsnn.hw.link.framing.SlipEncoder` between a free token stream and a free ``ready``."""

    i: In(stream.Signature(FRAME_TOKEN))  # type: ignore[valid-type]
    o: Out(stream.Signature(8))  # type: ignore[valid-type]

    def elaborate(self, platform: object) -> Module:
        m = Module()
        no_reset(m)
        m.submodules.dut = dut = SlipEncoder()
        wiring.connect(m, wiring.flipped(self.i), dut.i)
        wiring.connect(m, dut.o, wiring.flipped(self.o))
        handshake_rules(m, self.i.valid, self.i.ready, self.i.payload, "i", assume=True)
        handshake_rules(m, self.o.valid, self.o.ready, self.o.payload, "o", assume=False)
        # no END byte inside a frame: the wire carries no more END bytes than frames have ended
        # (an end token goes out as END in the cycle it is taken: counted with the ones taken before)
        ends, delimiters = Signal(8), Signal(8)
        taken_end = self.i.valid & self.i.ready & self.i.payload.end
        with m.If(taken_end):
            m.d.sync += ends.eq(ends + 1)
        end_out = self.o.valid & self.o.ready & (self.o.payload == SLIP_END)
        with m.If(end_out):
            m.d.sync += delimiters.eq(delimiters + 1)
            m.d.comb += Assert(delimiters < ends + taken_end, "END goes out only as the delimiter of a frame taken")
        # every ESC on the wire is followed by ESC_END or ESC_ESC: a well-formed escape
        escape_open = Signal()
        with m.If(self.o.valid & self.o.ready):
            m.d.sync += escape_open.eq(self.o.payload == SLIP_ESC)
        with m.If(self.o.valid & escape_open):
            m.d.comb += Assert((self.o.payload == SLIP_ESC_END) | (self.o.payload == SLIP_ESC_ESC),
                               "ESC is followed by ESC_END or ESC_ESC")
        return m


class SlipRoundTripCheck(wiring.Component):
    """SlipEncoder → SlipDecoder: the decoder returns the encoder's token sequence.

    The sequence comparison follows one token at a free index ``n`` (``AnyConst``): whatever ``n``
    the solver picks, the ``n``-th token out equals the ``n``-th token in (data and end; an end
    token's data is not compared) and carries no error. Both blocks have latency 0: token ``n`` is
    offered by the decoder while the encoder's input still offers it (and the stream rules hold it
    there), so "in" is token ``n`` taken earlier or offered now."""

    i: In(stream.Signature(FRAME_TOKEN))  # type: ignore[valid-type]
    o: Out(stream.Signature(FRAME_TOKEN))  # type: ignore[valid-type]
    n: In(8)  # type: ignore[valid-type]  # the token followed (held constant by assumption)

    def elaborate(self, platform: object) -> Module:
        m = Module()
        no_reset(m)
        m.submodules.enc = enc = SlipEncoder()
        m.submodules.dec = dec = SlipDecoder()
        wiring.connect(m, wiring.flipped(self.i), enc.i)
        m.d.comb += [dec.i.valid.eq(enc.o.valid), dec.i.payload.data.eq(enc.o.payload),
                     dec.i.payload.error.eq(0), enc.o.ready.eq(dec.i.ready)]
        wiring.connect(m, dec.o, wiring.flipped(self.o))
        handshake_rules(m, self.i.valid, self.i.ready, self.i.payload, "i", assume=True)
        n = self.n
        held = Signal(8)
        m.d.sync += held.eq(n)
        first = Signal(init=1)
        m.d.sync += first.eq(0)
        with m.If(~first):
            m.d.comb += Assume(n == held)
        taken, given = Signal(9), Signal(9)             # tokens into the encoder / out of the decoder
        with m.If(self.i.valid & self.i.ready):
            m.d.sync += taken.eq(taken + 1)
        with m.If(self.o.valid & self.o.ready):
            m.d.sync += given.eq(given + 1)
        m.d.comb += Assert(given <= taken, "the decoder never yields more tokens than the encoder took")
        token = Signal(FRAME_TOKEN)
        seen = Signal()
        offering_n = self.i.valid & (taken == n)       # token n is at the encoder's input (stable until taken)
        with m.If(offering_n & self.i.ready):
            m.d.sync += [token.eq(self.i.payload), seen.eq(1)]
        with m.If(self.o.valid & (given == n)):
            out = self.o.payload
            want = Signal(FRAME_TOKEN)                  # token n in: taken earlier, or offered now
            m.d.comb += want.eq(Mux(seen, token, self.i.payload))
            m.d.comb += [Assert(seen | offering_n, "token n out before token n in"),
                         Assert(out.end == want.end, "token n out is not token n in (data/end)"),
                         Assert(~out.error, "the decoder flags an error on the encoder's output")]
            with m.If(~want.end):
                m.d.comb += Assert(out.data == want.data, "token n out has not the data of token n in")
        return m


# ----------------------------------------------------------------------------------- serializer
class SerializerCheck(wiring.Component):
    """:class:`~modsnn.hw.serializer.SpikeSerializer` of ``width``-bit words, ``depth`` deep, in
    the sweeps' protocol: a ``start`` (not while a sweep is under way, with ``words ≤ depth``), then
    at most ``words`` spike words (any bits, in any cycles after the ``start``, not in its cycle).

    Completeness and exactness follow one neuron index ``k`` (a free input held constant): the
    serializer emits ``k`` at most once per sweep, only if bit ``k`` was written, and by ``done``
    (once all ``words`` words are in) exactly when bit ``k`` was written."""

    def __init__(self, width: int, depth: int) -> None:
        self._width, self._depth = width, depth
        self._dut = SpikeSerializer(width, depth)
        members = dict(self._dut.signature.members.items())
        members["k"] = In(range(width * depth))
        super().__init__(members)

    def elaborate(self, platform: object) -> Module:
        B, dut = self._width, self._dut
        m = Module()
        no_reset(m)
        m.submodules.dut = dut
        _mirror(m, self, dut)
        k = self.k
        running = past(m, Const(1), "running")                                 # 0 in the first cycle only
        m.d.comb += Assume((k == past(m, k, "k")) | ~running)
        started, words, written = Signal(), Signal.like(self.words), Signal.like(self.words)
        written_k, emitted_k = Signal(), Signal(2)
        m.d.comb += Assume(self.words <= self._depth)
        m.d.comb += Assume(~self.start | ~started | dut.done)                  # one sweep at a time
        m.d.comb += Assume(~self.word.valid | (started & ~self.start & (written < words)))
        event_k = self.event.valid & (self.event.payload == k)
        with m.If(self.start):
            m.d.sync += [started.eq(1), words.eq(self.words), written.eq(0), written_k.eq(0), emitted_k.eq(0)]
        with m.Else():
            with m.If(self.word.valid):
                m.d.sync += written.eq(written + 1)
                with m.If((written == k // B) & self.word.payload.bit_select(k % B, 1)):
                    m.d.sync += written_k.eq(1)
            with m.If(event_k):
                m.d.sync += emitted_k.eq(Mux(emitted_k == 3, 3, emitted_k + 1))
        fresh = past(m, self.start, "start")              # the cycle after `start`: `done` is not yet the new sweep's
        with m.If(started & ~self.start & ~fresh):
            m.d.comb += Assert(~event_k | (emitted_k == 0), "neuron k is emitted at most once per sweep")
            m.d.comb += Assert(~event_k | written_k, "neuron k is emitted only if its spike bit was written")
            with m.If(dut.done & (written == words)):
                m.d.comb += Assert(((emitted_k != 0) | event_k) == written_k,
                                   "by done, neuron k is emitted iff its spike bit was written")
        return m


# --------------------------------------------------------------------------------------- neuron
class NeuronCheck(wiring.Component):
    """The neuron update of :mod:`modsnn.hw.neuron` against its exact, un-narrowed definition.

    Free inputs: the stored state ``v`` (any ``membrane_bits`` value), ``x`` (any ``trace_bits``
    value), the synaptic current (any ``acc_bits`` value), ``θ ∈ [1, v_max]`` (the configuration
    check's range), ``lo``, ``hi``. References are computed in wide signals without clamps or
    truncation, then clamped as the docstring says; the RTL must agree exactly."""

    def __init__(self, cfg: Config) -> None:
        self._cfg, p = cfg, hw_params(cfg)
        mb = cfg.membrane_bits
        super().__init__({"v": In(signed(mb)), "current": In(signed(p.acc_bits)), "theta": In(signed(mb)),
                          "lo": In(signed(mb)), "hi": In(signed(mb)), "x": In(unsigned(cfg.trace_bits)),
                          "v_new": Out(signed(mb)), "x_new": Out(unsigned(cfg.trace_bits)), "s": Out(1)})

    def elaborate(self, platform: object) -> Module:
        cfg = self._cfg
        m = Module()
        wide = signed(cfg.membrane_bits + len(self.current) + 8)
        m.d.comb += Assume((self.theta >= 1) & (self.theta <= cfg.v_max))
        v1 = membrane_update(m, cfg, self.v, self.current)
        v2, h, s = spike_and_boxcar(m, v1, self.theta, self.lo, self.hi)
        x1 = trace_update(m, cfg, self.x, s)
        m.d.comb += [self.v_new.eq(v2), self.x_new.eq(x1), self.s.eq(s)]
        # references
        exact = Signal(wide)
        m.d.comb += exact.eq(self.v - (self.v >> cfg.leak_shift) + self.current)
        clamped = Signal(wide)
        m.d.comb += clamped.eq(Mux(exact > cfg.v_max, cfg.v_max, Mux(exact < cfg.v_min, cfg.v_min, exact)))
        m.d.comb += Assert(v1 == clamped, "v' = clamp(v − (v >>> leak_shift) + I, v_min, v_max), no wrap")
        m.d.comb += Assert(s == (clamped >= self.theta), "s = [v' ≥ θ]")
        m.d.comb += Assert(h == ((clamped >= self.lo) & (clamped < self.hi)), "h = [lo ≤ v' < hi]")
        reset = Signal(wide)
        m.d.comb += reset.eq(clamped - Mux(clamped >= self.theta, self.theta, 0))
        m.d.comb += Assert(v2 == reset, "v ← v' − θ·s without wrap")
        m.d.comb += Assert((reset >= cfg.v_min) & (reset <= cfg.v_max), "the stored v is within [v_min, v_max]")
        k = cfg.trace_shift
        x_exact = Signal(signed(cfg.trace_bits + 8))
        m.d.comb += x_exact.eq(self.x - ((self.x + (1 << k) - 1) >> k) + Mux(s, cfg.trace_amp, 0))
        x_ref = Mux(x_exact > cfg.x_max, cfg.x_max, x_exact)
        m.d.comb += Assert(x1 == x_ref, "x ← min(x − ⌈x / 2^k⌉ + A·s, x_max), no wrap")
        m.d.comb += Assert((x_exact >= 0), "the trace never goes negative before the clamp")
        return m


# ------------------------------------------------------------------------------------ modulator
class ModulatorCheck(wiring.Component):
    """:class:`~modsnn.hw.modulator.Modulator` with every input free (spike events, clear, start, label)."""

    def __init__(self, cfg: Config) -> None:
        self._cfg = cfg
        self._dut = Modulator(cfg)
        super().__init__(dict(self._dut.signature.members.items()))

    def elaborate(self, platform: object) -> Module:
        cfg, dut = self._cfg, self._dut
        m = Module()
        no_reset(m)
        m.submodules.dut = dut
        _mirror(m, self, dut)
        K = cfg.mod_levels
        for c in range(cfg.n_classes):
            m.d.comb += Assert((dut.m[c] >= -K) & (dut.m[c] <= K), f"m_{c} within [−K, K] = [−{K}, {K}]")
        some = Cat(*(dut.m[c] != 0 for c in range(cfg.n_classes))).any()
        m.d.comb += Assert(dut.any_m == some, "any_m = [some m_c ≠ 0]")
        return m


# ------------------------------------------------------------------------------------ sequencer
class SequencerCheck(wiring.Component):
    """:class:`~modsnn.hw.sequencer.Sequencer` in an environment that answers within
    :data:`SEQUENCER_ENV_BOUND` = ``E`` cycles: a phase waiting on ``run_done``, ``sweep_done``,
    ``mod_done``, ``learn_done`` or ``~enc_busy`` sees it by its ``E``-th cycle (``clear``: once
    its ``state_depth`` words are out). Done signals may also come early, or spuriously."""

    def __init__(self, cfg: Config) -> None:
        self._cfg = cfg
        self._dut = Sequencer(cfg)
        members = dict(self._dut.signature.members.items())
        members["dwell"] = Out(bits_for(hw_params(cfg).state_depth + 2 * SEQUENCER_ENV_BOUND + 2))
        super().__init__(members)

    def elaborate(self, platform: object) -> Module:
        cfg, dut = self._cfg, self._dut
        depth, E = hw_params(cfg).state_depth, SEQUENCER_ENV_BOUND
        m = Module()
        no_reset(m)
        m.submodules.dut = dut
        _mirror(m, self, dut)
        # dwell: cycles already spent in the current phase before this one (0 in a phase's first cycle)
        limit = (1 << len(self.dwell)) - 1
        last_phase = Signal(Phase, init=Phase.IDLE)
        count = Signal.like(self.dwell)
        m.d.comb += self.dwell.eq(Mux(dut.phase == last_phase, count, 0))
        m.d.sync += [last_phase.eq(dut.phase), count.eq(Mux(self.dwell == limit, limit, self.dwell + 1))]
        dwell, phase = self.dwell, dut.phase
        waits = {Phase.ENCODE: ~dut.enc_busy & dut.run_done, Phase.RUN: dut.run_done, Phase.SWEEP: dut.sweep_done,
                 Phase.DECIDE: dut.mod_done, Phase.LEARN: dut.learn_done}
        for waiting, answer in waits.items():
            with m.If((phase == waiting) & (dwell >= E - 1)):
                m.d.comb += Assume(answer)
            with m.If(phase == waiting):
                m.d.comb += Assert(dwell <= E - 1, f"{waiting.name} is left within {E} cycles")
        with m.If(phase == Phase.CLEAR):
            with m.If(dwell >= depth + E - 1):
                m.d.comb += Assume(~dut.enc_busy)
            m.d.comb += Assert(dwell <= depth + E - 1, f"CLEAR is left within state_depth + {E} = {depth + E} cycles")
            with m.If(dut.clear.valid):       # (helper) the clear index advances with the phase's cycles
                m.d.comb += Assert(dut.clear.payload == dwell, "CLEAR writes word `dwell` in its cycle `dwell`")
        with m.If(phase == Phase.FINISH):
            m.d.comb += Assert(dwell == 0, "FINISH lasts one cycle")
        with m.If(last_phase == Phase.FINISH):
            m.d.comb += Assert(phase == Phase.IDLE, "FINISH returns to IDLE")
        m.d.comb += Assert(dut.busy == (phase != Phase.IDLE), "busy = [phase ≠ IDLE]")
        return m


def sample_bound(cfg: Config, E: int = SEQUENCER_ENV_BOUND) -> int:
    """The most cycles a sample of ``cfg`` can spend out of IDLE when every waiting phase is answered
    within ``E`` cycles: CLEAR ``state_depth + E``; per step ENCODE and D + 1 (RUN, SWEEP) pairs,
    ``E`` each; DECIDE and LEARN ``E`` each; FINISH 1."""
    p = hw_params(cfg)
    return p.state_depth + E + cfg.timesteps * E * (2 * p.layers + 3) + 2 * E + 1


class SequencerSampleCheck(wiring.Component):
    """:class:`SequencerCheck`'s environment, and the whole sample: the sequencer is back in IDLE
    at most :func:`sample_bound` cycles after it left it (``elapsed`` counts the busy cycles)."""

    def __init__(self, cfg: Config) -> None:
        self._cfg = cfg
        self._inner = SequencerCheck(cfg)
        self._bound = sample_bound(cfg)
        super().__init__(dict(self._inner.signature.members.items()))

    def elaborate(self, platform: object) -> Module:
        m = Module()
        m.submodules.inner = inner = self._inner
        _mirror(m, self, inner)
        elapsed = Signal(range(self._bound + 2))        # busy cycles of this sample, this one included
        with m.If(self.phase == Phase.IDLE):
            m.d.sync += elapsed.eq(0)
        with m.Elif(elapsed <= self._bound):
            m.d.sync += elapsed.eq(elapsed + 1)
        with m.If(self.phase != Phase.IDLE):
            m.d.comb += Assert(elapsed < self._bound, f"a sample returns to IDLE within {self._bound} cycles")
        return m


# ----------------------------------------------------------------------------------- dispatcher
class DispatcherCheck(wiring.Component):
    """:class:`~modsnn.hw.dispatcher.Dispatcher` of ``cfg`` with free list lengths, list entries and
    readout pointers (any values), started only when done, the lengths held from the cycle after
    ``start`` until ``done`` (the sweep that writes a list may end in the cycle of the ``start``).

    ``done`` means the last accumulate word has been written in every bank: a word leaves at cycle
    ``t``, the core registers it (:data:`CORE_LATENCY`), the bank writes it :data:`ACC_LATENCY`
    cycles later; a sweep started at ``done`` reads the accumulator one core cycle later and clears
    it the cycle after. So ``done`` must come at least ``CORE_LATENCY + ACC_LATENCY`` cycles after
    the last ``acc.valid``, and no word may be issued while ``done``."""

    def __init__(self, cfg: Config) -> None:
        self._dut = Dispatcher(cfg)
        super().__init__(dict(self._dut.signature.members.items()))

    def elaborate(self, platform: object) -> Module:
        dut = self._dut
        m = Module()
        no_reset(m)
        m.submodules.dut = dut
        _mirror(m, self, dut)
        gap = CORE_LATENCY + ACC_LATENCY
        m.d.comb += Assume(~self.start | dut.done)
        with m.If(~dut.done & ~past(m, self.start, "start")):
            m.d.comb += Assume(Value.cast(self.counts) == past(m, self.counts, "counts"))
        since = Signal(range(gap + 2), init=gap + 1)      # cycles since the last word (0: a word now)
        with m.If(self.acc.valid):
            m.d.comb += Assert(~dut.done, "no accumulate word is issued while done")
        m.d.sync += since.eq(Mux(self.acc.valid, 1, Mux(since > gap, since, since + 1)))
        with m.If(dut.done):
            m.d.comb += Assert(since >= gap, f"done comes ≥ CORE_LATENCY + ACC_LATENCY = {gap} cycles after the "
                                             "last accumulate word")
        return m


# ----------------------------------------------------------------------------------------- bank
class BankCheck(wiring.Component):
    r""":class:`~modsnn.hw.bank.Bank` 0 of ``cfg`` serving one kind of command: ``traffic`` is
    ``"job"`` (plasticity jobs) or ``"acc"`` (accumulate words); every other command stream is
    idle, the commands of that kind are free (any field values, in any cycle) except that
    ``every_other=True`` restricts jobs as the learner issues them to single-port weights.

    The checked properties are the bank's own ``Assert``\ s: no memory port has two users in one
    cycle, and (``weight_ports = 1``) a single-port weight memory is never read and written in
    one cycle. ``every_other=True`` assumes the learner's issue rule for single-port weights
    (``r = 2``: jobs on cycles of one parity); ``False`` lets jobs come in any cycle."""

    def __init__(self, cfg: Config, traffic: str, every_other: bool = False) -> None:
        if traffic not in ("job", "acc"):
            raise ValueError(f"traffic must be 'job' or 'acc', not {traffic!r}")
        self._cfg, self._traffic, self._every_other = cfg, traffic, every_other
        self._dut = Bank(cfg, 0, schedule_asserts=False)     # arbitrary jobs: no learner schedule
        super().__init__(dict(self._dut.signature.members.items()))

    def elaborate(self, platform: object) -> Module:
        dut = self._dut
        m = Module()
        no_reset(m)
        m.submodules.dut = dut
        _mirror(m, self, dut)
        idle = {"acc": self.acc.valid, "job": self.job.valid, "sweep": self.sweep.valid,
                "clear": self.clear.valid, "host": self.host.valid, "x": self.x_en}
        for name, valid in idle.items():
            if name != self._traffic:
                m.d.comb += Assume(~valid)
        if self._every_other:                         # jobs only in every other cycle (one parity)
            parity = Signal()
            m.d.sync += parity.eq(~parity)
            m.d.comb += Assume(~self.job.valid | parity)
        return m


# ------------------------------------------------------------------------------------------ toy
class ToyBuffer(wiring.Component):
    """A one-entry stream buffer (a skid-less register stage); ``broken=True`` plants a bug (it
    drops ``valid`` after one cycle of back-pressure). Used to show that the harness reports a
    failing property with a counterexample."""

    i: In(stream.Signature(8))  # type: ignore[valid-type]
    o: Out(stream.Signature(8))  # type: ignore[valid-type]

    def __init__(self, broken: bool) -> None:
        self._broken = broken
        super().__init__()

    def elaborate(self, platform: object) -> Module:
        m = Module()
        no_reset(m)
        full = Signal()
        stalled = Signal()
        m.d.comb += [self.o.valid.eq(full & ~(stalled if self._broken else 0)), self.i.ready.eq(~full | self.o.ready)]
        m.d.sync += stalled.eq(self.o.valid & ~self.o.ready)
        with m.If(self.i.valid & self.i.ready):
            m.d.sync += [full.eq(1), self.o.payload.eq(self.i.payload)]
        with m.Elif(self.o.ready):
            m.d.sync += full.eq(0)
        handshake_rules(m, self.i.valid, self.i.ready, self.i.payload, "i", assume=True)
        handshake_rules(m, self.o.valid, self.o.ready, self.o.payload, "o", assume=False)
        return m


def _small_sequencer() -> Config:
    return _tiny().replace(lanes=4, timesteps=2)


def _single_port() -> Config:
    return _tiny().replace(weight_ports=1)


_STREAM = "o: valid held until ready, payload stable while waiting (assuming the same of i)"

CHECKS: tuple[Check, ...] = (
    Check("crc_appender", "link.framing.CrcAppender",
          (_STREAM, "the CRC register is CRC(b'') whenever no body byte of the current frame has entered",
           "the CRC bytes of an empty frame are those of CRC(b'')"),
          CrcAppenderCheck, mode="prove", depth=8),
    Check("slip_decoder", "link.framing.SlipDecoder",
          (_STREAM, "an END byte yields an end token, and only an END byte does",
           "the error flag only on end tokens, always for an END with the UART error flag",
           "i.ready is low only while o waits for ready"),
          SlipDecoderCheck, mode="prove", depth=3),
    Check("slip_encoder", "link.framing.SlipEncoder",
          (_STREAM, "no END byte inside a frame (END only as the delimiter of a frame taken)",
           "every ESC on the wire is followed by ESC_END or ESC_ESC"),
          SlipEncoderCheck, mode="bmc", depth=20),
    Check("slip_round_trip", "link.framing.SlipEncoder → SlipDecoder",
          ("the decoder's n-th token is the encoder's n-th input token (any n), without error flag",
           "never more tokens out than in"),
          SlipRoundTripCheck, mode="bmc", depth=20),
    Check("serializer", "SpikeSerializer (4-bit words, 3 deep)",
          ("each written spike bit is emitted exactly once by done, nothing else is emitted (followed for any k)",),
          lambda: SerializerCheck(4, 3), mode="bmc", depth=20),
    Check("serializer_1bit", "SpikeSerializer (1-bit words, 5 deep: the one-bank register form)",
          ("each written spike bit is emitted exactly once by done, nothing else is emitted (followed for any k)",),
          lambda: SerializerCheck(1, 5), mode="bmc", depth=20),
    Check("neuron", "neuron (membrane_update, spike_and_boxcar, trace_update), tiny widths",
          ("v', s, h, v − θ·s, x' equal their un-narrowed definitions (saturate, never wrap)",
           "stored v ∈ [v_min, v_max], x ∈ [0, x_max] for every v, x, I, θ ∈ [1, v_max]"),
          lambda: NeuronCheck(_tiny()), mode="prove", depth=1),
    Check("modulator", "Modulator (tiny: C = 10, K = 15)",
          ("every m_c ∈ [−K, K] for arbitrary spike events, clear, start, label", "any_m = [some m_c ≠ 0]"),
          lambda: ModulatorCheck(_tiny()), mode="prove", depth=3),
    Check("sequencer", f"Sequencer (tiny: state_depth 52, environment bound E = {SEQUENCER_ENV_BOUND})",
          (f"every waiting phase is left within E = {SEQUENCER_ENV_BOUND} cycles, CLEAR within state_depth + E",
           "FINISH lasts one cycle and returns to IDLE; busy = [phase ≠ IDLE]"),
          lambda: SequencerCheck(_tiny()), mode="prove", depth=4),
    Check("sequencer_sample", f"Sequencer (tiny at lanes = 4, T = 2: state_depth 13, E = {SEQUENCER_ENV_BOUND})",
          (f"a started sample is back in IDLE within {sample_bound(_small_sequencer())} cycles "
           "(state_depth + E + T·E·(2D + 3) + 2E + 1)",),
          lambda: SequencerSampleCheck(_small_sequencer()), mode="bmc", depth=sample_bound(_small_sequencer()) + 12),
    Check("dispatcher", "Dispatcher (tiny)",
          ("done comes ≥ CORE_LATENCY + ACC_LATENCY = 5 cycles after the last accumulate word (so a sweep "
           "started at done finds every bank's accumulators written)", "no accumulate word while done"),
          lambda: DispatcherCheck(_tiny()), mode="prove", depth=10),
    Check("bank_jobs_single_port", "Bank (tiny, weight_ports = 1: iCE40 SPRAM), plasticity jobs every other cycle",
          ("a single-port weight memory is never read (P7) and written (P12) in one cycle",
           "no memory port has two users in one cycle (the bank's own asserts)"),
          lambda: BankCheck(_single_port(), "job", every_other=True), mode="prove", depth=14),
    Check("bank_jobs", "Bank (tiny, dual-port weights), plasticity jobs in any cycle",
          ("no memory port has two users in one cycle (the bank's own asserts)",),
          lambda: BankCheck(_tiny(), "job"), mode="prove", depth=14),
    Check("bank_accumulate", "Bank (tiny, weight_ports = 1), accumulate words in any cycle",
          ("no memory port has two users in one cycle; the weight SPRAM is only read (the bank's own asserts)",),
          lambda: BankCheck(_single_port(), "acc"), mode="prove", depth=14),
)

TOY_CHECKS: tuple[Check, ...] = (
    Check("toy_buffer", "ToyBuffer (correct)", (_STREAM,), lambda: ToyBuffer(broken=False), mode="prove", depth=4),
    Check("toy_buffer_broken", "ToyBuffer (planted bug)", (_STREAM,), lambda: ToyBuffer(broken=True),
          mode="prove", depth=4),
)


def check_named(name: str) -> Check:
    """The check called ``name`` (of :data:`CHECKS` or :data:`TOY_CHECKS`)."""
    for check in (*CHECKS, *TOY_CHECKS):
        if check.name == name:
            return check
    known = ", ".join(check.name for check in (*CHECKS, *TOY_CHECKS))
    raise ValueError(f"no formal check named {name!r}; known: {known}")
