"""Neuron-core array: LIF state in block RAM, synaptic accumulation, time-multiplexed sweep.

One core holds ``n`` neurons of one population. Per time step the core first accumulates
synaptic events, then sweeps every neuron once:

* **accumulate** (``syn`` stream of :attr:`~modsnn.hw.formats.Formats.synaptic_word`, ``L``
  lanes): for every valid lane ``ℓ``, ``I[addr·L + ℓ] ← I[addr·L + ℓ] + weight`` — exact, in an
  accumulator wide enough for the fan-in (no saturation inside a step). ``I`` is banked by lane
  (bank ``ℓ`` holds neurons ``i ≡ ℓ mod L``), so one word of ``L`` events is accepted per cycle,
  each bank a read-modify-write with forwarding;
* **sweep** (``step`` strobe, then ``busy`` until done), for ``i = 0 … n−1``::

      v'  = clamp(v − (v >>> leak_shift) + I, v_min, v_max)      saturate to membrane_bits
      h   = [lo ≤ v' < hi]                                        boxcar, before reset
      s   = [v' ≥ θ];  v ← v' − θ·s                               reset by subtraction
      x   ← min(x − ((x + 2^k − 1) >> k) + A·s, x_max)            saturate to trace_bits
      H  += h;  X += x                                            eligibility sums (exact)
      I   ← 0

  and emits ``AddressEvent(pop, layer, addr=i)`` on ``spikes`` for every ``s = 1``, in
  ascending ``i``; ``spikes`` back-pressure, or ``hold`` (the router is still fanning out the last spike),
  stalls the sweep without losing state.
* **clear** (strobe): zero ``v, x, I, H, X`` of all neurons (start of a sample), ``n`` cycles.

``step`` and ``clear`` are one-cycle requests, latched until served (in the first cycle without
a synaptic word on ``syn``; the last accumulation completes in that same cycle); a pending clear
is served before a pending step. ``busy`` is high from the cycle after a request until it is done.

Throughput: one neuron per cycle; a sweep takes ``n + 2`` cycles without back-pressure
(:class:`modsnn.golden_model.cycles.CycleCosts.sweep_latency` = 2). The read-back port
(``rd_addr`` → ``rd_v``, ``rd_x``, ``rd_h``, ``rd_xsum``, one cycle latency) exposes state for
tests and the plasticity engine.

Widths: ``v`` membrane_bits (signed), ``x`` trace_bits, ``H`` ``bits(T)``, ``X``
``bits(T·x_max)``, ``I`` ``forward weight bits + bits(fan_in)`` (signed).
"""

from amaranth.hdl import Array, Module, Mux, Signal, Value, signed, unsigned
from amaranth.lib import stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from ..golden_model.config import Config
from .common import rejected
from .formats import Formats, Population, formats_for

__all__ = ["NeuronCore", "SweepControl", "lif_update", "trace_update"]


