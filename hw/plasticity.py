"""Modulatory-gated plasticity engine: the three-factor update with stochastic rounding.

Runs at the end of a training presentation, on ``start``, with the modulatory levels ``m_c`` of
the :class:`~modsnn.hw.modulator.Modulator` held on ``m``. Every update is (with ``r`` the top
``s`` bits of the element word of the counter-based generator, :mod:`modsnn.golden_model.rng`)::

    SR(v, s) = (v + r) >> s,   r = word >> (32 − s),   word = H(H(P ^ row) ^ col)
    P        = key(seed, stream, sample, layer)   (computed in 6 hash passes per update)
    w       ← clamp(w + SR(v, s), −w_max, w_max)

1. **Readout** (stream ``ROUND_OUT``, ``s = lr_shift_out + lr_extra``): for every hidden source
   ``j`` with ``X_j ≠ 0`` (the eligibility factor, read from the hidden core), every routing word
   of ``j`` and every lane with a synapse to ``k``: ``v = m_{k mod C} · X_j``; the lane is written
   only where ``m_{k mod C} ≠ 0`` (gating). Cost ``2`` cycles per source plus ``words[j]``.
2. **Hidden** (streams ``ROUND_FF``/``ROUND_REC``, ``s = lr_shift_hidden + ceil(log2 T) +
   lr_extra``), per group of ``L`` rows ``i = a·L + ℓ``: read ``H_i``; derive the row keys and the
   broadcast-alignment signal ``L_i = Σ_c B_ic m_c`` with ``B_ic = ±1`` regenerated from stream
   ``FEEDBACK`` (bit 31 of ``H(H(P_fb ^ i) ^ c)``, never stored); ``G_i = L_i·H_i``. When some
   ``G_i ≠ 0`` (gating), sweep the ``n_in`` feed-forward and ``n`` recurrent words of the group:
   ``v = G_i · X_j`` (``X`` of the input, resp. of the hidden neuron ``k``), written only where
   ``G_i ≠ 0`` and off the diagonal. Cost ``L + C + 6`` cycles per group plus ``n_in + n`` when gated.

Nothing runs when every ``m_c`` is 0. Read-modify-writes go out on ``wb`` (stream of
:attr:`~modsnn.hw.formats.Formats.weight_write`); back-pressure there freezes the engine.
``lr_extra`` (0–7) is the learning-rate decay of the schedule.
"""

from amaranth.hdl import Array, Cat, Module, Mux, Signal, Value, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ..golden_model.config import Config
from ..golden_model.rng import Stream, key_int
from .common import check_rtl_config, rejected
from .formats import Matrix, formats_for
from .hash import hash32
from .synapse_memory import pointer_read_signature, weight_read_signature

__all__ = ["PlasticityEngine", "sr_update"]

LR_EXTRA_MAX = 7


def sr_update(m: Module, cfg: Config, w_old: Value, v: Value, word: Value, shift: Value) -> Value:
    """``clamp(w_old + ((v + (word >> (32 − shift))) >> shift), −w_max, w_max)`` as logic."""
    rsh = Signal(range(33))
    m.d.comb += rsh.eq(32 - shift)
    r = Signal(32)
    m.d.comb += r.eq(word >> rsh)
    delta = Signal(signed(len(v) + 2))
    m.d.comb += delta.eq((v + r) >> shift)
    total = Signal(signed(max(len(delta), cfg.weight_bits) + 1))
    m.d.comb += total.eq(w_old + delta)
    new = Signal(signed(cfg.weight_bits))
    m.d.comb += new.eq(Mux(total > cfg.w_max, cfg.w_max, Mux(total < -cfg.w_max, -cfg.w_max, total)))
    return new


