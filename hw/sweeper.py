"""Sweeper: one population's LIF update across the array, and its spikes as address events.

On ``start`` with ``pop`` (``0 … D−1`` a hidden layer, ``D`` the readout) it issues the population's
``q`` words, one per cycle, as sweep commands (state word ``pop_base + a``) to every bank, with the
population's ``θ`` and boxcar bounds held on ``theta``/``lo``/``hi``; each word's spike bits come back from the banks
:data:`SPIKE_LATENCY` cycles later and go through a :class:`~modsnn.hw.serializer.SpikeSerializer`,
whose events leave on ``events`` in ascending neuron order. A sweep with ``p_a`` spikes in word ``a``
is ``done`` :data:`SWEEP_OVERHEAD` + ``Σ_a max(1, p_a)`` cycles after ``start``.
"""

from amaranth.hdl import Array, Module, Signal, signed
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from ..golden_model.config import Config
from .bank import SWEEP_LATENCY, delay
from .core import CORE_LATENCY
from .formats import formats_for
from .params import checked_params
from .serializer import SpikeSerializer

__all__ = ["SPIKE_LATENCY", "SWEEP_OVERHEAD", "Sweeper"]

SPIKE_LATENCY = CORE_LATENCY + SWEEP_LATENCY       # sweep command → spike bits at the sweeper
SWEEP_OVERHEAD = 1 + SPIKE_LATENCY + 1             # start → word 0 issued, → written, → loadable


class Sweeper(wiring.Component):
    """Sweeps of every population of ``cfg``."""

    def __init__(self, cfg: Config) -> None:
        self._p = p = checked_params(self, cfg)
        fmt = formats_for(cfg)
        self._cfg = cfg
        super().__init__({
            "start": In(1), "pop": In(range(p.layers + 1)), "done": Out(1),
            "sweep": Out(fmt.stream(fmt.sweep_command)),
            "theta": Out(signed(cfg.membrane_bits)), "lo": Out(signed(cfg.membrane_bits)),
            "hi": Out(signed(cfg.membrane_bits)),            # of the population being swept
            "spikes": In(p.banks),                          # from the banks, SPIKE_LATENCY after the command
            "events": Out(stream.Signature(p.neuron_bits, always_ready=True)),
            "word_valid": Out(1), "word_addr": Out(range(max(*p.words, p.readout_words))),  # the monitor
        })

    def elaborate(self, platform: object) -> Module:
        cfg, p = self._cfg, self._p
        D = p.layers
        m = Module()
        depth = max(*p.words, p.readout_words)
        m.submodules.serializer = ser = SpikeSerializer(p.banks, depth)
        words = Array([*p.words, p.readout_words])
        thetas = [*cfg.threshold, cfg.readout_threshold]
        bounds = [cfg.boxcar(l) for l in range(D)] + [(0, 0)]
        a = Signal(range(depth + 1))
        active = Signal()
        pop = Signal(range(D + 1))
        with m.If(self.start):
            m.d.sync += [a.eq(0), active.eq(1), pop.eq(self.pop)]
            m.d.comb += [ser.start.eq(1), ser.words.eq(words[self.pop])]
        with m.Elif(active):
            m.d.sync += a.eq(a + 1)
            with m.If(a == words[pop] - 1):
                m.d.sync += active.eq(0)
        cmd = self.sweep.payload
        m.d.comb += [self.sweep.valid.eq(active), cmd.addr.eq(Array(p.pop_base)[pop] + a),
                     self.theta.eq(Array(thetas)[pop]), self.lo.eq(Array(lo for lo, _ in bounds)[pop]),
                     self.hi.eq(Array(hi for _, hi in bounds)[pop])]
        back = delay(m, active, SPIKE_LATENCY, "back")
        m.d.comb += [ser.word.valid.eq(back), ser.word.payload.eq(self.spikes),
                     self.events.valid.eq(ser.event.valid), self.events.payload.eq(ser.event.payload),
                     self.word_valid.eq(back), self.word_addr.eq(delay(m, a, SPIKE_LATENCY, "back_a")),
                     self.done.eq(ser.done & ~active)]
        return m
