"""The plasticity engine's controller: the passes of the three-factor update, as broadcast jobs.

Runs at the end of a training sample (``start``), with the modulatory levels ``m_c`` held on
``levels``; every job goes to every bank (:class:`~modsnn.hw.bank.Bank` computes it for its rows).
Symbols as in :mod:`modsnn.golden_model.network`; ``P_{s,l} = key(seed, s, sample, l)`` the prefix
key of stream ``s`` (ROUND_OUT, ROUND_FF, ROUND_REC) and layer ``l``; ``B`` banks, ``q_l = n_l / B``.

==========  ==========================================================================  ====================
pass        jobs                                                                        cycles
==========  ==========================================================================  ====================
prefix      ``H(key(seed, s) ^ sample)`` for the 3 streams, then ``H(· ^ l)`` for all l  ``3 + 3D + 2·R``
per layer ``l``:
rowkeys     readout row keys ``H(P_{OUT,l} ^ k)`` of every readout word                   ``q_out + G``
readout     per source ``j``: ``X_j`` and its routing words; ``W_l[j]`` SR jobs when     ``F + r·Σ_j c_j``
            ``X_j ≠ 0`` (``c_j = W_l[j]``), else one slot (``c_j = 1``)
hidden keys FB/FF/REC row keys of every row group                                        ``3·q_l + G``
signs       ``L_i = Σ_c B_ic·m_c`` (``C`` jobs per group), ``G_i = L_i·H_i``, gate bits    ``C·q_l + R``
hidden      per group ``a``: when some ``G_i ≠ 0``, ``n_{l−1} + n_l`` SR jobs (columns)     ``F + r·Σ_a c_a``
            with ``X_j``; else one slot (``c_a = 1``)
==========  ==========================================================================  ====================

``R`` = :attr:`Latencies.result` (a job's hash result back at the learner), ``G`` =
:attr:`Latencies.key_gap` (row keys written before they are read), ``F`` = :data:`WALK_LATENCY` +
the last job's write (:attr:`Latencies.drain`); all but ``WALK_LATENCY`` grow by one cycle per
register of the bank's hash (``hash_stages``, :class:`~modsnn.hw.bank.JobStages`). ``r`` = 1
(dual-port weights) — jobs that touch the weights are issued every
``r`` cycles. Nothing runs when every ``m_c`` is 0. The shift of the SR passes (``shift = 32 − s``)
is ``32 − (lr_shift_out + lr_extra)`` for the readout and ``32 − (lr_shift_hidden[l] +
ceil(log2 T) + lr_extra)`` for layer ``l``.
"""

import dataclasses
from types import SimpleNamespace
from typing import Any

from amaranth.hdl import Array, Assert, Module, Mux, Signal, Value, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from ..golden_model.config import Config
from ..golden_model.rng import Stream, key_int
from .bank import JobStages, delay
from .core import CORE_LATENCY
from .dsp import mac16_register
from .formats import JobOp, Matrix, formats_for
from .params import LR_EXTRA_MAX, bits_for, checked_params, hw_params
from .spram import is_ice40_up

__all__ = ["COLLISION_UNUSED", "FIFO_DEPTH", "WALK_LATENCY", "Latencies", "Learner"]

