"""Input encoder: the deterministic rate code of the golden model, as a sweep over the inputs.

Holds the 8-bit intensities ``u[j]`` of the current sample (written through ``u_addr``/``u_data``/
``u_we`` while idle) and, per input, the phase accumulator ``a``, the trace ``x`` and its sum
``X``. Per time step (``step`` strobe) it sweeps ``j = 0 … n_in − 1``::

    a' = a + u;   s = [a' ≥ 256];   a ← a' − 256·s
    x  ← min(x − ((x + 2^k − 1) >> k) + A·s, x_max);   X += x

and emits ``AddressEvent(pop=INPUT, addr=j)`` on ``spikes`` for every ``s = 1`` (ascending ``j``).
``clear`` zeroes ``a, x, X`` (not ``u``) in ``n_in`` cycles. Like the neuron core, a sweep takes
``n_in + 2`` cycles plus every cycle ``spikes`` back-pressure or ``hold`` stalls it. Read-back:
``rd_addr`` → ``rd_x``, ``rd_xsum`` (one cycle latency).
"""

from amaranth.hdl import Module, Signal, unsigned
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from .common import rejected
from .formats import Population, formats_for
from .neuron_core import SweepControl, trace_update

__all__ = ["InputEncoder"]


class InputEncoder(wiring.Component):
    """Rate-code encoder and input traces of ``cfg.n_inputs`` inputs."""

    def __init__(self, cfg: object) -> None:
        from ..golden_model.config import Config

        if not isinstance(cfg, Config):
            raise rejected(self, TypeError(f"cfg must be a modsnn Config, not {cfg!r}"))
        self._cfg = cfg
        self._fmt = formats_for(cfg)
        self._xsum_bits = self._fmt.xsum_bits
        super().__init__({
            "u_addr": In(self._fmt.neuron_bits),
            "u_data": In(8),
            "u_we": In(1),
            **SweepControl.ports(self._fmt),
            "rd_x": Out(unsigned(cfg.trace_bits)),
            "rd_xsum": Out(unsigned(self._xsum_bits)),
        })

    def elaborate(self, platform: object) -> Module:
        cfg = self._cfg
        n = cfg.n_inputs
        m = Module()
        mems = {}
        for name, shape in (("u", unsigned(8)), ("a", unsigned(9)), ("x", unsigned(cfg.trace_bits)),
                            ("xs", unsigned(self._xsum_bits))):
            m.submodules[f"{name}_mem"] = mems[name] = Memory(shape=shape, depth=n, init=[])
        rd = {k: mem.read_port() for k, mem in mems.items()}
        wr = {k: mem.write_port() for k, mem in mems.items()}
        for key, out in (("x", self.rd_x), ("xs", self.rd_xsum)):
            port = mems[key].read_port()
            m.d.comb += [port.addr.eq(self.rd_addr), out.eq(port.data)]
        sweep = SweepControl(m, n, self.step, self.clear)
        index, stage_b, b_index = sweep.index, sweep.stage_b, sweep.b_index
        step_pending, clear_pending = sweep.step_pending, sweep.clear_pending
        with m.FSM(init="idle"):
            with m.State("idle"):
                m.d.comb += self.busy.eq(step_pending | clear_pending)
                m.d.comb += [wr["u"].addr.eq(self.u_addr), wr["u"].data.eq(self.u_data), wr["u"].en.eq(self.u_we)]
                with m.If(self.clear | clear_pending):
                    m.d.sync += [index.eq(0), clear_pending.eq(0)]
                    m.next = "clear"
                with m.Elif(self.step | step_pending):
                    m.d.sync += [index.eq(0), stage_b.eq(0), step_pending.eq(0)]
                    m.next = "sweep"
            with m.State("clear"):
                m.d.comb += self.busy.eq(1)
                for key in ("a", "x", "xs"):
                    m.d.comb += [wr[key].addr.eq(index), wr[key].data.eq(0), wr[key].en.eq(1)]
                m.d.sync += index.eq(index + 1)
                with m.If(index == n - 1):
                    m.next = "idle"
            with m.State("sweep"):
                m.d.comb += self.busy.eq(1)
                stall = Signal()
                for key in mems:
                    m.d.comb += [rd[key].addr.eq(index), rd[key].en.eq(~stall)]
                a_wide = Signal(unsigned(10))
                m.d.comb += a_wide.eq(rd["a"].data + rd["u"].data)
                s = Signal()
                m.d.comb += s.eq(a_wide >= 256)
                x1 = trace_update(m, cfg, rd["x"].data, s)
                m.d.comb += stall.eq((stage_b & s & ~self.spikes.ready) | self.hold)
                m.d.comb += [self.spikes.valid.eq(stage_b & s & ~self.hold),
                             self.spikes.payload.pop.eq(Population.INPUT),
                             self.spikes.payload.addr.eq(b_index)]
                with m.If(stage_b & ~stall):
                    for key, value in (("a", a_wide - (s << 8)), ("x", x1), ("xs", rd["xs"].data + x1)):
                        m.d.comb += [wr[key].addr.eq(b_index), wr[key].data.eq(value), wr[key].en.eq(1)]
                sweep.advance(m, stall, "idle")
        return m
