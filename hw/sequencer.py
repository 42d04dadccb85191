"""The sequencer: the phases of one sample, and the cycle counters that account for them.

::

    clear     zero every state word and accumulator (one per cycle, all banks), the encoder, the
              class counts and the spike lists (``mod_clear``, ``lists_clear``: the first cycle)
    per step t = 0 … T−1:
      encode    the encoder sweeps step t while the dispatcher plays run 0 (REC_0)
      run 1     FF_0;  sweep layer 0
      run l+1   OUT_{l−1}, REC_l, FF_l;  sweep layer l           (l = 1 … D−1)
      run D+1   OUT_{D−1};  sweep the readout (class counts)
    decide    prediction, error, modulatory levels
    learn     (training, some m_c ≠ 0) the plasticity passes
    finish    (training) the sample counter increments

Every phase starts in the cycle the previous one is done (the unit's ``done``), so each phase's
cycles are the unit's own closed formula (:mod:`modsnn.golden_model.cycles`). The counters add each
busy cycle to exactly one of ``integration`` (encode, runs), ``sweep`` (clear, sweeps, finish),
``decide`` and ``plasticity``.
"""

from amaranth.hdl import Module, Signal
from amaranth.lib import data, enum, wiring
from amaranth.lib.wiring import In, Out

from ..golden_model.config import Config
from .formats import formats_for
from .params import checked_params

__all__ = ["Phase", "Sequencer"]


class Phase(enum.Enum, shape=3):
    """The sequencer's phases (its FSM states), as seen on ``phase``."""

    IDLE = 0
    CLEAR = 1
    ENCODE = 2
    RUN = 3
    SWEEP = 4
    DECIDE = 5
    LEARN = 6
    FINISH = 7


COUNTER = {Phase.ENCODE: 0, Phase.RUN: 0, Phase.CLEAR: 1, Phase.SWEEP: 1, Phase.FINISH: 1, Phase.DECIDE: 2,
           Phase.LEARN: 3}


class Sequencer(wiring.Component):
    """The controller of one sample of ``cfg``."""

    def __init__(self, cfg: Config) -> None:
        self._p = p = checked_params(self, cfg)
        fmt = formats_for(cfg)
        self._cfg = cfg
        super().__init__({
            "start": In(1), "train": In(1), "busy": Out(1), "trained": Out(1),
            "phase": Out(Phase), "step": Out(p.step_bits), "pop": Out(range(p.layers + 1)),
            "cycles": Out(data.ArrayLayout(p.cycle_bits, 4)),     # integration, sweep, decide, plasticity
            "clear": Out(fmt.stream(fmt.sweep_command.members["addr"])),
            "lists_clear": Out(1),
            "enc_step": Out(1), "enc_clear": Out(1), "enc_busy": In(1),
            "run_start": Out(1), "run": Out(range(p.layers + 2)), "run_done": In(1),
            "sweep_start": Out(1), "sweep_done": In(1),
            "mod_clear": Out(1), "mod_start": Out(1), "mod_done": In(1), "any_m": In(1),
            "learn_start": Out(1), "learn_done": In(1),
        })

    def elaborate(self, platform: object) -> Module:
        cfg, p = self._cfg, self._p
        D, T = p.layers, cfg.timesteps
        m = Module()
        train = Signal()
        index = Signal(range(p.state_depth + 1))
        run = Signal(range(D + 2))
        pop = Signal(range(D + 1))

        def start_run(r: object) -> None:
            m.d.comb += [self.run_start.eq(1), self.run.eq(r)]
            m.d.sync += run.eq(r)

        def start_sweep(population: object) -> None:
            m.d.comb += [self.sweep_start.eq(1), self.pop.eq(population)]
            m.d.sync += pop.eq(population)

        m.d.sync += [self.mod_clear.eq(0), self.lists_clear.eq(0)]
        with m.FSM(init="idle"):
            with m.State("idle"):
                m.d.comb += self.phase.eq(Phase.IDLE)
                with m.If(self.start):
                    m.d.sync += [train.eq(self.train), index.eq(0), self.step.eq(0),
                                 *(self.cycles[n].eq(0) for n in range(4))]
                    m.d.comb += self.enc_clear.eq(1)
                    # the class counts and the spike lists are cleared in the first CLEAR cycle (a
                    # registered strobe: the command write's path ends here, not across the chip)
                    m.d.sync += [self.mod_clear.eq(1), self.lists_clear.eq(1)]
                    m.next = "clear"
            with m.State("clear"):
                # index counts 0 … state_depth: `≠` is the same test as `<`, without a carry chain
                # in front of the phase logic
                clearing = index != p.state_depth
                m.d.comb += [self.phase.eq(Phase.CLEAR), self.clear.valid.eq(clearing),
                             self.clear.payload.eq(index)]
                with m.If(clearing):
                    m.d.sync += index.eq(index + 1)
                with m.Elif(~self.enc_busy):
                    m.d.comb += self.enc_step.eq(1)
                    start_run(0)
                    m.next = "encode"
            with m.State("encode"):
                m.d.comb += self.phase.eq(Phase.ENCODE)
                with m.If(~self.enc_busy & self.run_done):
                    start_run(1)
                    m.next = "run"
            with m.State("run"):
                m.d.comb += self.phase.eq(Phase.RUN)
                with m.If(self.run_done):
                    start_sweep(run - 1)
                    m.next = "sweep"
            with m.State("sweep"):
                m.d.comb += self.phase.eq(Phase.SWEEP)
                with m.If(self.sweep_done):
                    with m.If(pop < D):
                        start_run(pop + 2)
                        m.next = "run"
                    with m.Elif(self.step == T - 1):
                        m.d.comb += self.mod_start.eq(1)
                        m.next = "decide"
                    with m.Else():
                        m.d.sync += self.step.eq(self.step + 1)
                        m.d.comb += self.enc_step.eq(1)
                        start_run(0)
                        m.next = "encode"
            self._end_states(m, train)
        m.d.comb += self.busy.eq(self.phase != Phase.IDLE)
        self._count_cycles(m)
        return m

    def _end_states(self, m: Module, train: Signal) -> None:
        """The end of a sample: the decision, the plasticity passes (training, some ``m_c ≠ 0``), finish."""
        with m.State("decide"):
            m.d.comb += self.phase.eq(Phase.DECIDE)
            with m.If(self.mod_done):
                with m.If(train & self.any_m):
                    m.d.comb += self.learn_start.eq(1)
                    m.next = "learn"
                with m.Else():
                    m.next = "finish"
        with m.State("learn"):
            m.d.comb += self.phase.eq(Phase.LEARN)
            with m.If(self.learn_done):
                m.next = "finish"
        with m.State("finish"):
            m.d.comb += [self.phase.eq(Phase.FINISH), self.trained.eq(train)]
            m.next = "idle"

    def _count_cycles(self, m: Module) -> None:
        """``cycles[c] += 1`` in every cycle of a phase that counter ``c`` counts (:data:`COUNTER`).
        The counters are ``cycle_bits`` wide: the cycles of the slowest possible sample fit
        (:func:`~modsnn.golden_model.cycles.max_sample_cycles`), so they never wrap (the benches
        compare every sample's counts with the cycle model's, exactly)."""
        for phase, counter in COUNTER.items():
            with m.If(self.phase == phase):
                m.d.sync += self.cycles[counter].eq(self.cycles[counter] + 1)