X_LATENCY = CORE_LATENCY + 2                          # x_addr → x_data (the bank registers it)
WALK_LATENCY = X_LATENCY + 2                          # walker position → bank mux, registered → entry in the FIFO
#: The walker's FIFO: an entry holds a credit from the cycle after its position is walked until the
#: cycle it is taken, ``X_LATENCY + 2`` cycles at the earliest, so ``X_LATENCY + 3`` entries let the
#: walker produce one position per cycle while the issuer takes one per cycle (it never waits for
#: the walker; a deeper FIFO changes no cycle count). A slot is reserved when its position is walked
#: and the position written into it at once; the X read-back (and a readout source's pointer)
#: completes the entry WALK_LATENCY cycles later, in order, and only then can it be taken.
FIFO_DEPTH = X_LATENCY + 3
#: The fields of a FIFO entry known only when it completes (X; a readout entry's count and first word
#: come with its pointer; :meth:`Learner.late_layout`). The rest, known when its position is walked
#: (a hidden entry's count, 0 or 1, and first word), is :meth:`Learner.early_layout`. Each half is a
#: memory of its own (:meth:`Learner._fifo`).
LATE_FIELDS = ("x", "count", "waddr")
#: Memories whose read data is never used from a cycle in which the read address was written (the
#: walked fields: a read that collides with the reservation of the same entry is read again before
#: the entry can be taken, :meth:`Learner._fifo`; the gate bits: written only during a sign pass,
#: :meth:`Learner._sign_logic`; both asserted). The iCE40 build lets Yosys drop their
#: read-first emulation, as for the bank's :data:`~modsnn.hw.bank.COLLISION_FREE` memories.
COLLISION_UNUSED = ("fifo_early", "gate_bits")
#: ``tick`` at the walk's start: with single-port weights the issue slots are every other cycle, phased
#: by the parity of WALK_LATENCY so that the walk's first entry never waits for a slot (the cycle
#: model's ``walk_overhead`` is the same for ``r`` = 1 and 2)
FIRST_SLOT = int(WALK_LATENCY % 2 == 0)
#: Prefix keys held in SB_MAC16 blocks on the iCE40 UltraPlus (:mod:`modsnn.hw.dsp`): the UP5K has 8;
#: a one-lane bank takes 5 (the SR product, the shift as a product (2), the gate product and a delay
#: line of the late job fields), so a one-layer network's three keys fit
LEARNER_MAC16_KEYS = 3


@dataclasses.dataclass(frozen=True)
class Latencies:
    """The learner's waits, in cycles, for the bank pipeline of :class:`~modsnn.hw.bank.JobStages`
    ``stages`` (with ``h = hash_stages``: result ``h + 5``, gate ``h + 6``, key gap ``h + 3``,
    drain ``h + 8``)."""

    stages: JobStages

    @property
    def result(self) -> int:
        """A PREFIX job → its result in the learner's prefix key register (taken from the bank's hash
        word, which reaches the learner one cycle earlier)."""
        return CORE_LATENCY + self.stages.rowkey + 1

    @property
    def gate(self) -> int:
        """A SIGN job → its gate bit visible at the learner."""
        return CORE_LATENCY + self.stages.sign

    @property
    def key_gap(self) -> int:
        """The last ROWKEY job → the first job that reads the keys."""
        return CORE_LATENCY + self.stages.rowkey - 1

    @property
    def drain(self) -> int:
        """The last SR job → its write has landed."""
        return CORE_LATENCY + self.stages.write + 1


STREAMS = (Stream.ROUND_OUT, Stream.ROUND_FF, Stream.ROUND_REC)


