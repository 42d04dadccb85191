"""The counter-based random generator as a circuit: Jenkins' 32-bit integer hash.

Bit-exact twin of :func:`modsnn.golden_model.rng.hash32` (all arithmetic modulo 2^32)::

    a = (a + 0x7ed55d16) + (a << 12)
    a = (a ^ 0xc761c23c) ^ (a >> 19)
    a = (a + 0x165667b1) + (a << 5)
    a = (a + 0xd3a2646c) ^ (a << 9)
    a = (a + 0xfd7046c5) + (a << 3)
    a = (a ^ 0xb55a4f09) ^ (a >> 16)

Multiply-free: six stages of adders, XORs and wiring. :func:`hash32` builds the combinational
network for any 32-bit value; :class:`Hash32` wraps it in a stream stage.
"""


from amaranth.hdl import Module, Signal, Value, unsigned
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

__all__ = ["Hash32", "hash32"]


def hash32(m: Module, a: Value, name: str = "hash") -> Value:
    """The combinational hash of a 32-bit value, built in ``m`` (arithmetic widens, each stage is
    truncated mod 2^32 into its own signal, so the netlist holds every stage once)."""
    stages = (
        lambda a: (a + 0x7ED55D16) + (a << 12),
        lambda a: (a ^ 0xC761C23C) ^ (a >> 19),
        lambda a: (a + 0x165667B1) + (a << 5),
        lambda a: (a + 0xD3A2646C) ^ (a << 9),
        lambda a: (a + 0xFD7046C5) + (a << 3),
        lambda a: (a ^ 0xB55A4F09) ^ (a >> 16),
    )
    value = Signal(32, name=f"{name}_in")
    m.d.comb += value.eq(a)
    for n, stage in enumerate(stages):
        nxt = Signal(32, name=f"{name}_s{n}")
        m.d.comb += nxt.eq(stage(value)[:32])
        value = nxt
    return value


class Hash32(wiring.Component):
    """One stream stage computing ``o.payload = H(i.payload)``.

    Ports: ``i`` (in, stream of 32-bit words), ``o`` (out, stream of 32-bit hashes).
    Latency 1 cycle; throughput one word per cycle; back-pressure passes through
    (``i.ready = ~o.valid | o.ready``).
    """

    i: In(stream.Signature(unsigned(32)))
    o: Out(stream.Signature(unsigned(32)))

    def elaborate(self, platform: object) -> Module:
        m = Module()
        m.d.comb += self.i.ready.eq(~self.o.valid | self.o.ready)
        with m.If(self.i.ready):
            m.d.sync += [self.o.valid.eq(self.i.valid), self.o.payload.eq(hash32(m, self.i.payload))]
        return m
