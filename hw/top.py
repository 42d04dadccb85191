"""Accelerator top: the neuron array, its global units and the control port, wired together.

=================  ==============================================================================
unit               role
=================  ==============================================================================
``core0 …``        :class:`~modsnn.hw.core.NeuronCore`: ``lanes`` banks each (state, currents,
                   weights, routing, plasticity lanes)
``encoder``        :class:`~modsnn.hw.encoder.InputEncoder`: rate code, input traces → input list
``dispatcher``     :class:`~modsnn.hw.dispatcher.Dispatcher`: spike lists → accumulate words
``sweeper``        :class:`~modsnn.hw.sweeper.Sweeper`: LIF sweeps → spike lists / class counts
``modulator``      :class:`~modsnn.hw.modulator.Modulator`: counts, decision, levels ``m_c``
``learner``        :class:`~modsnn.hw.learner.Learner`: the plasticity passes, as jobs
``sequencer``      :class:`~modsnn.hw.sequencer.Sequencer`: the phases of a sample, cycle counters
``control``        :class:`~modsnn.hw.control_port.ControlPort`: the bus, registers, read mux
=================  ==============================================================================

Ports: ``bus`` (:func:`~modsnn.hw.control_port.bus_signature`; ``rdata`` valid
:data:`~modsnn.hw.control_port.BUS_READ_LATENCY` cycles after ``re``), ``busy``; for testbenches
``mon`` (every hidden and readout spike: event and step) and ``smon`` (every sweep word: population,
bank address, step and the state written in every bank — the per-step state of every neuron).
"""

from amaranth.hdl import Array, Assert, Cat, Module, Mux, Signal
from amaranth.lib import data, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from ..golden_model.config import Config
from .control_port import BUS_READ_LATENCY, ControlPort, bus_signature
from .core import NeuronCore
from .dispatcher import Dispatcher
from .encoder import InputEncoder
from .formats import Population, formats_for
from .learner import Learner
from .modulator import Modulator
from .params import bits_for, checked_params
from .sequencer import Phase, Sequencer
from .sweeper import Sweeper

__all__ = ["COLLISION_UNUSED", "Accelerator"]

#: The spike lists (``list<s>``; a Yosys name pattern): a list may be read at the entry being
#: appended only when that read goes unused (asserted in :meth:`Accelerator._lists`), so the iCE40
#: build drops their read-first emulation.
COLLISION_UNUSED = ("list[0-9]*",)