class Learner(wiring.Component):
    """The plasticity passes of ``cfg`` (see the module docstring)."""

    def __init__(self, cfg: Config) -> None:
        self._p = p = checked_params(self, cfg)
        self._fmt = fmt = formats_for(cfg)
        self._cfg = cfg
        self._lat = Latencies(JobStages.of(cfg))
        self._entry = self.entry_layout(cfg)
        super().__init__({
            "start": In(1), "done": Out(1),
            "levels": In(data.ArrayLayout(fmt.job.members["args"].members["sign"].members["m"], cfg.n_classes)),
            "sample": In(32), "lr_extra": In(range(LR_EXTRA_MAX + 1)),
            "job": Out(fmt.stream(fmt.job)), "shift": Out(5),
            "x_addr": Out(p.state_addr_bits), "x_en": Out(1),
            "x_data": In(data.ArrayLayout(unsigned(p.xsum_bits), p.banks)),
            "enc_x_addr": Out(bits_for(p.input_words)), "enc_x_en": Out(1),
            "enc_x_data": In(data.ArrayLayout(unsigned(p.xsum_bits), p.banks)),
            "ptr_addr": Out(bits_for(p.pointer_depth)), "ptr_en": Out(1), "ptr_data": In(fmt.pointer),
            "prefix": In(32), "gated": In(1), "gated_valid": In(1),
        })

    @staticmethod
    def early_layout(cfg: Config) -> data.StructLayout:
        """The fields of a FIFO entry written when its position is walked: matrix, column, group,
        ``live`` (a hidden entry's count: 0 for a gated-off group's one idle slot) and first word."""
        entry = Learner.entry_layout(cfg)
        return data.StructLayout({"matrix": entry.members["matrix"], "j": entry.members["j"], "a": entry.members["a"],
                                  "live": unsigned(1), "waddr": entry.members["waddr"]})

    @staticmethod
    def late_layout(cfg: Config) -> data.StructLayout:
        """The fields of a FIFO entry written when it completes (:data:`LATE_FIELDS`)."""
        entry = Learner.entry_layout(cfg)
        return data.StructLayout({name: entry.members[name] for name in LATE_FIELDS})

    @staticmethod
    def entry_layout(cfg: Config) -> data.StructLayout:
        """An entry of the walker's FIFO: ``count`` SR jobs (0: one idle slot), their matrix, column
        ``j``, group ``a``, first weight word and ``X_j``."""
        p, fmt = hw_params(cfg), formats_for(cfg)
        return data.StructLayout({"count": unsigned(bits_for(max(p.max_route_words, 1) + 1)), "matrix": Matrix,
                                  "j": unsigned(p.neuron_bits), "a": fmt.job.members["a"],
                                  "waddr": fmt.job.members["args"].members["sr"].members["waddr"],
                                  "x": unsigned(p.xsum_bits)})

    # ------------------------------------------------------------------------------------------
    def elaborate(self, platform: object) -> Module:
        cfg, p = self._cfg, self._p
        D = p.layers
        m = Module()
        self._m = m
        self.layer = Signal(range(D + 1))
        # the prefix keys: registers, or on the iCE40 UP the first LEARNER_MAC16_KEYS in SB_MAC16 blocks
        # (registers loaded from the bank's hash word: a logic cell per bit otherwise)
        self._keys_in_dsp = LEARNER_MAC16_KEYS if is_ice40_up(platform) else 0
        self.prefix_keys = Array(Signal(32, name=f"P_{s.name}_{l}") for s in STREAMS for l in range(D))
        self.counter = Signal(range(max(p.readout_words, *p.words) * max(3, cfg.n_classes) + FIFO_DEPTH + 64))
        self.major = Signal(range(max(p.words) + 4))
        self.minor = Signal(range(max(3, cfg.n_classes, D)))
        self._walker_state(m)
        self._key_logic(m)
        self._prefix_logic(m)
        self._sign_logic(m, platform)
        self._walk_logic(m)
        with m.FSM(init="idle") as fsm:
            with m.State("idle"):
                with m.If(self.start):
                    m.d.sync += [self.counter.eq(0), self.major.eq(0), self.minor.eq(0), self.layer.eq(0)]
                    m.next = "prefix"
            self._prefix_states(m)
            self._key_states(m)
            self._sign_states(m)
            self._walk_states(m)
            with m.State("done"):
                m.d.comb += self.done.eq(1)
                with m.If(self.start):
                    m.d.sync += [self.counter.eq(0), self.major.eq(0), self.minor.eq(0), self.layer.eq(0)]
                    m.next = "prefix"
        del fsm
        return m

    # ------------------------------------------------------------------ prefix keys
    def _count2(self, m: Module, minor: int) -> None:
        """Step the two-level position (major, minor) with ``minor`` values per major (no division:
        ``counter // minor`` and ``counter % minor`` would be a divider in the job's path)."""
        with m.If(self.minor == minor - 1):
            m.d.sync += [self.minor.eq(0), self.major.eq(self.major + 1)]
        with m.Else():
            m.d.sync += self.minor.eq(self.minor + 1)

    def _issue(self, **fields: Any) -> None:
        """Put one job on ``job`` this cycle."""
        m = self._m
        m.d.comb += self.job.valid.eq(1)
        job = self.job.payload
        args = {JobOp.PREFIX: job.args.keyed, JobOp.ROWKEY: job.args.keyed, JobOp.SIGN: job.args.sign,
                JobOp.SR: job.args.sr}[fields["op"]]
        for name, value in fields.items():
            m.d.comb += getattr(job if name in ("op", "a", "matrix") else args, name).eq(value)

    def _key_logic(self, m: Module) -> None:
        """The key of a PREFIX or ROWKEY job, ``base ^ operand``, from one multiplexer for every pass:
        ``base`` is a constant (``key(seed, s)`` of stream ``s`` = 0, 1, 2, or the FB key of layer
        ``l`` = 3 + l) or a prefix key register (index ``s·D + l``), ``operand`` the sample counter,
        ``minor`` or 0 (:meth:`_keyed` selects them)."""
        cfg, D = self._cfg, self._p.layers
        consts = [key_int(cfg.seed, int(s)) for s in STREAMS]
        consts += [key_int(cfg.seed, int(Stream.FEEDBACK), 0, l) for l in range(D)]
        self._k_const, self._k_operand = Signal(name="key_const"), Signal(range(3), name="key_operand")
        self._k_cidx, self._k_pidx = Signal(range(3 + D), name="key_cidx"), Signal(range(3 * D), name="key_pidx")
        self._key = Signal(32, name="key")
        base = Mux(self._k_const, Array(consts)[self._k_cidx], self.prefix_keys[self._k_pidx])
        operand = Mux(self._k_operand == 1, self.sample, Mux(self._k_operand == 2, self.minor, 0))
        m.d.comb += self._key.eq(base ^ operand)

    def _keyed(self, const: Value | int | None = None, reg: Value | int = 0, operand: int = 0,
               use_const: Value | int | None = None) -> Signal:
        """Select this cycle's key: constant ``const`` (when ``use_const``, default: whenever ``const``
        is given), else prefix key ``reg``; ``operand`` 1 XORs the sample counter in, 2 ``minor``."""
        m = self._m
        if use_const is None:
            use_const = int(const is not None)
        m.d.comb += [self._k_const.eq(use_const), self._k_cidx.eq(0 if const is None else const),
                     self._k_pidx.eq(reg), self._k_operand.eq(operand)]
        return self._key

    def _prefix_logic(self, m: Module) -> None:
        """PREFIX results reach the learner ``Latencies.result − 1`` cycles after their job, in order,
        as the bank's hash word (a wire, not a register): a delay line of their destinations, indices
        into ``prefix_keys``, loads them, so a result is in its register ``Latencies.result`` cycles
        after its job. Stream ``s``'s chain ``H(key(seed, s) ^ sample)`` is kept in ``P_{s,0}``'s
        register (index ``s·D``): ``P_{s,0}`` replaces it ``Latencies.result`` cycles after its job,
        when the last of the ``D`` jobs that read the chain (``P_{s,l} = H(chain_s ^ l)``, issued on
        consecutive cycles) has been issued (``D < result``)."""
        D = self._p.layers
        R = self._lat.result
        assert D < R, f"{D} layers: the chains would be overwritten before their last use"
        self._issued = issued = Signal(range(3 * D))
        valid_r = delay(m, self.job.valid & (self.job.payload.op == JobOp.PREFIX), R - 1, "prefix_v")
        dest_r = delay(m, issued, R - 1, "prefix_dest")
        in_dsp = self._keys_in_dsp
        for index, register in enumerate(self.prefix_keys[:in_dsp]):
            load = valid_r & (dest_r == index)
            m.d.comb += register.eq(mac16_register(m, self.prefix, load, f"prefix_key{index}"))
        with m.If(valid_r):
            with m.Switch(dest_r):
                for index in range(in_dsp, len(self.prefix_keys)):
                    with m.Case(index):
                        m.d.sync += self.prefix_keys[index].eq(self.prefix)

    def _prefix_states(self, m: Module) -> None:
        issued, D = self._issued, self._p.layers
        with m.State("prefix"):              # H(key(seed, s) ^ sample) for s = OUT, FF, REC
            with m.If(self.counter < 3):
                self._issue(op=JobOp.PREFIX, key=self._keyed(const=self.counter[:2], operand=1))
                m.d.comb += issued.eq(self.counter * D)                              # chain_s in P_{s,0}
            m.d.sync += self.counter.eq(self.counter + 1)
            with m.If(self.counter == 3 + self._lat.result):
                m.d.sync += [self.counter.eq(0), self.major.eq(0), self.minor.eq(0)]
                m.next = "prefix_layers"
        with m.State("prefix_layers"):       # P_{s,l} = H(chain_s ^ l): 3·D jobs, index s·D + l
            with m.If(self.counter < 3 * D):
                self._issue(op=JobOp.PREFIX, key=self._keyed(reg=self.major * D, operand=2))  # s, l
                m.d.comb += issued.eq(self.counter)                                  # s·D + l
                self._count2(m, D)
            m.d.sync += self.counter.eq(self.counter + 1)
            with m.If(self.counter == 3 * D + self._lat.result):
                m.d.sync += [self.counter.eq(0), self.major.eq(0), self.minor.eq(0)]
                m.next = "rowkeys"

    # ------------------------------------------------------------------ row keys
    def _key_states(self, m: Module) -> None:
        p = self._p
        D, q_out = p.layers, p.readout_words
        with m.State("rowkeys"):             # readout row keys of layer l: H(P_{OUT,l} ^ k)
            with m.If(self.counter < q_out):
                self._issue(op=JobOp.ROWKEY, key=self._keyed(reg=0 * D + self.layer), field=0, a=self.counter)
            m.d.sync += self.counter.eq(self.counter + 1)
            with m.If(self.counter == q_out - 1 + self._lat.key_gap):
                self._start_walk(m, readout=True)
                m.next = "readout"
        with m.State("hidden_keys"):         # per group: FB, FF, REC row keys (fields 0, 1, 2)
            group, field = self.major, self.minor
            with m.If(self.counter < Array(3 * q for q in p.words)[self.layer]):
                key = self._keyed(const=3 + self.layer, reg=field * D + self.layer, use_const=field == 0)
                self._issue(op=JobOp.ROWKEY, key=key, field=field, a=group)
                self._count2(m, 3)
            m.d.sync += self.counter.eq(self.counter + 1)
            with m.If(self.counter == Array(3 * q - 1 + self._lat.key_gap for q in p.words)[self.layer]):
                m.d.sync += [self.counter.eq(0), self.major.eq(0), self.minor.eq(0)]
                m.next = "signs"

    # ------------------------------------------------------------------ signs and gates
    def _sign_logic(self, m: Module, platform: object) -> None:
        """Gate bits come back in the order of their groups: group ``a``'s goes to address ``a`` of the
        gate-bit memory (``gate_bits``). The walked group's bit (``w_a``; group 0 before a hidden walk
        starts) is held in ``gate_now``: the first result of a sign pass, then the memory's bit of
        the next group whenever the walk moves on (``shift_gates``). The memory is read one group
        ahead (at the next cycle's ``w_a + 1``), so the next group's bit is its read data (0 past the
        layer's last group). A read that collides with a write (during a sign pass) is never used
        (asserted): the iCE40 build drops its read-first emulation (:data:`COLLISION_UNUSED`)."""
        p = self._p
        words = max(p.words)
        self._results = results = Signal(range(words + 1))
        self._shift_gates, self._walk_start = Signal(name="shift_gates"), Signal(name="walk_start")
        bits = Memory(shape=1, depth=words, init=[])
        m.submodules.gate_bits = bits
        write, read = bits.write_port(), bits.read_port()
        ahead = Signal(range(words + 2), name="gate_ahead")     # the next cycle's w_a + 1
        m.d.comb += [write.addr.eq(results), write.en.eq(self.gated_valid), write.data.eq(self.gated),
                     read.addr.eq(ahead)]
        if is_ice40_up(platform):               # one adder, shift_gates its carry in (40 cells fewer)
            m.d.comb += ahead.eq(Mux(self._walk_start, 1, self.w_a + 1 + self._shift_gates))
        else:                                   # both sums from w_a, the late shift_gates only selects
            m.d.comb += ahead.eq(Mux(self._walk_start, 1, Mux(self._shift_gates, self.w_a + 2, self.w_a + 1)))
        self._gate_next = read.data & delay(m, ahead < Array(p.words)[self.layer], 1, "gate_in_layer")
        self._gate_now = Signal(name="gate_now")
        with m.If(self.gated_valid & (results == 0)):
            m.d.sync += self._gate_now.eq(self.gated)
        with m.If(self._shift_gates):
            m.d.sync += self._gate_now.eq(self._gate_next)
        with m.If(self.gated_valid):
            m.d.sync += results.eq(results + 1)
        collided = delay(m, write.en & (write.addr == read.addr), 1, "gate_collided")
        m.d.comb += [Assert(~(self.gated_valid & self._shift_gates), "a gate bit arrived during a hidden walk"),
                     Assert(~(collided & self.w_active & ~self.w_readout), "a hidden walk used a collided gate read")]

    def _gate(self, ahead: int = 0) -> Value:
        """The gate bit of the group the hidden walk is at (``w_a``; group 0 before it starts), or of
        the group ``ahead`` = 1 after it (0 past the layer's last group)."""
        return self._gate_now if ahead == 0 else self._gate_next

    def _sign_states(self, m: Module) -> None:
        cfg, p = self._cfg, self._p
        C = cfg.n_classes
        words = Array(p.words)
        pop_base = Array(p.pop_base)
        results = self._results
        with m.State("signs"):               # C jobs per group: L_i = Σ_c ±m_c, then G_i = L_i·H_i
            group, c = self.major, self.minor
            with m.If(self.counter == 0):
                m.d.sync += results.eq(0)
            with m.If(self.counter < Array(C * q for q in p.words)[self.layer]):
                self._issue(op=JobOp.SIGN, a=group, c=c, m=self.levels[c], last=c == C - 1,
                            haddr=pop_base[self.layer] + group)
                m.d.sync += self.counter.eq(self.counter + 1)
                self._count2(m, C)
            with m.Elif(results == words[self.layer]):
                self._start_walk(m, readout=False)
                m.next = "hidden"

    # ------------------------------------------------------------------ SR passes
    def _walker_state(self, m: Module) -> None:
        """Registers of the walker (positions → X reads → FIFO) and the issuer (FIFO → SR jobs)."""
        p = self._p
        self.w_active = Signal()               # the walker still has positions to produce
        self.w_readout = Signal()              # readout pass (else hidden pass)
        self.w_j = Signal(p.neuron_bits + 1)   # source (readout) or column (hidden)
        self.w_a = Signal(self._entry.members["a"])
        self.w_waddr = Signal(self._entry.members["waddr"])
        self.i_remaining = Signal(self._entry.members["count"])
        self.i_entry = Signal(self._entry)
        self.i_w = Signal(self._entry.members["waddr"])
        self.i_k = Signal(self._entry.members["a"])
        self.tick = Signal(init=1)             # an issue slot (every cycle, or every other one)
        if self._cfg.weight_ports == 1:
            m.d.sync += self.tick.eq(~self.tick)

    def _start_walk(self, m: Module, readout: bool) -> None:
        cfg, p = self._cfg, self._p
        lr = Mux(readout, cfg.lr_shift_out, Array(s + cfg.eligibility_shift for s in cfg.lr_shift_hidden)[self.layer])
        m.d.comb += self._walk_start.eq(1)
        m.d.sync += [self.w_active.eq(1), self.w_readout.eq(readout), self.w_j.eq(0), self.w_a.eq(0),
                     self.tick.eq(FIRST_SLOT if cfg.weight_ports == 1 else 1),
                     self.w_waddr.eq(0 if readout else Array(b[0] for b in p.weight_base)[self.layer]),
                     self.shift.eq(32 - (lr + self.lr_extra)), self.counter.eq(0),
                     self.major.eq(0), self.minor.eq(0)]
        if not readout:
            with m.If(~self._gate()):
                m.d.sync += self.w_j.eq(Array(cfg.layer_inputs(l) + n for l, n in enumerate(cfg.hidden))[self.layer])

    def _walk_logic(self, m: Module) -> None:
        cfg, p = self._cfg, self._p
        D, B = p.layers, p.banks
        lane_bits = (B - 1).bit_length()
        n_l = Array(cfg.hidden)[self.layer]
        n_pre = Array(cfg.layer_inputs(l) for l in range(D))[self.layer]
        q_l = Array(p.words)[self.layer]
        pop_base = Array(p.pop_base)
        fifo = SimpleNamespace(reserve=Signal(range(FIFO_DEPTH), name="fifo_reserve"),
                               complete=Signal(range(FIFO_DEPTH), name="fifo_complete"),
                               take=Signal(range(FIFO_DEPTH), name="fifo_take"),
                               level=Signal(range(FIFO_DEPTH + 1), name="fifo_level"))   # complete, not taken
        # ---- walker: one position per cycle while the FIFO has room for it
        inflight = Signal(range(X_LATENCY + 3))
        walking = Signal()
        position = Signal(self._entry)
        is_ff = ~self.w_readout & (self.w_j < n_pre)
        col = Mux(self.w_readout | is_ff, self.w_j, self.w_j - n_pre)
        skip_group = ~self.w_readout & ~self._gate()
        from_encoder = is_ff & (self.layer == 0)
        x_pop = Mux(self.w_readout | ~is_ff, self.layer, self.layer - 1)
        m.d.comb += [walking.eq(self.w_active & (fifo.level + inflight < FIFO_DEPTH)),
                     self.x_addr.eq(pop_base[x_pop] + (col >> lane_bits)), self.x_en.eq(walking & ~from_encoder),
                     self.ptr_addr.eq(Array(p.pointer_base)[self.layer] + self.w_j), self.ptr_en.eq(1),
                     position.j.eq(col), position.a.eq(self.w_a), position.waddr.eq(self.w_waddr),
                     position.matrix.eq(Mux(self.w_readout, Matrix.OUT, Mux(is_ff, Matrix.FF, Matrix.REC))),
                     position.count.eq(Mux(skip_group, 0, 1))]
        enc_addr = delay(m, col >> lane_bits, 1, "enc_x_addr")
        m.d.comb += [self.enc_x_addr.eq(enc_addr), self.enc_x_en.eq(delay(m, walking & from_encoder, 1, "enc_x_en"))]
        with m.If(walking):
            self._advance_walker(m, n_l, n_pre, q_l)
        # ---- read pipeline: X (and the readout pointer) arrive X_LATENCY cycles later; the bank
        # multiplexer's output is registered before it enters the FIFO
        lane = delay(m, position.j % B, X_LATENCY, "walk_lane")
        enc_x = delay(m, from_encoder, X_LATENCY, "walk_enc")
        x = delay(m, Mux(enc_x, self.enc_x_data[lane], self.x_data[lane]), 1, "walk_x")
        valid_x = delay(m, walking, X_LATENCY + 1, "walk_v")
        ptr = delay(m, self.ptr_data, X_LATENCY, "walk_ptr")
        head, ready, taken = self._fifo(m, fifo, walking, position, valid_x, x, ptr)
        m.d.sync += inflight.eq(inflight + walking - valid_x)
        self._issuer(m, head, ready, taken)
        self._walk_idle = ~self.w_active & (inflight == 0) & ~ready & (self.i_remaining == 0)

    def _fifo(self, m: Module, fifo: SimpleNamespace, walking: Value, position: Value, valid_x: Value,
              x: Value, ptr: Value) -> tuple[Value, Value, Signal]:
        """The walker's FIFO: an entry is reserved (``walking``, at ``fifo.reserve``) with its
        position's fields, completed in order ``WALK_LATENCY`` cycles later (``valid_x``, at
        ``fifo.complete``) with X and a readout entry's count and first word, and taken in order
        by the issuer (at ``fifo.take``). Returns the head entry, ``ready`` and ``taken``.

        The position's fields go into a memory (:meth:`early_layout`) read at the next head's index
        every cycle: an entry is reserved at least ``WALK_LATENCY + 1`` cycles before it can be taken,
        so the read (one cycle) always sees it. The completed fields go into a second memory read at
        the same index through a transparent port (an entry completed in the cycle before its take
        is read as written). A walk is all readout or all hidden (the FIFO drains in between): a
        hidden entry's count and word are its position's, a readout entry's come with its pointer."""
        early = Memory(shape=self.early_layout(self._cfg), depth=FIFO_DEPTH, init=[])
        late = Memory(shape=self.late_layout(self._cfg), depth=FIFO_DEPTH, init=[])
        m.submodules.fifo_early, m.submodules.fifo_late = early, late
        write, read = early.write_port(), early.read_port()
        late_write = late.write_port()
        late_read = late.read_port(transparent_for=(late_write,))
        ready, taken = Signal(name="fifo_ready"), Signal(name="fifo_taken")
        m.d.comb += ready.eq(fifo.level != 0)
        steps = ((fifo.reserve, walking), (fifo.complete, valid_x), (fifo.take, taken))
        after = {id(pointer): Mux(pointer == FIFO_DEPTH - 1, 0, pointer + 1) for pointer, _ in steps}
        for pointer, step in steps:
            with m.If(step):
                m.d.sync += pointer.eq(after[id(pointer)])
        m.d.sync += fifo.level.eq(fifo.level + valid_x - taken)
        m.d.comb += [write.addr.eq(fifo.reserve), write.en.eq(walking),
                     write.data.matrix.eq(position.matrix), write.data.j.eq(position.j), write.data.a.eq(position.a),
                     write.data.live.eq(position.count), write.data.waddr.eq(position.waddr),
                     read.addr.eq(Mux(taken, after[id(fifo.take)], fifo.take)),
                     late_write.addr.eq(fifo.complete), late_write.en.eq(valid_x), late_write.data.x.eq(x),
                     late_write.data.count.eq(Mux(x != 0, ptr.words, 0)), late_write.data.waddr.eq(ptr.start),
                     late_read.addr.eq(read.addr)]
        collided = delay(m, write.en & (write.addr == read.addr), 1, "fifo_collided")
        m.d.comb += Assert(~(taken & collided), "the FIFO took an entry read while it was being reserved")
        late_head = late_read.data
        head = Signal(self._entry, name="fifo_head")
        m.d.comb += [head.matrix.eq(read.data.matrix), head.j.eq(read.data.j), head.a.eq(read.data.a),
                     head.x.eq(late_head.x),
                     head.count.eq(Mux(self.w_readout, late_head.count, read.data.live)),
                     head.waddr.eq(Mux(self.w_readout, late_head.waddr, read.data.waddr))]
        return head, ready, taken

    def _walk_states(self, m: Module) -> None:
        idle = self._walk_idle
        for name, readout in (("readout", True), ("hidden", False)):
            with m.State(name):
                with m.If(idle & (self.counter == 0)):
                    m.d.sync += self.counter.eq(self._lat.drain)
                with m.Elif(idle & (self.counter == 1)):
                    m.d.sync += [self.counter.eq(0), self.major.eq(0), self.minor.eq(0)]
                    self._after_walk(m, readout)
                with m.Elif(idle):
                    m.d.sync += self.counter.eq(self.counter - 1)

    def _advance_walker(self, m: Module, n_l: Value, n_pre: Value, q_l: Value) -> None:
        """Next position: readout sources 0 … n_l − 1; hidden: per group, its columns, or one slot."""
        ff_base = Array(b[0] for b in self._p.weight_base)[self.layer]
        rec_base = Array(b[1] for b in self._p.weight_base)[self.layer]
        last_col = n_pre + n_l - 1
        gated = self._gate()
        next_gated = self._gate(1)
        with m.If(self.w_readout):
            m.d.sync += self.w_j.eq(self.w_j + 1)
            with m.If(self.w_j == n_l - 1):
                m.d.sync += self.w_active.eq(0)
        with m.Elif(~gated | (self.w_j == last_col)):           # next group
            m.d.comb += self._shift_gates.eq(1)
            m.d.sync += [self.w_a.eq(self.w_a + 1), self.w_waddr.eq(ff_base + self.w_a + 1),
                         self.w_j.eq(Mux(next_gated, 0, last_col))]
            with m.If(self.w_a == q_l - 1):
                m.d.sync += self.w_active.eq(0)
        with m.Elif(self.w_j == n_pre - 1):
            m.d.sync += [self.w_j.eq(self.w_j + 1), self.w_waddr.eq(rec_base + self.w_a)]
        with m.Else():
            m.d.sync += [self.w_j.eq(self.w_j + 1), self.w_waddr.eq(self.w_waddr + q_l)]

    def _issuer(self, m: Module, head: Value, ready: Value, take: Signal) -> None:
        """One slot per ``r`` cycles (``r = 3 − weight_ports``; ``tick`` marks the slots): an entry of
        count c takes max(1, c) slots and issues c SR jobs. With a single-port weight memory the SR
        jobs are two cycles apart, so each job's weight read (P1+h) and write (P6+h, odd distance) fall
        into cycles of their own."""
        tick = self.tick
        m.d.comb += take.eq(ready & (self.i_remaining <= 1) & tick)
        with m.If((self.i_remaining != 0) & tick):
            m.d.sync += [self.i_remaining.eq(self.i_remaining - 1), self.i_w.eq(self.i_w + 1),
                         self.i_k.eq(self.i_k + 1)]
        with m.If(take):
            m.d.sync += [self.i_remaining.eq(Mux(head.count == 0, 1, head.count)), self.i_entry.eq(head),
                         self.i_w.eq(head.waddr), self.i_k.eq(0)]
        live = (self.i_remaining != 0) & (self.i_entry.count != 0) & tick
        with m.If(live):                  # a readout job carries its word's index among the source's words
            self._issue(op=JobOp.SR, matrix=self.i_entry.matrix, waddr=self.i_w, j=self.i_entry.j,
                        x=self.i_entry.x, a=Mux(self.i_entry.matrix == Matrix.OUT, self.i_k, self.i_entry.a))

    def _after_walk(self, m: Module, readout: bool) -> None:
        cfg, D = self._cfg, self._p.layers
        if readout and cfg.learn_hidden:
            m.next = "hidden_keys"
            return
        with m.If(self.layer == D - 1):
            m.next = "done"
        with m.Else():
            m.d.sync += [self.layer.eq(self.layer + 1), self.counter.eq(0), self.major.eq(0),
                             self.minor.eq(0)]
            m.next = "rowkeys"
