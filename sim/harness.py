"""Test harnesses: a block under test together with the memories it talks to.

The router and the plasticity engine read the weight memories through ports rather than
streams, so their per-block testbenches run them next to a real
:class:`~modsnn.hw.synapse_memory.SynapseMemory` (and, for the plasticity engine, memories standing
in for the neuron cores' eligibility read-back), loaded by the testbench.
"""

from amaranth.hdl import Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from ..golden_model.config import Config
from ..hw.formats import formats_for
from ..hw.plasticity import LR_EXTRA_MAX, PlasticityEngine
from ..hw.router import Router
from ..hw.synapse_memory import SynapseMemory

__all__ = ["PlasticityHarness", "RouterHarness"]


class RouterHarness(wiring.Component):
    """:class:`~modsnn.hw.router.Router` reading a :class:`SynapseMemory` (loaded through ``load``)."""

    def __init__(self, cfg: Config) -> None:
        self._cfg = cfg
        fmt = formats_for(cfg)
        self.router = Router(cfg)
        self.store = SynapseMemory(cfg)
        super().__init__({
            "load": In(stream.Signature(fmt.weight_write)),
            "req": In(stream.Signature(fmt.route_request)),
            "hidden_syn": Out(stream.Signature(fmt.synaptic_word)),
            "readout_syn": Out(stream.Signature(fmt.synaptic_word)),
            "busy": Out(1),
        })

    def elaborate(self, platform: object) -> Module:
        m = Module()
        m.submodules.router, m.submodules.store = router, store = self.router, self.store
        wiring.connect(m, wiring.flipped(self.load), store.wr)
        wiring.connect(m, wiring.flipped(self.req), router.req)
        wiring.connect(m, router.hidden_syn, wiring.flipped(self.hidden_syn))
        wiring.connect(m, router.readout_syn, wiring.flipped(self.readout_syn))
        wiring.connect(m, router.mem, store.rd)
        wiring.connect(m, router.ptr, store.ptr)
        m.d.comb += self.busy.eq(router.busy)
        return m


class PlasticityHarness(wiring.Component):
    """:class:`~modsnn.hw.plasticity.PlasticityEngine` with its memories.

    * ``load`` writes weights (while the engine is idle);
    * ``elig_sel``/``elig_addr``/``elig_data``/``elig_we`` write the eligibility read-back
      memories: 0 = hidden ``H``, 1 = hidden ``X``, 2 = input ``X``;
    * ``rd_matrix``/``rd_addr``/``rd_en`` → ``rd_weights`` (next cycle) read weights back while idle;
    * ``wb_ready`` gates the engine's write-back stream (random back-pressure);
      ``wb_fire`` is high for each accepted write.
    """

    def __init__(self, cfg: Config) -> None:
        self._cfg = cfg
        fmt = formats_for(cfg)
        self.engine = PlasticityEngine(cfg)
        self.store = SynapseMemory(cfg)
        super().__init__({
            "load": In(stream.Signature(fmt.weight_write)),
            "elig_sel": In(2), "elig_addr": In(fmt.neuron_bits), "elig_data": In(32), "elig_we": In(1),
            "rd_matrix": In(fmt.weight_write.members["matrix"]), "rd_addr": In(fmt.word_bits), "rd_en": In(1),
            "rd_weights": Out(fmt.weight_word),
            "start": In(1), "busy": Out(1),
            "m": In(data.ArrayLayout(signed(self.engine.level_bits), cfg.n_classes)),
            "sample": In(32), "lr_extra": In(range(LR_EXTRA_MAX + 1)),
            "wb_ready": In(1), "wb_fire": Out(1),
        })

    def elaborate(self, platform: object) -> Module:
        cfg = self._cfg
        eng = self.engine
        m = Module()
        m.submodules.engine, m.submodules.store = eng, store = eng, self.store
        n, n_in = cfg.hidden[0], cfg.n_inputs
        mems = {}
        for sel, (name, depth, width) in enumerate((("h", n, eng.h_bits), ("xh", n, eng.xsum_bits),
                                                    ("xi", n_in, eng.xsum_bits))):
            m.submodules[name] = mem = Memory(shape=unsigned(width), depth=depth, init=[])
            w = mem.write_port()
            m.d.comb += [w.addr.eq(self.elig_addr), w.data.eq(self.elig_data),
                         w.en.eq(self.elig_we & (self.elig_sel == sel))]
            mems[name] = mem
        h_rd, xh_rd, xi_rd = mems["h"].read_port(), mems["xh"].read_port(), mems["xi"].read_port()
        m.d.comb += [h_rd.addr.eq(eng.hid_addr), xh_rd.addr.eq(eng.hid_addr), xi_rd.addr.eq(eng.in_addr),
                     eng.hid_h.eq(h_rd.data), eng.hid_xsum.eq(xh_rd.data), eng.in_xsum.eq(xi_rd.data)]
        m.d.comb += [eng.start.eq(self.start), self.busy.eq(eng.busy), eng.m.eq(self.m), eng.sample.eq(self.sample),
                     eng.lr_extra.eq(self.lr_extra)]
        wiring.connect(m, eng.ptr, store.ptr)
        for port in ("weights", "route"):
            m.d.comb += getattr(eng.mem, port).eq(getattr(store.rd, port))
        m.d.comb += [store.rd.matrix.eq(Mux(eng.busy, eng.mem.matrix, self.rd_matrix)),
                     store.rd.addr.eq(Mux(eng.busy, eng.mem.addr, self.rd_addr)),
                     store.rd.en.eq(Mux(eng.busy, eng.mem.en, self.rd_en)),
                     self.rd_weights.eq(store.rd.weights)]
        fire = Signal()
        m.d.comb += [fire.eq(eng.wb.valid & self.wb_ready), eng.wb.ready.eq(self.wb_ready), self.wb_fire.eq(fire),
                     self.load.ready.eq(~eng.busy)]
        with m.If(eng.busy):
            m.d.comb += [store.wr.valid.eq(fire), store.wr.payload.eq(eng.wb.payload)]
        with m.Else():
            m.d.comb += [store.wr.valid.eq(self.load.valid), store.wr.payload.eq(self.load.payload)]
        return m
