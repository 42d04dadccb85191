"""Readout populations, winner-take-all decision, error and modulatory levels.

Counts the readout spike events per class (neuron ``k`` belongs to class ``k mod C``; one event per
cycle, counted :data:`COUNT_LATENCY` cycles later), then, :data:`COUNT_LATENCY` cycles after ``start``
(so that an event in the cycle of ``start`` is counted), walks the classes ``c = 0 … C−1`` one per
cycle through a three-stage pipeline (label ``y``, ``R = target_count``)::

    prediction = argmax_c n_c                         ties → lowest class index (strict >)
    e_c = R·[c = y] − n_c                             exact
          (teaching = "margin": e_c = 0 for c ≠ y with n_c + margin ≤ n_y)
    m_c = clamp((e_c + 2^(mod_shift−1)) >> mod_shift, −K, K)       round half up, K = mod_levels

``m`` holds the modulatory levels (the spike counts of the ±populations) until the next ``start``;
``any_m`` says whether some ``m_c ≠ 0``. ``clear`` zeroes the counts. ``done`` rises ``C + 5``
cycles after ``start`` (cycle model: ``C + decide_overhead``).
"""

from amaranth.hdl import Array, Cat, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ..golden_model.config import Config
from .bank import delay
from .params import checked_params

__all__ = ["COUNT_LATENCY", "Modulator"]

COUNT_LATENCY = 2       # a spike event → its class count updated


class Modulator(wiring.Component):
    """Population counts → prediction, error ``e_c`` and levels ``m_c``."""

    def __init__(self, cfg: Config) -> None:
        self._p = p = checked_params(self, cfg)
        self._cfg = cfg
        C = cfg.n_classes
        super().__init__({
            "spikes": In(stream.Signature(p.neuron_bits, always_ready=True)),
            "clear": In(1), "start": In(1), "label": In(p.label_bits),
            "done": Out(1), "prediction": Out(p.label_bits), "any_m": Out(1),
            "counts": Out(data.ArrayLayout(unsigned(p.count_bits), C)),
            "m": Out(data.ArrayLayout(signed(p.level_bits), C)),
        })

    def elaborate(self, platform: object) -> Module:
        cfg, p = self._cfg, self._p
        C, K = cfg.n_classes, cfg.mod_levels
        m = Module()
        counts = Array(self.counts[c] for c in range(C))
        levels = Array(self.m[c] for c in range(C))
        # counting: event → class (a ROM of k mod C) → increment
        cls = delay(m, Array(k % C for k in range(p.readout_words * p.banks))[self.spikes.payload], 1, "cls")
        hit = delay(m, self.spikes.valid, 1, "hit")
        for c in range(C):                  # a counter per class (no shared read-modify-write multiplexer)
            with m.If(self.clear):
                m.d.sync += self.counts[c].eq(0)
            with m.Elif(hit & (cls == c)):
                m.d.sync += self.counts[c].eq(self.counts[c] + 1)
        # decision walk: stage 1 reads n_c, stage 2 computes e_c and the running argmax
        c1 = Signal(range(C + 1))
        walking = Signal()
        n_y = Signal(unsigned(p.count_bits))
        begin = delay(m, self.start, COUNT_LATENCY, "begin")     # the last spike event is counted by then
        waiting = Signal()
        with m.If(self.start):
            m.d.sync += waiting.eq(1)
        with m.If(begin):
            m.d.sync += [c1.eq(0), walking.eq(1), n_y.eq(counts[self.label]), waiting.eq(0)]
        with m.Elif(walking):
            m.d.sync += c1.eq(c1 + 1)
            with m.If(c1 == C - 1):
                m.d.sync += walking.eq(0)
        valid2, c2 = delay(m, walking, 1, "walk"), delay(m, c1, 1, "c")
        n2 = delay(m, counts[c1], 1, "n")
        label2 = delay(m, self.label, 1, "label")
        e = Signal(signed(p.count_bits + 2))
        taught = (n2 + cfg.teach_margin > n_y) if cfg.teaching == "margin" else 1
        with m.If(c2 == label2):
            m.d.comb += e.eq(cfg.target_count - n2)
        with m.Elif(taught):
            m.d.comb += e.eq(-n2)
        best = Signal(unsigned(p.count_bits))
        with m.If(begin):
            m.d.sync += [best.eq(0), self.prediction.eq(0)]
        with m.Elif(valid2):
            with m.If(n2 > best):
                m.d.sync += [best.eq(n2), self.prediction.eq(c2)]
        # stage 3: e_c registered, then rounded, clamped and written to m_c
        valid3, c3, e3 = delay(m, valid2, 1, "valid3"), delay(m, c2, 1, "c3"), delay(m, e, 1, "e3")
        half = (1 << (cfg.mod_shift - 1)) if cfg.mod_shift > 0 else 0
        q = Signal(signed(p.count_bits + 2))
        m.d.comb += q.eq((e3 + half) >> cfg.mod_shift)
        with m.If(valid3):
            m.d.sync += levels[c3].eq(Mux(q > K, K, Mux(q < -K, -K, q)))
        m.d.comb += [self.done.eq(~waiting & ~walking & ~valid2 & ~valid3),
                     self.any_m.eq(Cat(*(self.m[c] != 0 for c in range(C))).any())]
        return m

