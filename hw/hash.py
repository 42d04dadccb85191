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


from amaranth.hdl import Module, Value, unsigned
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

__all__ = ["Hash32", "hash32"]


def hash32(a: Value) -> Value:
    """The combinational hash of a 32-bit value (arithmetic widens, the slice truncates mod 2^32)."""
    a = ((a + 0x7ED55D16) + (a << 12))[:32]
    a = ((a ^ 0xC761C23C) ^ (a >> 19))[:32]
    a = ((a + 0x165667B1) + (a << 5))[:32]
    a = ((a + 0xD3A2646C) ^ (a << 9))[:32]
    a = ((a + 0xFD7046C5) + (a << 3))[:32]
    a = ((a ^ 0xB55A4F09) ^ (a >> 16))[:32]
    return a


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
            m.d.sync += [self.o.valid.eq(self.i.valid), self.o.payload.eq(hash32(self.i.payload))]
        return m
