"""Accelerator top: encoder, hidden core, router, readout core, modulator, plasticity engine.

One sample runs as a fixed sequence of phases (the controller below), every phase waiting for
the previous one to drain, so the cycle count is an exact function of the events
(:mod:`modsnn.golden_model.cycles`)::

    clear     zero the state of encoder, hidden and readout cores, and the class counts
    per step t = 0 … T−1:
      encode    encoder sweep; each input spike → router FF fan-out → hidden accumulators
      replay    (t > 0) the hidden spikes of t−1 → router REC fan-out → hidden accumulators
      hidden    hidden sweep; each spike → router OUT fan-out → readout accumulators (and kept
                for the next replay)
      readout   readout sweep; each spike → class counts
    decide    modulator: prediction, error, modulatory levels
    learn     (training only) plasticity engine; then the sample counter increments

A sweep is held while the router fans out the spike it just emitted (``hold = router.busy``).

**Control port** ``bus``: ``addr`` (:attr:`~modsnn.hw.formats.Formats.mmio_address`), ``wdata``,
``we``, ``re``; ``rdata`` is valid the cycle after ``re``. Regions (:class:`~modsnn.hw.formats.Region`):
``CSR`` (registers :class:`Csr`), ``INPUT`` (write ``u[j]`` at offset ``j``), ``FF``/``REC``/``OUT``
(weight word ``offset``, lane ``lane``; signed, read/write), ``STATE`` (hidden neuron ``i`` at offset
``4i + f``, ``f`` = 0 membrane, 1 trace, 2 ``H``, 3 ``X``). Memories and inputs may be accessed only
while ``busy`` is low; writes while busy are ignored.

**Monitor** ``mon``: ``valid`` for one cycle per spike that leaves the hidden or readout core,
with the event and the step number (for testbenches; no back-pressure).
"""

import enum as py_enum

from amaranth.hdl import Cat, Module, Mux, Signal, signed, unsigned
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from ..golden_model.config import Config
from .common import check_rtl_config
from .encoder import InputEncoder
from .formats import Matrix, Projection, Region, bits_for, formats_for
from .modulator import Modulator
from .neuron_core import NeuronCore
from .plasticity import PlasticityEngine
from .router import Router
from .synapse_memory import SynapseMemory

__all__ = ["Accelerator", "Command", "Csr"]


class Csr(py_enum.IntEnum):
    """Offsets of the control and status registers (region ``CSR``)."""

    COMMAND = 0       # write: Command; read: bit 0 busy, bit 1 the last command was refused
                      # (not a Command, or TRAIN with LABEL ≥ n_classes); nothing ran
    LABEL = 1         # label of the next training sample
    LR_EXTRA = 2      # learning-rate decay shift (0–7; larger values saturate at 7)
    SAMPLE = 3        # update counter: the "sample" word of the rounding keys
    PREDICTION = 4    # class predicted for the last sample
    CYCLES_INTEGRATION = 5
    CYCLES_SWEEP = 6
    CYCLES_DECIDE = 7
    CYCLES_PLASTICITY = 8
    COUNT = 16        # 16 + c: spike count of class c
    LEVEL = 80        # 80 + c: modulatory level m_c (signed)


class Command(py_enum.IntEnum):
    INFER = 1
    TRAIN = 2


