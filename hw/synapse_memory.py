"""Synapse memory: the ``L``-lane weight memories and the readout routing ROMs.

Layouts as in :mod:`modsnn.hw.formats`: ``FF``, ``REC`` and ``OUT`` weights, each one memory per
lane (one read and one write port each: simple dual-port block RAM), plus the routing image of
:class:`~modsnn.golden_model.topology.LaneRoutes` as ROMs: per source the ``pointer`` (first
word, word count) and per word the ``route_word`` (lane valid, target bank address).

Ports (the client side is :data:`WeightRead`):

* ``rd`` — ``matrix``, ``addr``, ``en`` → ``weights`` and ``route`` one cycle later (held while
  ``en`` is low; ``route`` is the routing word of ``addr`` whatever the matrix);
* ``ptr`` — ``addr``, ``en`` → ``data`` (:attr:`~modsnn.hw.formats.Formats.pointer`), same timing;
* ``wr`` — stream of :attr:`~modsnn.hw.formats.Formats.weight_write`, always ready, one word per
  cycle, lanes with ``en`` set are written.
"""

from amaranth.hdl import Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from ..golden_model.config import Config
from .common import check_rtl_config
from .formats import Formats, Matrix, formats_for, memory_depths, readout_routes

__all__ = ["SynapseMemory", "pointer_read_signature", "weight_read_signature"]


def weight_read_signature(fmt: Formats) -> wiring.Signature:
    """A weight-memory read port, seen from the client that reads."""
    return wiring.Signature({
        "matrix": Out(Matrix), "addr": Out(fmt.word_bits), "en": Out(1),
        "weights": In(fmt.weight_word), "route": In(fmt.route_word),
    })


def pointer_read_signature(fmt: Formats) -> wiring.Signature:
    """A routing-pointer read port, seen from the client."""
    return wiring.Signature({"addr": Out(fmt.neuron_bits), "en": Out(1), "data": In(fmt.pointer)})


class SynapseMemory(wiring.Component):
    """Weights of hidden layer 0 and its readout routing image."""

    def __init__(self, cfg: Config) -> None:
        self._cfg = check_rtl_config(self, cfg)
        self._fmt = fmt = formats_for(cfg)
        super().__init__({
            "rd": In(weight_read_signature(fmt)),
            "ptr": In(pointer_read_signature(fmt)),
            "wr": In(stream.Signature(fmt.weight_write)),
        })

    def elaborate(self, platform: object) -> Module:
        cfg, fmt = self._cfg, self._fmt
        L = cfg.lanes
        routes = readout_routes(cfg)
        depths = memory_depths(cfg, fmt.route_words)
        m = Module()
        m.d.comb += self.wr.ready.eq(1)
        sel = Signal(Matrix)
        with m.If(self.rd.en):
            m.d.sync += sel.eq(self.rd.matrix)
        for lane in range(L):
            data = {}
            for matrix in (Matrix.FF, Matrix.REC, Matrix.OUT):
                mem = Memory(shape=fmt.weight_word.elem_shape, depth=depths[matrix.name], init=[])
                m.submodules[f"{matrix.name.lower()}{lane}"] = mem
                r, w = mem.read_port(), mem.write_port()
                m.d.comb += [r.addr.eq(self.rd.addr), r.en.eq(self.rd.en & (self.rd.matrix == matrix)),
                             w.addr.eq(self.wr.payload.addr), w.data.eq(self.wr.payload.data[lane]),
                             w.en.eq(self.wr.valid & self.wr.payload.en[lane] & (self.wr.payload.matrix == matrix))]
                data[matrix] = r.data
            with m.Switch(sel):
                for matrix, value in data.items():
                    with m.Case(matrix):
                        m.d.comb += self.rd.weights[lane].eq(value)
            words = [fmt.route_lane.const({"valid": bool(routes.valid[w, lane]), "addr": int(routes.addr[w, lane])})
                     for w in range(routes.n_words)] or [fmt.route_lane.const({"valid": 0, "addr": 0})]
            rom = Memory(shape=fmt.route_lane, depth=len(words), init=words)
            m.submodules[f"route{lane}"] = rom
            port = rom.read_port()
            m.d.comb += [port.addr.eq(self.rd.addr), port.en.eq(self.rd.en & (self.rd.matrix == Matrix.OUT)),
                         self.rd.route[lane].eq(port.data)]
        pointers = [fmt.pointer.const({"start": int(s), "words": int(w)}) for s, w in zip(routes.start, routes.words,
                                                                                          strict=True)]
        m.submodules.pointers = rom = Memory(shape=fmt.pointer, depth=len(pointers), init=pointers)
        port = rom.read_port()
        m.d.comb += [port.addr.eq(self.ptr.addr), port.en.eq(self.ptr.en), self.ptr.data.eq(port.data)]
        return m