class NeuronCore(wiring.Component):
    """LIF neuron array of hidden layer ``layer`` (or the readout when ``layer`` is ``None``)."""

    def __init__(self, cfg: Config, layer: int | None, fan_in: int) -> None:
        if not isinstance(cfg, Config):
            raise rejected(self, TypeError(f"cfg must be a modsnn Config, not {cfg!r}"))
        if layer is not None and not (isinstance(layer, int) and 0 <= layer < cfg.n_hidden_layers):
            raise rejected(self, ValueError(f"layer must be None (readout) or a hidden layer index in "
                                             f"[0, {cfg.n_hidden_layers - 1}], not {layer!r}"))
        if not isinstance(fan_in, int) or fan_in < 1:
            raise rejected(self, ValueError(f"fan_in must be a positive integer, not {fan_in!r}"))
        self._cfg, self._layer, self._fan_in = cfg, layer, fan_in
        self._n = cfg.n_readout if layer is None else cfg.hidden[layer]
        if self._n % cfg.lanes:
            what = "n_readout" if layer is None else f"hidden[{layer}]"
            raise rejected(self, ValueError(f"{what} = {self._n} is not a multiple of lanes = {cfg.lanes}: "
                                             f"the accumulators are banked by lane"))
        self._theta = cfg.readout_threshold if layer is None else cfg.threshold[layer]
        self._fmt = formats_for(cfg)
        fwd_bits = cfg.weight_bits - cfg.weight_frac
        self._acc_bits = fwd_bits + max(1, fan_in.bit_length()) + 1
        self._h_bits, self._xsum_bits = self._fmt.h_bits, self._fmt.xsum_bits
        super().__init__({
            "syn": In(stream.Signature(self._fmt.synaptic_word)),
            **SweepControl.ports(self._fmt),
            "rd_v": Out(signed(cfg.membrane_bits)),
            "rd_x": Out(unsigned(cfg.trace_bits)),
            "rd_h": Out(unsigned(self._h_bits)),
            "rd_xsum": Out(unsigned(self._xsum_bits)),
        })

    @property
    def n(self) -> int:
        """Neurons in this core."""
        return self._n

    @property
    def accumulator_bits(self) -> int:
        return self._acc_bits

    def elaborate(self, platform: object) -> Module:
        cfg, n, L = self._cfg, self._n, self._cfg.lanes
        lane_bits = (L - 1).bit_length()
        m = Module()
        mems = {}
        for name, shape in (("v", signed(cfg.membrane_bits)), ("x", unsigned(cfg.trace_bits)),
                            ("h", unsigned(self._h_bits)), ("xs", unsigned(self._xsum_bits))):
            m.submodules[f"{name}_mem"] = mems[name] = Memory(shape=shape, depth=n, init=[])
        banks = []
        for lane in range(L):
            m.submodules[f"i_mem{lane}"] = bank = Memory(shape=signed(self._acc_bits), depth=n // L, init=[])
            banks.append(bank)
        # Sweep/clear read ports and write ports.
        rd = {k: mem.read_port() for k, mem in mems.items()}
        wr = {k: mem.write_port() for k, mem in mems.items()}
        i_rd = [bank.read_port() for bank in banks]
        i_wr = [bank.write_port() for bank in banks]
        i_acc_rd = [bank.read_port() for bank in banks]       # accumulation reads
        # Read-back ports for tests and the plasticity engine.
        for key, out in (("v", self.rd_v), ("x", self.rd_x), ("h", self.rd_h), ("xs", self.rd_xsum)):
            port = mems[key].read_port()
            m.d.comb += [port.addr.eq(self.rd_addr), out.eq(port.data)]

        lo, hi = ((self._theta * cfg.boxcar_lo_q4) >> 2, (self._theta * cfg.boxcar_hi_q4) >> 2) \
            if self._layer is not None else (0, 0)
        sweep = SweepControl(m, n, self.step, self.clear)
        index, stage_b, b_index = sweep.index, sweep.stage_b, sweep.b_index
        step_pending, clear_pending = sweep.step_pending, sweep.clear_pending
        # ---------------- accumulation pipeline per bank: A = read I[addr], B = write I + w
        acc_valid = Signal(L)
        pending = Signal()
        m.d.comb += pending.eq(self.syn.valid)
        want_step = self.step | step_pending
        want_clear = self.clear | clear_pending

        with m.FSM(init="accumulate") as fsm:
            with m.State("accumulate"):
                m.d.comb += [self.syn.ready.eq(1), self.busy.eq(step_pending | clear_pending)]
                for lane in range(L):
                    ev = self.syn.payload[lane]
                    acc_addr = Signal(range(n // L), name=f"acc_addr{lane}")
                    acc_weight = Signal(signed(self._fmt.forward_weight_bits), name=f"acc_weight{lane}")
                    last_addr = Signal(range(n // L), name=f"last_addr{lane}")
                    last_value = Signal(signed(self._acc_bits), name=f"last_value{lane}")
                    last_valid = Signal(name=f"last_valid{lane}")
                    m.d.comb += i_acc_rd[lane].addr.eq(ev.addr)
                    m.d.sync += [acc_valid[lane].eq(self.syn.valid & ev.valid), acc_addr.eq(ev.addr),
                                 acc_weight.eq(ev.weight)]
                    with m.If(acc_valid[lane]):
                        # forward a write to the same address issued in the previous cycle
                        base = Mux(last_valid & (last_addr == acc_addr), last_value, i_acc_rd[lane].data)
                        total = Signal(signed(self._acc_bits), name=f"total{lane}")
                        m.d.comb += [total.eq(base + acc_weight), i_wr[lane].addr.eq(acc_addr),
                                     i_wr[lane].data.eq(total), i_wr[lane].en.eq(1)]
                        m.d.sync += [last_addr.eq(acc_addr), last_value.eq(total), last_valid.eq(1)]
                    with m.Else():
                        m.d.sync += last_valid.eq(0)
                with m.If(want_clear & ~pending):
                    m.d.sync += [index.eq(0), clear_pending.eq(0)]
                    m.next = "clear"
                with m.Elif(want_step & ~pending):
                    m.d.sync += [index.eq(0), stage_b.eq(0), step_pending.eq(0)]
                    m.next = "sweep"
            with m.State("clear"):
                m.d.comb += self.busy.eq(1)
                for key in mems:
                    m.d.comb += [wr[key].addr.eq(index), wr[key].data.eq(0), wr[key].en.eq(1)]
                for port in i_wr:
                    m.d.comb += [port.addr.eq(index >> lane_bits), port.data.eq(0), port.en.eq(1)]
                m.d.sync += index.eq(index + 1)
                with m.If(index == n - 1):
                    m.next = "accumulate"
            with m.State("sweep"):
                m.d.comb += self.busy.eq(1)
                stall = Signal()
                for key in mems:
                    m.d.comb += [rd[key].addr.eq(index), rd[key].en.eq(~stall)]
                for port in i_rd:
                    m.d.comb += [port.addr.eq(index >> lane_bits), port.en.eq(~stall)]
                # stage B: the state of neuron b_index is on the read ports
                current = Signal(signed(self._acc_bits))
                b_lane = b_index[:lane_bits] if lane_bits else 0
                m.d.comb += current.eq(Array(p.data for p in i_rd)[b_lane])
                v1, h, s = lif_update(m, cfg, self._theta, lo, hi, rd["v"].data, current)
                x1 = trace_update(m, cfg, rd["x"].data, s)
                m.d.comb += stall.eq((stage_b & s & ~self.spikes.ready) | self.hold)
                m.d.comb += [
                    self.spikes.valid.eq(stage_b & s & ~self.hold),
                    self.spikes.payload.pop.eq(Population.READOUT if self._layer is None else Population.HIDDEN),
                    self.spikes.payload.layer.eq(self._layer or 0),
                    self.spikes.payload.addr.eq(b_index),
                ]
                with m.If(stage_b & ~stall):
                    for key, value in (("v", v1 - Mux(s, self._theta, 0)), ("x", x1),
                                       ("h", rd["h"].data + h), ("xs", rd["xs"].data + x1)):
                        m.d.comb += [wr[key].addr.eq(b_index), wr[key].data.eq(value), wr[key].en.eq(1)]
                    for lane, port in enumerate(i_wr):
                        m.d.comb += [port.addr.eq(b_index >> lane_bits), port.data.eq(0),
                                     port.en.eq(b_lane == lane)]
                sweep.advance(m, stall, "accumulate")
        del fsm
        return m


class SweepControl:
    """The request latches and the two-stage address pipeline of a one-neuron-per-cycle sweep.

    ``step``/``clear`` strobes are latched in ``step_pending``/``clear_pending`` until served.
    Stage A presents ``index`` to the read ports; stage B (``stage_b``) has neuron ``b_index`` on
    them. :meth:`advance` moves both stages unless ``stall``, and leaves for ``done_state`` after
    neuron ``n − 1``; a sweep therefore takes ``n + 2`` cycles plus the stalls.
    """

    @staticmethod
    def ports(fmt: Formats) -> dict[str, object]:
        """The ports every sweeping population has: ``step``/``clear`` strobes, ``hold``, ``busy``,
        the ``spikes`` stream of address events and the read-back address ``rd_addr``."""
        return {"step": In(1), "clear": In(1), "hold": In(1), "busy": Out(1),
                "spikes": Out(stream.Signature(fmt.address_event)), "rd_addr": In(fmt.neuron_bits)}

    def __init__(self, m: Module, n: int, step: Value, clear: Value) -> None:
        self.n = n
        self.index = Signal(range(n + 1), name="index")        # address being read (stage A)
        self.stage_b = Signal(name="stage_b")                   # a neuron's data is on the read ports
        self.b_index = Signal(range(n), name="b_index")
        self.step_pending, self.clear_pending = Signal(name="step_pending"), Signal(name="clear_pending")
        with m.If(step):
            m.d.sync += self.step_pending.eq(1)
        with m.If(clear):
            m.d.sync += self.clear_pending.eq(1)

    def advance(self, m: Module, stall: Value, done_state: str) -> None:
        with m.If(~stall):
            m.d.sync += [self.b_index.eq(self.index), self.stage_b.eq(self.index < self.n),
                         self.index.eq(self.index + 1)]
            with m.If(self.stage_b & (self.b_index == self.n - 1)):
                m.d.sync += self.stage_b.eq(0)
                m.next = done_state


def lif_update(m: Module, cfg: Config, theta: int, lo: int, hi: int, v: Value, current: Value
               ) -> tuple[Value, Value, Value]:
    """The LIF step as logic: ``v' = clamp(v − (v >>> leak_shift) + I)``, ``h = [lo ≤ v' < hi]``,
    ``s = [v' ≥ θ]`` (the caller applies the reset ``v' − θ·s``). Returns ``(v', h, s)``."""
    leak = Signal(signed(cfg.membrane_bits))
    m.d.comb += leak.eq(v >> cfg.leak_shift)                  # arithmetic shift: floor
    wide = Signal(signed(max(cfg.membrane_bits, len(current)) + 2))
    m.d.comb += wide.eq(v - leak + current)
    v1 = Signal(signed(cfg.membrane_bits))                    # saturate to the membrane range
    m.d.comb += v1.eq(Mux(wide > cfg.v_max, cfg.v_max, Mux(wide < cfg.v_min, cfg.v_min, wide)))
    h, s = Signal(), Signal()
    m.d.comb += [h.eq((v1 >= lo) & (v1 < hi)), s.eq(v1 >= theta)]
    return v1, h, s


def trace_update(m: Module, cfg: Config, x: Value, s: Value) -> Value:
    """``x ← min(x − ((x + 2^k − 1) >> k) + A·s, x_max)`` as logic (shared by every population)."""
    k = cfg.trace_shift
    x_wide = Signal(unsigned(cfg.trace_bits + 2))
    m.d.comb += x_wide.eq(x - ((x + ((1 << k) - 1)) >> k) + Mux(s, cfg.trace_amp, 0))
    x1 = Signal(unsigned(cfg.trace_bits))
    m.d.comb += x1.eq(Mux(x_wide > cfg.x_max, cfg.x_max, x_wide))
    return x1
