"""The counter-based random generator as a circuit: Jenkins' 32-bit integer hash.

Bit-exact twin of :func:`modsnn.golden_model.rng.hash32` (all arithmetic modulo 2^32)::

    a = (a + 0x7ed55d16) + (a << 12)
    a = (a ^ 0xc761c23c) ^ (a >> 19)
    a = (a + 0x165667b1) + (a << 5)
    a = (a + 0xd3a2646c) ^ (a << 9)
    a = (a + 0xfd7046c5) + (a << 3)
    a = (a ^ 0xb55a4f09) ^ (a >> 16)

Multiply-free: six stages of adders, XORs and wiring. :func:`hash32_stages` builds them with a
register after every stage (latency :data:`HASH_LATENCY` cycles, one hash per cycle), or after every
group of ``6 / registers`` stages (the plasticity engine's ``Config.hash_stages``: 3 or 2 registers
for a slow clock and few flip-flops); :class:`Hash32` wraps the six-register form in a stream stage
with back-pressure.
"""

from amaranth.hdl import Module, Signal, Value, unsigned
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

__all__ = ["HASH_LATENCY", "STAGES", "Hash32", "hash32_stages"]

#: One function per mixer stage (arithmetic widens; each result is truncated to 32 bits).
STAGES = (
    lambda a: (a + 0x7ED55D16) + (a << 12),
    lambda a: (a ^ 0xC761C23C) ^ (a >> 19),
    lambda a: (a + 0x165667B1) + (a << 5),
    lambda a: (a + 0xD3A2646C) ^ (a << 9),
    lambda a: (a + 0xFD7046C5) + (a << 3),
    lambda a: (a ^ 0xB55A4F09) ^ (a >> 16),
)

#: Cycles from the input of :func:`hash32_stages` to its output.
HASH_LATENCY = len(STAGES)


def hash32_stages(m: Module, value: Value, name: str = "hash", en: Value | int = 1,
                  registers: int = HASH_LATENCY) -> Value:
    """The hash of the 32-bit ``value`` after ``registers`` cycles: a register (loaded when ``en`` is
    high) after every group of ``HASH_LATENCY / registers`` consecutive stages."""
    if registers not in (1, 2, 3, 6):
        raise ValueError(f"registers must be 1, 2, 3 or 6 (a divisor of {HASH_LATENCY}), not {registers!r}")
    group = HASH_LATENCY // registers
    for n in range(registers):
        for stage in STAGES[n * group:(n + 1) * group]:
            value = stage(value)[:32]
        reg = Signal(32, name=f"{name}_s{n}")
        with m.If(en):
            m.d.sync += reg.eq(value)
        value = reg
    return value


class Hash32(wiring.Component):
    """A stream stage computing ``o.payload = H(i.payload)``.

    Ports: ``i`` (in, stream of 32-bit words), ``o`` (out, stream of 32-bit hashes).
    Latency :data:`HASH_LATENCY` cycles; one word per cycle; back-pressure freezes the whole pipeline
    (``i.ready = o.ready | ~o.valid``).
    """

    i: In(stream.Signature(unsigned(32)))
    o: Out(stream.Signature(unsigned(32)))

    def elaborate(self, platform: object) -> Module:
        m = Module()
        advance = Signal()
        m.d.comb += [advance.eq(self.o.ready | ~self.o.valid), self.i.ready.eq(advance)]
        valid = self.i.valid
        for n in range(HASH_LATENCY):
            reg = Signal(name=f"valid_s{n}")
            with m.If(advance):
                m.d.sync += reg.eq(valid)
            valid = reg
        m.d.comb += [self.o.valid.eq(valid), self.o.payload.eq(hash32_stages(m, self.i.payload, en=advance))]
        return m
