"""Spike serializer: words of ``B`` spike bits (one per sweep cycle) → one address event per cycle.

A sweep writes word ``a`` (the spike bits of neurons ``a·B … a·B + B − 1``) into the buffer at
``a``, one word per cycle, in order; the serializer walks the words in order and emits the index
``a·B + bit`` of every set bit, lowest first, one per cycle. A word with ``p`` spikes occupies it for
``max(1, p)`` cycles (it loads the next word in the cycle it emits the last spike of the current
one), so a sweep of ``q`` words that wrote its first word at cycle ``w₀`` is done at
``w₀ + 1 + Σ_a max(1, p_a)`` — the cycle model's sweep term. ``done`` is high from the cycle in
which the last event is emitted (or the last, empty, word is dropped) until the next ``start``.

Ports: ``start`` (strobe, with ``words``: the sweep's word count), ``word`` (always-ready stream of
spike bits), ``event`` (always-ready stream of neuron indices), ``done``.

With one bit per word (one bank) every word takes exactly one cycle, so a word is loaded at most
one cycle after the next one arrives: at most one word is ever waiting (``written − loaded ≤ 1``,
asserted), and the buffer is a register holding the last word written.
"""

from amaranth.hdl import Assert, Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from .params import bits_for, rejected

__all__ = ["SpikeSerializer"]


class SpikeSerializer(wiring.Component):
    """Serializer of sweeps of up to ``depth`` words of ``width`` spike bits."""

    def __init__(self, width: int, depth: int) -> None:
        if not isinstance(width, int) or width < 1 or width & (width - 1):
            raise rejected(self, ValueError(f"width must be a power of two, not {width!r}"))
        if not isinstance(depth, int) or depth < 1:
            raise rejected(self, ValueError(f"depth must be a positive integer, not {depth!r}"))
        self._width, self._depth = width, depth
        super().__init__({
            "start": In(1),
            "words": In(range(depth + 1)),
            "word": In(stream.Signature(width, always_ready=True)),
            "event": Out(stream.Signature(bits_for(width * depth), always_ready=True)),
            "done": Out(1),
        })

    def elaborate(self, platform: object) -> Module:
        B, depth = self._width, self._depth
        m = Module()
        written = Signal(range(depth + 1))          # words in the buffer (visible the cycle after the write)
        loaded = Signal(range(depth + 1))           # words taken out of the buffer
        total = Signal(range(depth + 1))
        cur = Signal(B)                             # spike bits of the current word still to emit
        cur_addr = Signal(range(depth))
        waiting = Signal(B)                         # the word at `loaded` (read asynchronously)
        if B == 1:                                  # the last word written (see the module docstring)
            last = Signal(B, name="last_word")
            m.d.comb += [waiting.eq(last), Assert(written - loaded <= 1, "more than one one-bit word waiting")]
            with m.If(self.word.valid):
                m.d.sync += last.eq(self.word.payload)
        else:
            m.submodules.buffer = buffer = Memory(shape=B, depth=depth, init=[])
            wr, rd = buffer.write_port(), buffer.read_port(domain="comb")
            m.d.comb += [wr.addr.eq(written), wr.data.eq(self.word.payload), wr.en.eq(self.word.valid),
                         rd.addr.eq(loaded), waiting.eq(rd.data)]
        with m.If(self.word.valid):
            m.d.sync += written.eq(written + 1)
        # emit the lowest set bit of the current word
        lowest = Signal(B)
        m.d.comb += lowest.eq(cur & -cur)
        bit = Signal(range(B))
        for n in reversed(range(B)):
            with m.If(cur[n]):
                m.d.comb += bit.eq(n)
        rest = Signal(B)
        m.d.comb += [rest.eq(cur & ~lowest), self.event.valid.eq(cur != 0),
                     self.event.payload.eq(cur_addr * B + bit)]
        load = Signal()
        m.d.comb += [load.eq((rest == 0) & (loaded < written)), self.done.eq((rest == 0) & (loaded == total))]
        m.d.sync += cur.eq(Mux(load, waiting, rest))
        with m.If(load):
            m.d.sync += [cur_addr.eq(loaded), loaded.eq(loaded + 1)]
        with m.If(self.start):                      # a new sweep: the buffer restarts at word 0
            m.d.sync += [written.eq(0), loaded.eq(0), total.eq(self.words), cur.eq(0)]
        return m
