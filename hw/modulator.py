"""Readout populations, winner-take-all decision, error and modulatory levels.

Counts the readout spikes per class (neuron ``k`` belongs to class ``k mod C``), then, on
``start``, walks the classes ``c = 0 … C−1`` one per cycle (label ``y``, ``R = target_count``)::

    prediction = argmax_c n_c                         ties → lowest class index (strict >)
    e_c = R·[c = y] − n_c                             exact
          (teaching = "margin": e_c = 0 for c ≠ y with n_c + margin ≤ n_y)
    m_c = clamp((e_c + 2^(mod_shift−1)) >> mod_shift, −K, K)       round half up

``m`` holds the modulatory levels (the spike counts of the ±populations) until the next ``start``.
``clear`` zeroes the counts. A decision takes ``C + 1`` cycles (cycle model: ``mod_overhead``).
"""

from amaranth.hdl import Array, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ..golden_model.config import Config
from .common import check_rtl_config
from .formats import bits_for, formats_for

__all__ = ["Modulator"]


class Modulator(wiring.Component):
    """Population counts → prediction, error ``e_c`` and levels ``m_c`` for ``cfg``."""

    def __init__(self, cfg: Config) -> None:
        self._cfg = check_rtl_config(self, cfg)
        fmt = formats_for(cfg)
        C = cfg.n_classes
        self.count_bits = (cfg.pop * cfg.timesteps).bit_length()
        self.level_bits = (cfg.mod_levels.bit_length() + 1)
        super().__init__({
            "spikes": In(stream.Signature(fmt.address_event)),
            "clear": In(1),
            "start": In(1),
            "label": In(bits_for(C)),
            "busy": Out(1),
            "prediction": Out(bits_for(C)),
            "counts": Out(data.ArrayLayout(unsigned(self.count_bits), C)),
            "m": Out(data.ArrayLayout(signed(self.level_bits), C)),
        })

    def elaborate(self, platform: object) -> Module:
        cfg = self._cfg
        C, K = cfg.n_classes, cfg.mod_levels
        m = Module()
        class_of = Array(k % C for k in range(cfg.n_readout))
        m.d.comb += self.spikes.ready.eq(1)
        counts = Array(self.counts[c] for c in range(C))
        with m.If(self.clear):
            m.d.sync += [self.counts[c].eq(0) for c in range(C)]
        with m.Elif(self.spikes.valid):
            c = class_of[self.spikes.payload.addr]
            m.d.sync += counts[c].eq(counts[c] + 1)
        c = Signal(range(C + 1))
        best = Signal(unsigned(self.count_bits))
        n_c = counts[c]
        n_y = counts[self.label]
        e = Signal(signed(self.count_bits + 2))
        taught = Signal()                 # margin teaching: only competitors within the margin learn
        m.d.comb += taught.eq(n_c + cfg.teach_margin > n_y if cfg.teaching == "margin" else 1)
        with m.If(c == self.label):
            m.d.comb += e.eq(cfg.target_count - n_c)
        with m.Elif(taught):
            m.d.comb += e.eq(-n_c)
        half = (1 << (cfg.mod_shift - 1)) if cfg.mod_shift > 0 else 0
        q = Signal(signed(self.count_bits + 2))
        m.d.comb += q.eq((e + half) >> cfg.mod_shift)
        level = Mux(q > K, K, Mux(q < -K, -K, q))
        levels = Array(self.m[i] for i in range(C))
        with m.FSM(init="idle"):
            with m.State("idle"):
                with m.If(self.start):
                    m.d.sync += [c.eq(0), best.eq(0), self.prediction.eq(0)]
                    m.next = "walk"
            with m.State("walk"):
                m.d.comb += self.busy.eq(1)
                m.d.sync += [levels[c].eq(level), c.eq(c + 1)]
                with m.If(n_c > best):
                    m.d.sync += [best.eq(n_c), self.prediction.eq(c)]
                with m.If(c == C - 1):
                    m.next = "idle"
        return m