class Accelerator(wiring.Component):
    """The whole learning pipeline for ``cfg``."""

    bus_read_latency = BUS_READ_LATENCY

    def __init__(self, cfg: Config) -> None:
        self._p = p = checked_params(self, cfg)
        self._fmt = fmt = formats_for(cfg)
        self._cfg = cfg
        super().__init__({
            "bus": In(bus_signature(cfg)),
            "busy": Out(1),
            "mon": Out(wiring.Signature({"valid": Out(1), "event": Out(fmt.spike_event),
                                         "step": Out(p.step_bits)})),
            "smon": Out(wiring.Signature({"valid": Out(1), "pop": Out(range(p.layers + 1)),
                                          "a": Out(bits_for(max(*p.words, p.readout_words))),
                                          "step": Out(p.step_bits),
                                          "state": Out(data.ArrayLayout(fmt.state_word, p.banks))})),
        })

    def elaborate(self, platform: object) -> Module:
        cfg, p = self._cfg, self._p
        D, K, L = p.layers, cfg.cores, cfg.lanes
        m = Module()
        cores = [NeuronCore(cfg, c) for c in range(K)]
        for c, core in enumerate(cores):
            m.submodules[f"core{c}"] = core
        m.submodules.encoder = enc = InputEncoder(cfg)
        m.submodules.dispatcher = disp = Dispatcher(cfg)
        m.submodules.sweeper = sweeper = Sweeper(cfg)
        m.submodules.modulator = mod = Modulator(cfg)
        m.submodules.learner = learner = Learner(cfg)
        m.submodules.sequencer = seq = Sequencer(cfg)
        m.submodules.control = ctl = ControlPort(cfg)
        wiring.connect(m, wiring.flipped(self.bus), ctl.bus)
        m.d.comb += self.busy.eq(seq.busy | ctl.start)
        self._broadcast(m, cores, disp, sweeper, seq, learner, mod, ctl)
        sweep_pop = Signal(range(D + 1))                       # the population being swept
        with m.If(seq.sweep_start):
            m.d.sync += sweep_pop.eq(seq.pop)
        self._lists(m, enc, disp, sweeper, seq, sweep_pop)
        self._pointers(m, disp, learner, seq)
        # sequencer ↔ units
        m.d.comb += [seq.start.eq(ctl.start), seq.train.eq(ctl.train), ctl.busy.eq(seq.busy),
                     ctl.trained.eq(seq.trained),
                     enc.step.eq(seq.enc_step), enc.clear.eq(seq.enc_clear), seq.enc_busy.eq(enc.busy),
                     disp.start.eq(seq.run_start), disp.run.eq(seq.run), seq.run_done.eq(disp.done),
                     sweeper.start.eq(seq.sweep_start), sweeper.pop.eq(seq.pop), seq.sweep_done.eq(sweeper.done),
                     mod.clear.eq(seq.mod_clear), mod.start.eq(seq.mod_start), seq.mod_done.eq(mod.done),
                     seq.any_m.eq(mod.any_m), mod.label.eq(ctl.label),
                     learner.start.eq(seq.learn_start), seq.learn_done.eq(learner.done),
                     learner.levels.eq(mod.m), learner.sample.eq(ctl.sample), learner.lr_extra.eq(ctl.lr_extra),
                     ctl.prediction.eq(mod.prediction), ctl.counts.eq(mod.counts), ctl.levels.eq(mod.m),
                     ctl.cycles.eq(seq.cycles),
                     enc.u_addr.eq(ctl.u_addr), enc.u_data.eq(ctl.u_data), enc.u_we.eq(ctl.u_we),
                     enc.x_addr.eq(learner.enc_x_addr), enc.x_en.eq(learner.enc_x_en),
                     learner.enc_x_data.eq(enc.x_data)]
        # readout spikes to the class counts; the spike monitor
        readout = sweep_pop == D
        m.d.comb += [mod.spikes.valid.eq(sweeper.events.valid & readout),
                     mod.spikes.payload.eq(sweeper.events.payload),
                     self.mon.valid.eq(sweeper.events.valid), self.mon.step.eq(seq.step),
                     self.mon.event.pop.eq(Mux(readout, Population.READOUT, Population.HIDDEN)),
                     self.mon.event.layer.eq(Mux(readout, 0, sweep_pop)),
                     self.mon.event.addr.eq(sweeper.events.payload),
                     self.smon.valid.eq(sweeper.word_valid), self.smon.pop.eq(sweep_pop),
                     self.smon.a.eq(sweeper.word_addr), self.smon.step.eq(seq.step)]
        for c, core in enumerate(cores):
            for lane in range(L):
                m.d.comb += self.smon.state[c * L + lane].eq(core.mon[lane])
        return m

    def _broadcast(self, m: Module, cores: list, disp: Dispatcher, sweeper: Sweeper, seq: Sequencer,
                   learner: Learner, mod: Modulator, ctl: ControlPort) -> None:
        """Commands to every core; the cores' answers gathered by bank."""
        L = self._cfg.lanes
        for c, core in enumerate(cores):
            for name, source in (("acc", disp.acc), ("sweep", sweeper.sweep), ("clear", seq.clear),
                                 ("job", learner.job), ("host", ctl.host)):
                port = getattr(core, name)
                m.d.comb += [port.valid.eq(source.valid), port.payload.eq(source.payload)]
            m.d.comb += [core.theta.eq(sweeper.theta), core.lo.eq(sweeper.lo), core.hi.eq(sweeper.hi)]
            m.d.comb += [core.shift.eq(learner.shift), core.levels.eq(mod.m), core.x_addr.eq(learner.x_addr),
                         core.x_en.eq(learner.x_en), ctl.host_rdata[c].eq(core.host_rdata),
                         ctl.host_state[c].eq(core.host_state)]
            for lane in range(L):
                m.d.comb += [sweeper.spikes[c * L + lane].eq(core.spikes[lane]),
                             learner.x_data[c * L + lane].eq(core.x_data[lane])]
        m.d.comb += [learner.prefix.eq(cores[0].prefix), learner.gated_valid.eq(cores[0].gated_valid),
                     learner.gated.eq(Cat(*(core.gated for core in cores)).any())]

    def _lists(self, m: Module, enc: InputEncoder, disp: Dispatcher, sweeper: Sweeper, seq: Sequencer,
               sweep_pop: Signal) -> None:
        """Spike lists: list 0 the input spikes of the step, list l + 1 the spikes of hidden layer l."""
        cfg, p = self._cfg, self._p
        sizes = [cfg.n_inputs, *cfg.hidden]
        data_out = []
        for s, size in enumerate(sizes):
            mem = Memory(shape=p.neuron_bits, depth=size, init=[])
            m.submodules[f"list{s}"] = mem
            wr, rd = mem.write_port(), mem.read_port()
            count = disp.counts[s]
            if s == 0:
                write, reset = enc.spikes.valid, seq.enc_step
                value = enc.spikes.payload
            else:
                write, reset = sweeper.events.valid & (sweep_pop == s - 1), seq.sweep_start & (seq.pop == s - 1)
                value = sweeper.events.payload
            count_reg = Signal.like(count, name=f"list{s}_count")
            m.d.comb += [count.eq(count_reg), wr.addr.eq(count_reg), wr.data.eq(value), wr.en.eq(write),
                         rd.addr.eq(disp.list_addr), rd.en.eq(disp.list_en)]
            with m.If(reset | seq.lists_clear):
                m.d.sync += count_reg.eq(0)
            with m.Elif(write):
                m.d.sync += count_reg.eq(count_reg + 1)
            data_out.append(rd.data)
            # the dispatcher reads only entries that exist, never the one being appended (COLLISION_UNUSED)
            m.d.comb += Assert(~(wr.en & rd.en & (wr.addr == rd.addr) & (disp.list_sel == s)),
                               f"spike list {s}: an entry was read while it was written")
        select = Signal.like(disp.list_sel)
        with m.If(disp.list_en):
            m.d.sync += select.eq(disp.list_sel)
        m.d.comb += disp.list_data.eq(Array(data_out)[select])

    def _pointers(self, m: Module, disp: Dispatcher, learner: Learner, seq: Sequencer) -> None:
        """The readout pointer ROM, read by the dispatcher (OUT events) and the learner (readout pass)."""
        p, fmt = self._p, self._fmt
        entries = [fmt.pointer.const({"start": p.out_base[l] + int(s), "words": int(w)})
                   for l, routes in enumerate(p.routes) for s, w in zip(routes.start, routes.words, strict=True)]
        m.submodules.pointers = rom = Memory(shape=fmt.pointer, depth=len(entries), init=entries)
        rd = rom.read_port()
        learning = seq.phase == Phase.LEARN
        m.d.comb += [rd.addr.eq(Mux(learning, learner.ptr_addr, disp.ptr_addr)),
                     rd.en.eq(Mux(learning, learner.ptr_en, disp.ptr_en)),
                     disp.ptr_data.eq(rd.data), learner.ptr_data.eq(rd.data)]