class PlasticityEngine(wiring.Component):
    """Three-factor update of hidden layer 0's ``FF``, ``REC`` and ``OUT`` weights."""

    def __init__(self, cfg: Config) -> None:
        self._cfg = check_rtl_config(self, cfg)
        largest = max(cfg.lr_shift_out, cfg.lr_shift_hidden[0] + cfg.eligibility_shift) + LR_EXTRA_MAX
        if largest > 32:
            raise rejected(self, ValueError(
                f"learning-rate shifts up to {largest} (lr_shift + eligibility shift + {LR_EXTRA_MAX} of decay) "
                f"exceed the 32 random bits of the generator; lower lr_shift_out or lr_shift_hidden"))
        self._fmt = fmt = formats_for(cfg)
        C = cfg.n_classes
        self.level_bits = cfg.mod_levels.bit_length() + 1
        self.h_bits, self.xsum_bits = fmt.h_bits, fmt.xsum_bits
        super().__init__({
            "start": In(1),
            "busy": Out(1),
            "m": In(data.ArrayLayout(signed(self.level_bits), C)),
            "sample": In(32),
            "lr_extra": In(range(LR_EXTRA_MAX + 1)),
            "hid_addr": Out(fmt.neuron_bits),
            "hid_h": In(self.h_bits),
            "hid_xsum": In(self.xsum_bits),
            "in_addr": Out(fmt.neuron_bits),
            "in_xsum": In(self.xsum_bits),
            "mem": Out(weight_read_signature(fmt)),
            "ptr": Out(pointer_read_signature(fmt)),
            "wb": Out(stream.Signature(fmt.weight_write)),
        })

    def elaborate(self, platform: object) -> Module:
        cfg, fmt = self._cfg, self._fmt
        L, C, n, n_in = cfg.lanes, cfg.n_classes, cfg.hidden[0], cfg.n_inputs
        K = n // L                                               # words per dense column
        m = Module()
        levels = Array(self.m[c] for c in range(C))
        stall = Signal()
        m.d.comb += stall.eq(self.wb.valid & ~self.wb.ready)

        # ---- read addresses towards the cores: held while stalled (their read ports have no enable)
        hid_addr, in_addr = Signal.like(self.hid_addr), Signal.like(self.in_addr)
        last_hid, last_in = Signal.like(self.hid_addr), Signal.like(self.in_addr)
        m.d.comb += [self.hid_addr.eq(Mux(stall, last_hid, hid_addr)), self.in_addr.eq(Mux(stall, last_in, in_addr))]
        m.d.sync += [last_hid.eq(self.hid_addr), last_in.eq(self.in_addr)]

        # ---- prefix keys key(seed, stream, sample, 0) for the three rounding streams
        k_const = {s: key_int(cfg.seed, int(s)) for s in (Stream.ROUND_OUT, Stream.ROUND_FF, Stream.ROUND_REC)}
        p_fb = key_int(cfg.seed, int(Stream.FEEDBACK), 0, 0)
        p_out, p_ff, p_rec, chain = Signal(32), Signal(32), Signal(32), Signal(32)
        kin = Signal(32)
        kout = hash32(m, kin, "prefix")

        # ---- stage B: a word is on the memory ports
        b_valid = Signal()
        b_mode = Signal(Matrix)
        b_x = Signal(self.xsum_bits)                             # X_j of the readout pass
        b_j = Signal(fmt.neuron_bits)                            # column of the element word
        b_addr = Signal(fmt.word_bits)
        lr_out = Signal(6)
        lr_hid = Signal(6)
        m.d.comb += [lr_out.eq(cfg.lr_shift_out + self.lr_extra),
                     lr_hid.eq(cfg.lr_shift_hidden[0] + cfg.eligibility_shift + self.lr_extra)]
        x_b = Mux(b_mode == Matrix.OUT, b_x, Mux(b_mode == Matrix.FF, self.in_xsum, self.hid_xsum))
        group = Signal(range(K + 1))
        b_group = Signal(range(K + 1))                           # group of the word in stage B
        in_keys = Signal()                                      # preamble: unit 1 derives row keys
        key_sel = Signal(2)
        in_fb = Signal()                                        # preamble: unit 2 draws feedback signs
        fb_c = Signal(range(C + 1))
        lanes = []
        for lane in range(L):
            st = {"rk_ff": Signal(32, name=f"rk_ff{lane}"), "rk_rec": Signal(32, name=f"rk_rec{lane}"),
                  "rk_fb": Signal(32, name=f"rk_fb{lane}"),
                  "H": Signal(self.h_bits, name=f"h{lane}"),
                  "L": Signal(signed((C * cfg.mod_levels).bit_length() + 1), name=f"l{lane}"),
                  "G": Signal(signed((C * cfg.mod_levels * cfg.timesteps).bit_length() + 1), name=f"g{lane}")}
            row = group * L + lane                              # hidden row of this lane
            route = self.mem.route[lane]
            k = route.addr * L + lane                           # readout target neuron
            # unit 1: row keys (readout targets in stage B, hidden rows in the preamble)
            a1 = Mux(in_keys, Mux(key_sel == 0, p_ff, Mux(key_sel == 1, p_rec, p_fb)), p_out)
            b1 = Mux(in_keys, row, k)
            rowkey = hash32(m, a1 ^ b1, f"rowkey{lane}")
            # unit 2: element words (stage B) and feedback signs (preamble)
            a2 = Mux(in_fb, st["rk_fb"], Mux(b_mode == Matrix.OUT, rowkey,
                                             Mux(b_mode == Matrix.FF, st["rk_ff"], st["rk_rec"])))
            b2 = Mux(in_fb, fb_c, b_j)
            word = hash32(m, a2 ^ b2, f"word{lane}")
            st.update(rowkey=rowkey, word=word, row=row)
            class_of = Array((a * L + lane) % C for a in range(cfg.n_readout // L))
            mc = levels[class_of[route.addr]]
            v = Mux(b_mode == Matrix.OUT, mc * b_x, st["G"] * x_b)
            new = sr_update(m, cfg, self.mem.weights[lane], v, word, Mux(b_mode == Matrix.OUT, lr_out, lr_hid))
            en = Mux(b_mode == Matrix.OUT, route.valid & (mc != 0),
                     (st["G"] != 0) & ((b_mode != Matrix.REC) | (b_j != b_group * L + lane)))
            m.d.comb += [self.wb.payload.data[lane].eq(new), self.wb.payload.en[lane].eq(en)]
            lanes.append(st)
        m.d.comb += [self.wb.valid.eq(b_valid & self.wb.payload.en.any()),
                     self.wb.payload.matrix.eq(b_mode), self.wb.payload.addr.eq(b_addr)]

        issue = Signal()
        issue_matrix = Signal(Matrix)
        issue_addr = Signal(fmt.word_bits)
        issue_j = Signal(fmt.neuron_bits)
        issue_x = Signal(self.xsum_bits)
        m.d.comb += [self.mem.matrix.eq(issue_matrix), self.mem.addr.eq(issue_addr), self.mem.en.eq(issue & ~stall)]
        with m.If(~stall):
            m.d.sync += [b_valid.eq(issue), b_mode.eq(issue_matrix), b_addr.eq(issue_addr), b_j.eq(issue_j),
                         b_x.eq(issue_x), b_group.eq(group)]

        j = Signal(range(n_in + n + 1))
        w = Signal(fmt.word_bits)
        x_lat = Signal(self.xsum_bits)
        q = Signal(range(max(L, C, 6) + 2))
        col_addr = Signal(fmt.word_bits)
        any_m = Cat(*(self.m[c] != 0 for c in range(C))).any()

        def next_source() -> None:
            """The readout pass moves to source j + 1, or on to the hidden pass after the last."""
            m.d.sync += j.eq(j + 1)
            with m.If(j == n - 1):
                m.d.sync += [group.eq(0), q.eq(0)]
                m.next = "group_h" if cfg.learn_hidden else "finish"
            with m.Else():
                m.next = "out_source"

        with m.FSM(init="idle") as fsm:
            with m.State("idle"):
                with m.If(self.start & any_m):
                    m.d.sync += q.eq(0)
                    m.next = "keys"
            with m.State("keys"):                                # 6 hash passes: P_out, P_ff, P_rec
                consts = Array([k_const[Stream.ROUND_OUT], k_const[Stream.ROUND_FF], k_const[Stream.ROUND_REC]])
                with m.If(q[0] == 0):
                    m.d.comb += kin.eq(consts[q >> 1] ^ self.sample)
                    m.d.sync += chain.eq(kout)
                with m.Else():
                    m.d.comb += kin.eq(chain)                    # ^ layer 0
                    targets = Array([p_out, p_ff, p_rec])
                    m.d.sync += targets[q >> 1].eq(kout)
                m.d.sync += q.eq(q + 1)
                with m.If(q == 5):
                    m.d.sync += j.eq(0)
                    m.next = "out_source"
            # ---------------- readout pass
            with m.State("out_source"):
                with m.If(~stall):
                    m.d.comb += [hid_addr.eq(j), self.ptr.addr.eq(j), self.ptr.en.eq(1)]
                    m.next = "out_decide"
                with m.Else():
                    m.d.comb += hid_addr.eq(j)
            with m.State("out_decide"):
                m.d.comb += hid_addr.eq(j)
                with m.If(~stall):
                    with m.If((self.hid_xsum != 0) & (self.ptr.data.words != 0)):
                        m.d.sync += [x_lat.eq(self.hid_xsum), w.eq(0)]
                        m.next = "out_words"
                    with m.Else():
                        next_source()
            with m.State("out_words"):
                m.d.comb += [issue.eq(1), issue_matrix.eq(Matrix.OUT), issue_addr.eq(self.ptr.data.start + w),
                             issue_j.eq(j), issue_x.eq(x_lat)]
                with m.If(~stall):
                    m.d.sync += w.eq(w + 1)
                    with m.If(w == self.ptr.data.words - 1):
                        next_source()
            # ---------------- hidden pass, L rows at a time
            with m.State("group_h"):                             # H of the L rows: L + 1 cycles
                m.d.comb += hid_addr.eq(group * L + q)
                with m.If(~stall):
                    for lane, st in enumerate(lanes):
                        with m.If(q == lane + 1):
                            m.d.sync += st["H"].eq(self.hid_h)
                    m.d.sync += q.eq(q + 1)
                    with m.If(q == L):
                        m.d.sync += q.eq(0)
                        m.next = "group_keys"
            with m.State("group_keys"):                          # row keys: 3 cycles
                m.d.comb += [in_keys.eq(1), key_sel.eq(q)]
                for st in lanes:
                    with m.Switch(q):
                        for sel, name in enumerate(("rk_ff", "rk_rec", "rk_fb")):
                            with m.Case(sel):
                                m.d.sync += st[name].eq(st["rowkey"])
                    m.d.sync += st["L"].eq(0)
                m.d.sync += q.eq(q + 1)
                with m.If(q == 2):
                    m.d.sync += fb_c.eq(0)
                    m.next = "group_feedback"
            with m.State("group_feedback"):                      # L_i = Σ_c B_ic m_c: C cycles
                m.d.comb += in_fb.eq(1)
                for st in lanes:
                    m_c = levels[fb_c]
                    m.d.sync += st["L"].eq(st["L"] + Mux(st["word"][31], m_c, -m_c))
                m.d.sync += fb_c.eq(fb_c + 1)
                with m.If(fb_c == C - 1):
                    m.next = "group_gate"
            with m.State("group_gate"):                          # G_i = L_i·H_i; gating
                gated = Cat(*((st["L"] != 0) & (st["H"] != 0) for st in lanes)).any()
                for st in lanes:
                    m.d.sync += st["G"].eq(st["L"] * st["H"])
                m.d.sync += [j.eq(0), col_addr.eq(group)]
                with m.If(gated):
                    m.next = "group_sweep"
                with m.Else():
                    m.d.sync += [group.eq(group + 1), q.eq(0)]
                    with m.If(group == K - 1):
                        m.next = "finish"
                    with m.Else():
                        m.next = "group_h"
            with m.State("group_sweep"):                         # n_in FF words, then n REC words
                is_ff = j < n_in
                m.d.comb += [in_addr.eq(j), hid_addr.eq(j - n_in), issue.eq(1),
                             issue_matrix.eq(Mux(is_ff, Matrix.FF, Matrix.REC)), issue_addr.eq(col_addr),
                             issue_j.eq(Mux(is_ff, j, j - n_in))]
                with m.If(~stall):
                    m.d.sync += [j.eq(j + 1), col_addr.eq(Mux(j == n_in - 1, group, col_addr + K))]
                    with m.If(j == n_in + n - 1):
                        m.d.sync += [group.eq(group + 1), q.eq(0)]
                        with m.If(group == K - 1):
                            m.next = "finish"
                        with m.Else():
                            m.next = "group_h"
            with m.State("finish"):                              # the last write leaves stage B
                with m.If(~stall):
                    m.next = "idle"
        m.d.comb += self.busy.eq(~fsm.ongoing("idle") | b_valid)
        return m
