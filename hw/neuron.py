"""The neuron and trace updates as logic, shared by every population (hidden, readout, inputs).

Exactly the golden model's integer updates (:mod:`modsnn.golden_model.network`)::

    v'  = clamp(v − (v >>> leak_shift) + I, v_min, v_max)     saturate to membrane_bits
    h   = [lo ≤ v' < hi]                                       boxcar, before reset
    s   = [v' ≥ θ];  v ← v' − θ·s                              reset by subtraction
    x  ← min(x − ((x + 2^k − 1) >> k) + A·s, x_max)            saturate to trace_bits
"""

from amaranth.hdl import Module, Mux, Signal, Value, signed, unsigned

from ..golden_model.config import Config

__all__ = ["membrane_update", "spike_and_boxcar", "trace_update"]


def membrane_update(m: Module, cfg: Config, v: Value, current: Value) -> Value:
    """``clamp(v − (v >>> leak_shift) + I, v_min, v_max)`` (the sum is exact in a wide signal; the
    clamp is the only narrowing, a documented saturation)."""
    wide = Signal(signed(max(cfg.membrane_bits, len(current)) + 2))
    m.d.comb += wide.eq(v - (v >> cfg.leak_shift) + current)
    v1 = Signal(signed(cfg.membrane_bits))
    m.d.comb += v1.eq(Mux(wide > cfg.v_max, cfg.v_max, Mux(wide < cfg.v_min, cfg.v_min, wide)))
    return v1


def spike_and_boxcar(m: Module, v1: Value, theta: Value, lo: Value, hi: Value) -> tuple[Value, Value, Value]:
    """``(v' − θ·s, h, s)`` for the pre-reset membrane ``v1``."""
    h, s = Signal(), Signal()
    m.d.comb += [h.eq((v1 >= lo) & (v1 < hi)), s.eq(v1 >= theta)]
    v2 = Signal(signed(len(v1)))
    # v1 ≥ θ > 0 when s, so no underflow; v1 − θ is formed beside the comparison, which only selects
    m.d.comb += v2.eq(Mux(s, v1 - theta, v1))
    return v2, h, s


def trace_update(m: Module, cfg: Config, x: Value, s: Value) -> Value:
    """``min(x − ((x + 2^k − 1) >> k) + A·s, x_max)``."""
    k = cfg.trace_shift
    x_wide = Signal(unsigned(cfg.trace_bits + 2))
    m.d.comb += x_wide.eq(x - ((x + ((1 << k) - 1)) >> k) + Mux(s, cfg.trace_amp, 0))
    x1 = Signal(unsigned(cfg.trace_bits))
    m.d.comb += x1.eq(Mux(x_wide > cfg.x_max, cfg.x_max, x_wide))
    return x1
