"""Neuron-core array: LIF state in block RAM, synaptic accumulation, time-multiplexed sweep.

One core holds ``n`` neurons of one population. Per time step the core first accumulates
synaptic events, then sweeps every neuron once:

* **accumulate** (``syn`` stream of :class:`~modsnn.hw.formats.Formats.synaptic_event`):
  ``I[target] ← I[target] + weight`` — exact, in an accumulator wide enough for the fan-in
  (no saturation inside a step); one event per cycle, read-modify-write with forwarding;
* **sweep** (``step`` strobe, then ``busy`` until done), for ``i = 0 … n−1``::

      v'  = clamp(v − (v >>> leak_shift) + I, v_min, v_max)      saturate to membrane_bits
      h   = [lo ≤ v' < hi]                                        boxcar, before reset
      s   = [v' ≥ θ];  v ← v' − θ·s                               reset by subtraction
      x   ← min(x − ((x + 2^k − 1) >> k) + A·s, x_max)            saturate to trace_bits
      H  += h;  X += x                                            eligibility sums (exact)
      I   ← 0

  and emits ``AddressEvent(pop, layer, addr=i)`` on ``spikes`` for every ``s = 1``, in
  ascending ``i``; ``spikes`` back-pressure stalls the sweep without losing state.
* **clear** (strobe): zero ``v, x, I, H, X`` of all neurons (start of a sample), ``n`` cycles.

``step`` and ``clear`` are one-cycle requests, latched until served (after any synaptic events
still in the pipeline); a pending clear is served before a pending step.

Throughput: one neuron per cycle; a sweep takes ``n + 2`` cycles without back-pressure
(:class:`modsnn.golden_model.cycles.CycleCosts.sweep_latency` = 2). The read-back port
(``rd_addr`` → ``rd_v``, ``rd_x``, ``rd_h``, ``rd_xsum``, one cycle latency) exposes state for
tests and the plasticity engine.

Widths: ``v`` membrane_bits (signed), ``x`` trace_bits, ``H`` ``bits(T)``, ``X``
``bits(T·x_max)``, ``I`` ``forward weight bits + bits(fan_in)`` (signed).
"""

from amaranth.hdl import Module, Mux, Signal, signed, unsigned
from amaranth.lib import stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from ..golden_model.config import Config
from .formats import Population, formats_for

__all__ = ["NeuronCore"]


def _rejected(component: object, error: Exception) -> Exception:
    """Mark a component whose constructor rejected its parameters as intentionally unused
    (Amaranth warns about elaboratables that are never elaborated), and return ``error``."""
    component._MustUse__silence = True  # type: ignore[attr-defined]
    return error


