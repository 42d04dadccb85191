"""Sparse small-world router: address events → ``L``-lane synaptic words.

A request (:attr:`~modsnn.hw.formats.Formats.route_request`) names a source neuron and a projection:

* ``FF`` (input ``j`` → hidden) and ``REC`` (hidden ``k`` at ``t−1`` → hidden): dense local fan-out,
  ``K = n/L`` words at ``j·(n/L) + a``, ``a = 0 … K−1``; every lane valid, target bank address ``a``;
  sent on ``hidden_syn``;
* ``OUT`` (hidden ``j`` → readout): the sparse small-world fan-out of the routing image
  (:class:`~modsnn.golden_model.topology.LaneRoutes`): ``K = words[j]`` words from ``start[j]``,
  lanes and bank addresses from the routing ROM; sent on ``readout_syn``.

Each lane's weight is the forward weight ``w >> weight_frac`` of the stored word.

Timing: the request is accepted in one cycle (``req.ready`` only when idle), then one word is
issued per cycle; an event costs ``1 + max(K, 1)`` cycles (cycle model: ``event_overhead = 1``)
plus every cycle the output is back-pressured. The memory read latency (1 cycle) overlaps with
the next event. ``busy`` is high while an event is being issued or a word is in flight.
"""

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from ..golden_model.config import Config
from .common import check_rtl_config
from .formats import Matrix, Projection, formats_for
from .synapse_memory import pointer_read_signature, weight_read_signature

__all__ = ["Router"]


class Router(wiring.Component):
    """Fan-out of hidden layer 0's projections (``FF``, ``REC``, ``OUT``)."""

    def __init__(self, cfg: Config) -> None:
        self._cfg = check_rtl_config(self, cfg)
        self._fmt = fmt = formats_for(cfg)
        super().__init__({
            "req": In(stream.Signature(fmt.route_request)),
            "hidden_syn": Out(stream.Signature(fmt.synaptic_word)),
            "readout_syn": Out(stream.Signature(fmt.synaptic_word)),
            "mem": Out(weight_read_signature(fmt)),
            "ptr": Out(pointer_read_signature(fmt)),
            "busy": Out(1),
        })

    def elaborate(self, platform: object) -> Module:
        cfg, fmt = self._cfg, self._fmt
        L, frac = cfg.lanes, cfg.weight_frac
        dense_words = cfg.hidden[0] // L
        m = Module()
        proj = Signal(Projection)
        base = Signal(fmt.word_bits)
        w = Signal(fmt.word_bits)
        stage_b = Signal()                        # a word's data is on the memory ports
        b_proj = Signal(Projection)
        b_addr = Signal(fmt.bank_bits)
        stall = Signal()
        m.d.comb += [stall.eq(stage_b & ~Mux(b_proj == Projection.OUT, self.readout_syn.ready,
                                             self.hidden_syn.ready)),
                     self.hidden_syn.valid.eq(stage_b & (b_proj != Projection.OUT)),
                     self.readout_syn.valid.eq(stage_b & (b_proj == Projection.OUT))]
        for port in (self.hidden_syn, self.readout_syn):
            for lane in range(L):
                out_lane = port.payload[lane]
                is_out = b_proj == Projection.OUT
                m.d.comb += [out_lane.valid.eq(Mux(is_out, self.mem.route[lane].valid, 1)),
                             out_lane.addr.eq(Mux(is_out, self.mem.route[lane].addr, b_addr)),
                             out_lane.weight.eq(self.mem.weights[lane] >> frac)]
        issuing = Signal()
        with m.If(~stall):
            m.d.sync += stage_b.eq(issuing)
        with m.FSM(init="idle") as fsm:
            with m.State("idle"):
                m.d.comb += [self.req.ready.eq(1), self.ptr.addr.eq(self.req.payload.addr),
                             self.ptr.en.eq(self.req.valid)]
                with m.If(self.req.valid):
                    m.d.sync += [proj.eq(self.req.payload.proj), base.eq(self.req.payload.addr * dense_words),
                                 w.eq(0)]
                    m.next = "issue"
            with m.State("issue"):
                is_out = proj == Projection.OUT
                count = Mux(is_out, self.ptr.data.words, dense_words)
                start = Mux(is_out, self.ptr.data.start, base)
                with m.If(count == 0):
                    m.next = "idle"
                with m.Elif(~stall):
                    m.d.comb += [issuing.eq(1), self.mem.addr.eq(start + w), self.mem.en.eq(1),
                                 self.mem.matrix.eq(Mux(is_out, Matrix.OUT, Mux(proj == Projection.REC, Matrix.REC,
                                                                                 Matrix.FF)))]
                    m.d.sync += [w.eq(w + 1), b_proj.eq(proj), b_addr.eq(w)]
                    with m.If(w == count - 1):
                        m.next = "idle"
        m.d.comb += self.busy.eq(~fsm.ongoing("idle") | stage_b)
        return m
