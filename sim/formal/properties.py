"""Reusable property builders for the formal wrappers.

Amaranth 0.5 has no ``Past``: a past value is an explicit register (:func:`past`), zero in the
first cycle. Every wrapper holds the ``sync`` reset low (:func:`no_reset`): the properties are
about a running block, and a reset is a new start from the initial state.
"""

from __future__ import annotations

from amaranth.hdl import Assert, Assume, Module, ResetSignal, Signal, Value

__all__ = ["handshake_rules", "no_reset", "past"]


def past(m: Module, value: Value, name: str) -> Signal:
    """``value`` one cycle ago (its shape's zero in the first cycle)."""
    reg = Signal(Value.cast(value).shape(), name=f"past_{name}")
    m.d.sync += reg.eq(value)
    return reg


def no_reset(m: Module) -> None:
    """Assume the ``sync`` reset is never asserted."""
    m.d.comb += Assume(~ResetSignal("sync"))


def handshake_rules(m: Module, valid: Value, ready: Value, payload: Value, name: str, *, assume: bool) -> None:
    """The stream rules of ``amaranth.lib.stream`` on one stream: once ``valid`` is high it stays
    high until a cycle with ``ready``, and ``payload`` does not change meanwhile.

    ``assume=True`` imposes them on a stream the wrapper drives from free inputs (the block's
    input); ``assume=False`` asserts them of a stream the block drives (its output)."""
    was_valid, was_ready = past(m, valid, f"{name}_valid"), past(m, ready, f"{name}_ready")
    payload = Value.cast(payload)
    was_payload = past(m, payload, f"{name}_payload")
    waiting = was_valid & ~was_ready
    rule = Assume if assume else Assert
    with m.If(waiting):
        m.d.comb += [rule(valid, f"{name}: valid dropped before ready"),
                     rule(payload == was_payload, f"{name}: payload changed while valid and not ready")]