class Accelerator(wiring.Component):
    """The whole learning pipeline for ``cfg`` (one hidden layer)."""

    def __init__(self, cfg: Config) -> None:
        self._cfg = check_rtl_config(self, cfg)
        self._fmt = fmt = formats_for(cfg)
        super().__init__({
            "bus": In(wiring.Signature({
                "addr": Out(fmt.mmio_address), "wdata": Out(32), "we": Out(1), "re": Out(1), "rdata": In(32),
            })),
            "busy": Out(1),
            "mon": Out(wiring.Signature({
                "valid": Out(1), "event": Out(fmt.address_event), "step": Out(bits_for(cfg.timesteps)),
            })),
        })

    def elaborate(self, platform: object) -> Module:
        cfg, fmt = self._cfg, self._fmt
        n, n_in, C, T = cfg.hidden[0], cfg.n_inputs, cfg.n_classes, cfg.timesteps
        m = Module()
        m.submodules.encoder = enc = InputEncoder(cfg)
        m.submodules.hidden = hid = NeuronCore(cfg, 0, n_in + n)
        m.submodules.readout = rdo = NeuronCore(cfg, None, n)
        m.submodules.router = router = Router(cfg)
        m.submodules.synapses = store = SynapseMemory(cfg)
        m.submodules.modulator = mod = Modulator(cfg)
        m.submodules.plasticity = plast = PlasticityEngine(cfg)
        wiring.connect(m, router.hidden_syn, hid.syn)
        wiring.connect(m, router.readout_syn, rdo.syn)
        wiring.connect(m, rdo.spikes, mod.spikes)
        m.submodules.spike_buffer = buf = Memory(shape=unsigned(fmt.neuron_bits), depth=n, init=[])
        buf_wr, buf_rd = buf.write_port(), buf.read_port(domain="comb")

        bus = self.bus
        region = bus.addr.region
        label, lr_extra, sample, prediction = Signal(8), Signal(3), Signal(32), Signal(bits_for(C))
        error = Signal()                                       # the last command was refused
        counters = {k: Signal(32, name=f"cycles_{k}") for k in ("integration", "sweep", "decide", "plasticity")}
        learn = Signal()
        t = Signal(range(T + 1))
        replay_n, replay_i, spikes_n = Signal(range(n + 1)), Signal(range(n + 1)), Signal(range(n + 1))
        started = Signal()                                     # a strobed unit had one cycle to go busy

        # ---------------- datapath muxing by phase
        phase = Signal(3)
        ENCODE, REPLAY, HIDDEN, LEARN = 1, 2, 3, 4
        m.d.comb += [enc.hold.eq(router.busy), hid.hold.eq(router.busy), rdo.hold.eq(0)]
        with m.Switch(phase):
            with m.Case(ENCODE):
                m.d.comb += [router.req.valid.eq(enc.spikes.valid), router.req.payload.proj.eq(Projection.FF),
                             router.req.payload.addr.eq(enc.spikes.payload.addr), enc.spikes.ready.eq(router.req.ready)]
            with m.Case(REPLAY):
                m.d.comb += [router.req.valid.eq(replay_i < replay_n), router.req.payload.proj.eq(Projection.REC),
                             router.req.payload.addr.eq(buf_rd.data), buf_rd.addr.eq(replay_i)]
                with m.If(router.req.valid & router.req.ready):
                    m.d.sync += replay_i.eq(replay_i + 1)
            with m.Case(HIDDEN):
                m.d.comb += [router.req.valid.eq(hid.spikes.valid), router.req.payload.proj.eq(Projection.OUT),
                             router.req.payload.addr.eq(hid.spikes.payload.addr), hid.spikes.ready.eq(router.req.ready)]
                with m.If(hid.spikes.valid & hid.spikes.ready):
                    m.d.comb += [buf_wr.addr.eq(spikes_n), buf_wr.data.eq(hid.spikes.payload.addr), buf_wr.en.eq(1)]
                    m.d.sync += spikes_n.eq(spikes_n + 1)
        m.d.comb += [self.mon.valid.eq((hid.spikes.valid & hid.spikes.ready) | rdo.spikes.valid),
                     self.mon.event.eq(Mux(rdo.spikes.valid, rdo.spikes.payload, hid.spikes.payload)),
                     self.mon.step.eq(t)]

        # weight memory: router while running, plasticity engine while learning, host while idle
        host_rd = Signal()
        host_matrix = Signal(Matrix)
        with m.Switch(region):
            for r, mat in ((Region.FF, Matrix.FF), (Region.REC, Matrix.REC), (Region.OUT, Matrix.OUT)):
                with m.Case(r):
                    m.d.comb += [host_rd.eq(1), host_matrix.eq(mat)]
        with m.If(phase == LEARN):
            m.d.comb += [store.rd.matrix.eq(plast.mem.matrix), store.rd.addr.eq(plast.mem.addr),
                         store.rd.en.eq(plast.mem.en), store.ptr.addr.eq(plast.ptr.addr), store.ptr.en.eq(plast.ptr.en)]
            wiring.connect(m, plast.wb, store.wr)
            m.d.comb += [hid.rd_addr.eq(plast.hid_addr), enc.rd_addr.eq(plast.in_addr)]
        with m.Elif(self.busy):
            m.d.comb += [store.rd.matrix.eq(router.mem.matrix), store.rd.addr.eq(router.mem.addr),
                         store.rd.en.eq(router.mem.en), store.ptr.addr.eq(router.ptr.addr),
                         store.ptr.en.eq(router.ptr.en)]
        with m.Else():
            m.d.comb += [store.rd.matrix.eq(host_matrix), store.rd.addr.eq(bus.addr.offset),
                         store.rd.en.eq(bus.re & host_rd), hid.rd_addr.eq(bus.addr.offset >> 2),
                         store.wr.valid.eq(bus.we & host_rd), store.wr.payload.matrix.eq(host_matrix),
                         store.wr.payload.addr.eq(bus.addr.offset),
                         store.wr.payload.en.eq(1 << bus.addr.lane)]
            for lane in range(cfg.lanes):
                m.d.comb += store.wr.payload.data[lane].eq(bus.wdata)
            m.d.comb += [enc.u_addr.eq(bus.addr.offset), enc.u_data.eq(bus.wdata),
                         enc.u_we.eq(bus.we & (region == Region.INPUT))]
        for port in ("weights", "route"):
            m.d.comb += [getattr(router.mem, port).eq(getattr(store.rd, port)),
                         getattr(plast.mem, port).eq(getattr(store.rd, port))]
        m.d.comb += [router.ptr.data.eq(store.ptr.data), plast.ptr.data.eq(store.ptr.data),
                     plast.hid_h.eq(hid.rd_h), plast.hid_xsum.eq(hid.rd_xsum), plast.in_xsum.eq(enc.rd_xsum),
                     plast.m.eq(mod.m), plast.sample.eq(sample), plast.lr_extra.eq(lr_extra), mod.label.eq(label)]

        # ---------------- register reads (one cycle latency)
        rd_region, rd_offset, rd_lane = Signal(Region), Signal.like(bus.addr.offset), Signal.like(bus.addr.lane)
        with m.If(bus.re):
            m.d.sync += [rd_region.eq(region), rd_offset.eq(bus.addr.offset), rd_lane.eq(bus.addr.lane)]
        csr_value = Signal(32)
        with m.Switch(rd_offset):
            with m.Case(Csr.COMMAND):
                m.d.comb += csr_value.eq(Cat(self.busy, error))
            for reg, sig in ((Csr.LABEL, label), (Csr.LR_EXTRA, lr_extra), (Csr.SAMPLE, sample),
                             (Csr.PREDICTION, prediction), (Csr.CYCLES_INTEGRATION, counters["integration"]),
                             (Csr.CYCLES_SWEEP, counters["sweep"]), (Csr.CYCLES_DECIDE, counters["decide"]),
                             (Csr.CYCLES_PLASTICITY, counters["plasticity"])):
                with m.Case(reg):
                    m.d.comb += csr_value.eq(sig)
            for c in range(C):
                with m.Case(Csr.COUNT + c):
                    m.d.comb += csr_value.eq(mod.counts[c])
                with m.Case(Csr.LEVEL + c):
                    m.d.comb += csr_value.eq(mod.m[c].as_signed())
        weight = Signal(signed(cfg.weight_bits))
        m.d.comb += weight.eq(store.rd.weights[rd_lane] if cfg.lanes > 1 else store.rd.weights[0])
        state_field = Signal(2)
        with m.If(bus.re):
            m.d.sync += state_field.eq(bus.addr.offset[:2])
        state = Signal(32)
        with m.Switch(state_field):
            with m.Case(0):
                m.d.comb += state.eq(hid.rd_v.as_signed())
            with m.Case(1):
                m.d.comb += state.eq(hid.rd_x)
            with m.Case(2):
                m.d.comb += state.eq(hid.rd_h)
            with m.Case(3):
                m.d.comb += state.eq(hid.rd_xsum)
        with m.Switch(rd_region):
            with m.Case(Region.CSR):
                m.d.comb += bus.rdata.eq(csr_value)
            with m.Case(Region.FF, Region.REC, Region.OUT):
                m.d.comb += bus.rdata.eq(weight)
            with m.Case(Region.STATE):
                m.d.comb += bus.rdata.eq(state)

        # ---------------- controller
        def strobe_wait(unit_busy: object, next_state: str) -> None:
            """Leave for ``next_state`` once the strobed unit(s) went busy and finished."""
            m.d.sync += started.eq(1)
            with m.If(started & ~unit_busy):  # type: ignore[operator]
                m.d.sync += started.eq(0)
                m.next = next_state

        with m.FSM(init="idle") as fsm:
            with m.State("idle"):
                with m.If(bus.we & (region == Region.CSR)):
                    with m.Switch(bus.addr.offset):
                        with m.Case(Csr.COMMAND):
                            valid = (bus.wdata == Command.INFER) | ((bus.wdata == Command.TRAIN) & (label < C))
                            m.d.sync += error.eq(~valid)
                            with m.If(valid):
                                m.d.sync += [learn.eq(bus.wdata == Command.TRAIN), t.eq(0), replay_n.eq(0),
                                             started.eq(0)]
                                m.d.sync += [c.eq(0) for c in counters.values()]
                                m.d.comb += [enc.clear.eq(1), hid.clear.eq(1), rdo.clear.eq(1), mod.clear.eq(1)]
                                m.next = "clear"
                        with m.Case(Csr.LABEL):
                            m.d.sync += label.eq(bus.wdata)
                        with m.Case(Csr.LR_EXTRA):
                            m.d.sync += lr_extra.eq(Mux(bus.wdata > 7, 7, bus.wdata))
                        with m.Case(Csr.SAMPLE):
                            m.d.sync += sample.eq(bus.wdata)
            with m.State("clear"):
                m.d.comb += self.busy.eq(1)
                with m.If(started & ~(enc.busy | hid.busy | rdo.busy)):
                    m.d.comb += enc.step.eq(1)
                strobe_wait(enc.busy | hid.busy | rdo.busy, "encode")
            with m.State("encode"):
                m.d.comb += [self.busy.eq(1)]
                m.d.comb += phase.eq(ENCODE)
                strobe_wait(enc.busy | router.busy, "replay")
                with m.If(started & ~(enc.busy | router.busy)):
                    m.d.sync += replay_i.eq(0)
            with m.State("replay"):
                m.d.comb += self.busy.eq(1)
                m.d.comb += phase.eq(REPLAY)
                strobe_wait((replay_i < replay_n) | router.busy, "hidden")
                with m.If(started & ~((replay_i < replay_n) | router.busy)):
                    m.d.comb += hid.step.eq(1)
                    m.d.sync += spikes_n.eq(0)
            with m.State("hidden"):
                m.d.comb += self.busy.eq(1)
                m.d.comb += phase.eq(HIDDEN)
                strobe_wait(hid.busy | router.busy, "readout")
                with m.If(started & ~(hid.busy | router.busy)):
                    m.d.comb += rdo.step.eq(1)
                    m.d.sync += replay_n.eq(spikes_n)
            with m.State("readout"):
                m.d.comb += self.busy.eq(1)
                strobe_wait(rdo.busy, "readout_done")
            with m.State("readout_done"):
                m.d.comb += self.busy.eq(1)
                m.d.sync += t.eq(t + 1)
                with m.If(t == T - 1):
                    m.d.comb += mod.start.eq(1)
                    m.next = "decide"
                with m.Else():
                    m.d.comb += enc.step.eq(1)
                    m.next = "encode"
            with m.State("decide"):
                m.d.comb += self.busy.eq(1)
                m.d.sync += started.eq(1)
                with m.If(started & ~mod.busy):
                    m.d.sync += [prediction.eq(mod.prediction), started.eq(0)]
                    with m.If(learn):
                        m.d.comb += plast.start.eq(1)
                        m.next = "learn"
                    with m.Else():
                        m.next = "idle"
            with m.State("learn"):
                m.d.comb += [self.busy.eq(1), phase.eq(LEARN)]
                strobe_wait(plast.busy, "learn_done")
            with m.State("learn_done"):
                m.d.comb += self.busy.eq(1)
                m.d.comb += phase.eq(LEARN)
                m.d.sync += sample.eq(sample + 1)
                m.next = "idle"
        # ---- cycle counters: each busy cycle counts in exactly one phase
        integration = fsm.ongoing("replay") | (router.busy & (fsm.ongoing("encode") | fsm.ongoing("hidden")))
        with m.If(integration):
            m.d.sync += counters["integration"].eq(counters["integration"] + 1)
        with m.Elif(fsm.ongoing("decide")):
            m.d.sync += counters["decide"].eq(counters["decide"] + 1)
        with m.Elif(fsm.ongoing("learn") | fsm.ongoing("learn_done")):
            m.d.sync += counters["plasticity"].eq(counters["plasticity"] + 1)
        with m.Elif(self.busy):
            m.d.sync += counters["sweep"].eq(counters["sweep"] + 1)
        return m