class NeuronCore(wiring.Component):
    """LIF neuron array of hidden layer ``layer`` (or the readout when ``layer`` is ``None``)."""

    def __init__(self, cfg: Config, layer: int | None, fan_in: int) -> None:
        if not isinstance(cfg, Config):
            raise _rejected(self, TypeError(f"cfg must be a modsnn Config, not {cfg!r}"))
        if layer is not None and not (isinstance(layer, int) and 0 <= layer < cfg.n_hidden_layers):
            raise _rejected(self, ValueError(f"layer must be None (readout) or a hidden layer index in "
                                             f"[0, {cfg.n_hidden_layers - 1}], not {layer!r}"))
        if not isinstance(fan_in, int) or fan_in < 1:
            raise _rejected(self, ValueError(f"fan_in must be a positive integer, not {fan_in!r}"))
        self._cfg, self._layer, self._fan_in = cfg, layer, fan_in
        self._n = cfg.n_readout if layer is None else cfg.hidden[layer]
        self._theta = cfg.readout_threshold if layer is None else cfg.threshold[layer]
        self._fmt = formats_for(cfg)
        fwd_bits = cfg.weight_bits - cfg.weight_frac
        self._acc_bits = fwd_bits + max(1, fan_in.bit_length()) + 1
        self._h_bits = cfg.timesteps.bit_length()
        self._xsum_bits = (cfg.timesteps * cfg.x_max).bit_length()
        super().__init__({
            "syn": In(stream.Signature(self._fmt.synaptic_event)),
            "step": In(1),
            "clear": In(1),
            "busy": Out(1),
            "spikes": Out(stream.Signature(self._fmt.address_event)),
            "rd_addr": In(self._fmt.neuron_bits),
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
        cfg, n = self._cfg, self._n
        m = Module()
        mems = {}
        for name, shape in (("v", signed(cfg.membrane_bits)), ("i", signed(self._acc_bits)),
                            ("x", unsigned(cfg.trace_bits)), ("h", unsigned(self._h_bits)),
                            ("xs", unsigned(self._xsum_bits))):
            m.submodules[f"{name}_mem"] = mems[name] = Memory(shape=shape, depth=n, init=[])
        i_mem = mems["i"]
        # Sweep/clear read ports (one per memory) and write ports.
        rd = {k: mem.read_port() for k, mem in mems.items()}
        wr = {k: mem.write_port() for k, mem in mems.items()}
        # Accumulation port on I (a second read port; writes share I's write port).
        i_acc_rd = i_mem.read_port()
        # Read-back ports for tests and the plasticity engine.
        for key, out in (("v", self.rd_v), ("x", self.rd_x), ("h", self.rd_h), ("xs", self.rd_xsum)):
            port = mems[key].read_port()
            m.d.comb += [port.addr.eq(self.rd_addr), out.eq(port.data)]

        lo, hi = ((self._theta * cfg.boxcar_lo_q4) >> 2, (self._theta * cfg.boxcar_hi_q4) >> 2) \
            if self._layer is not None else (0, 0)
        k_tr = cfg.trace_shift
        index = Signal(range(n + 1))            # address being read (stage A)
        stage_b = Signal()                      # a neuron's data is on the read ports
        b_index = Signal(range(n))
        # ---------------- accumulation pipeline: A = read I[target], B = write I + w
        acc_valid = Signal()
        acc_addr = Signal(range(n))
        acc_weight = Signal(signed(self._fmt.forward_weight_bits))
        last_addr = Signal(range(n))
        last_value = Signal(signed(self._acc_bits))
        last_valid = Signal()

        # step/clear are requests: latched here, served once the accumulate pipeline is empty.
        step_pending = Signal()
        clear_pending = Signal()
        with m.If(self.step):
            m.d.sync += step_pending.eq(1)
        with m.If(self.clear):
            m.d.sync += clear_pending.eq(1)
        want_step = self.step | step_pending
        want_clear = self.clear | clear_pending

        with m.FSM(init="accumulate") as fsm:
            with m.State("accumulate"):
                m.d.comb += self.syn.ready.eq(1)
                m.d.comb += i_acc_rd.addr.eq(self.syn.payload.target)
                m.d.sync += [acc_valid.eq(self.syn.valid), acc_addr.eq(self.syn.payload.target),
                             acc_weight.eq(self.syn.payload.weight)]
                with m.If(acc_valid):
                    # forward a write to the same address issued in the previous cycle
                    base = Mux(last_valid & (last_addr == acc_addr), last_value, i_acc_rd.data)
                    total = Signal(signed(self._acc_bits))
                    m.d.comb += [total.eq(base + acc_weight), wr["i"].addr.eq(acc_addr),
                                 wr["i"].data.eq(total), wr["i"].en.eq(1)]
                    m.d.sync += [last_addr.eq(acc_addr), last_value.eq(total), last_valid.eq(1)]
                with m.Else():
                    m.d.sync += last_valid.eq(0)
                with m.If(want_clear & ~self.syn.valid & ~acc_valid):
                    m.d.sync += [index.eq(0), last_valid.eq(0), clear_pending.eq(0)]
                    m.next = "clear"
                with m.Elif(want_step & ~self.syn.valid & ~acc_valid):
                    m.d.sync += [index.eq(0), stage_b.eq(0), last_valid.eq(0), step_pending.eq(0)]
                    m.next = "sweep"
            with m.State("clear"):
                m.d.comb += self.busy.eq(1)
                for key in mems:
                    m.d.comb += [wr[key].addr.eq(index), wr[key].data.eq(0), wr[key].en.eq(1)]
                m.d.sync += index.eq(index + 1)
                with m.If(index == n - 1):
                    m.next = "accumulate"
            with m.State("sweep"):
                m.d.comb += self.busy.eq(1)
                stall = Signal()
                for key in mems:
                    m.d.comb += [rd[key].addr.eq(index), rd[key].en.eq(~stall)]
                # stage B: the state of neuron b_index is on the read ports
                v = rd["v"].data
                leak = Signal(signed(cfg.membrane_bits))
                m.d.comb += leak.eq(v >> cfg.leak_shift)          # arithmetic shift: floor
                wide = Signal(signed(max(cfg.membrane_bits, self._acc_bits) + 2))
                m.d.comb += wide.eq(v - leak + rd["i"].data)
                v1 = Signal(signed(cfg.membrane_bits))            # saturate to the membrane range
                m.d.comb += v1.eq(Mux(wide > cfg.v_max, cfg.v_max, Mux(wide < cfg.v_min, cfg.v_min, wide)))
                h = Signal()
                m.d.comb += h.eq((v1 >= lo) & (v1 < hi))
                s = Signal()
                m.d.comb += s.eq(v1 >= self._theta)
                x = rd["x"].data
                x_wide = Signal(unsigned(cfg.trace_bits + 2))
                m.d.comb += x_wide.eq(x - ((x + ((1 << k_tr) - 1)) >> k_tr) + Mux(s, cfg.trace_amp, 0))
                x1 = Signal(unsigned(cfg.trace_bits))             # saturate to x_max
                m.d.comb += x1.eq(Mux(x_wide > cfg.x_max, cfg.x_max, x_wide))
                m.d.comb += stall.eq(stage_b & s & ~self.spikes.ready)
                m.d.comb += [
                    self.spikes.valid.eq(stage_b & s),
                    self.spikes.payload.pop.eq(Population.READOUT if self._layer is None else Population.HIDDEN),
                    self.spikes.payload.layer.eq(self._layer or 0),
                    self.spikes.payload.addr.eq(b_index),
                ]
                with m.If(stage_b & ~stall):
                    for key, value in (("v", v1 - Mux(s, self._theta, 0)), ("i", 0), ("x", x1),
                                       ("h", rd["h"].data + h), ("xs", rd["xs"].data + x1)):
                        m.d.comb += [wr[key].addr.eq(b_index), wr[key].data.eq(value), wr[key].en.eq(1)]
                with m.If(~stall):
                    m.d.sync += [b_index.eq(index), stage_b.eq(index < n), index.eq(index + 1)]
                    with m.If(stage_b & (b_index == n - 1)):
                        m.d.sync += stage_b.eq(0)
                        m.next = "accumulate"
        del fsm
        return m
