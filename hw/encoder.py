"""Input encoder: the golden model's deterministic rate code, ``B`` inputs per cycle.

Input ``j`` lives in lane ``j mod B`` at address ``j div B`` (the bank mapping of
:mod:`modsnn.hw.params`; inputs past ``n_in`` are ghosts with ``u = 0`` that never spike). Per
time step (``step`` strobe) the encoder sweeps its ``ceil(n_in / B)`` words, one per cycle::

    a' = a + u;   s = [a' ≥ 256];   a ← a' − 256·s       (read, registered, computed, written back)
    x  ← min(x − ((x + 2^k − 1) >> k) + A·s, x_max);   X += x

and hands each word's spike bits to its :class:`~modsnn.hw.serializer.SpikeSerializer`, whose
events (ascending ``j``) go out on ``spikes``. ``busy`` is high from the ``step`` until the last
event; a step costs :data:`ENCODE_LATENCY` + ``Σ_words max(1, spikes in the word)`` cycles.
``clear`` zeroes ``a, x, X`` (not ``u``) in ``ceil(n_in / B)`` cycles. ``u`` is written through
``u_addr``/``u_data``/``u_we``; ``x_addr``/``x_en`` read ``X`` of all lanes at an address two cycles
later on ``x_data`` (registered at the block RAM) (the plasticity engine's column walker).

A lane's memories may be read at the address being written, but that read is then never used
(asserted): the state is swept three words ahead of its write-back, read for ``x_en`` only
between sweeps and cleared only before them; the rates are written only while no sweep runs.
The iCE40 build drops their read-first emulation (:data:`COLLISION_UNUSED`).
"""

from amaranth.hdl import Assert, Module, Mux, Signal, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from ..golden_model.config import Config
from .bank import delay
from .neuron import trace_update
from .params import bits_for, checked_params
from .serializer import SpikeSerializer

__all__ = ["COLLISION_UNUSED", "ENCODE_LATENCY", "InputEncoder"]

ENCODE_LATENCY = 4      # step → first word written into the serializer (3) + serializer hand-over (1)
#: The encoder's memories (``u<lane>``, ``state<lane>``; Yosys name patterns) whose reads in the
#: cycle of a write to the same word go unused (asserted in :meth:`InputEncoder.elaborate`).
COLLISION_UNUSED = ("u[0-9]*", "state[0-9]*")


class InputEncoder(wiring.Component):
    """Rate-code encoder and input traces of ``cfg.n_inputs`` inputs on ``lanes × cores`` lanes."""

    def __init__(self, cfg: Config) -> None:
        self._p = p = checked_params(self, cfg)
        self._cfg = cfg
        self._state = data.StructLayout({"a": unsigned(9), "x": unsigned(cfg.trace_bits),
                                         "xs": unsigned(p.xsum_bits)})
        super().__init__({
            "u_addr": In(bits_for(p.input_words * p.banks)), "u_data": In(8), "u_we": In(1),
            "step": In(1), "clear": In(1), "busy": Out(1),
            "spikes": Out(stream.Signature(p.neuron_bits, always_ready=True)),
            "x_addr": In(bits_for(p.input_words)), "x_en": In(1),
            "x_data": Out(data.ArrayLayout(unsigned(p.xsum_bits), p.banks)),
        })

    def elaborate(self, platform: object) -> Module:
        cfg, p = self._cfg, self._p
        B, q = p.banks, p.input_words
        m = Module()
        m.submodules.serializer = ser = SpikeSerializer(B, q)
        m.d.comb += [self.spikes.valid.eq(ser.event.valid), self.spikes.payload.eq(ser.event.payload)]
        index = Signal(range(q + 1))
        sweeping, clearing = Signal(), Signal()
        # A: read u and the state; B: the data registered; C: the update computed and registered;
        # D: written back, spike bits to the serializer
        valid_c = delay(m, sweeping, 2, "enc_vc")
        addr_c = delay(m, index, 2, "enc_ac")
        spikes_d = Signal(B)
        lane_bits = (B - 1).bit_length()
        for lane in range(B):
            u = Memory(shape=8, depth=q, init=[])
            st = Memory(shape=self._state, depth=q, init=[])
            m.submodules[f"u{lane}"], m.submodules[f"state{lane}"] = u, st
            u_wr, u_rd, st_wr, st_rd = u.write_port(), u.read_port(), st.write_port(), st.read_port()
            m.d.comb += [u_wr.addr.eq(self.u_addr >> lane_bits), u_wr.data.eq(self.u_data),
                         u_wr.en.eq(self.u_we & ((self.u_addr % B) == lane)),
                         u_rd.addr.eq(index), st_rd.addr.eq(Mux(sweeping, index, self.x_addr))]
            # C: a' = a + u, spike, trace (from the registered read data)
            old, u_b = delay(m, st_rd.data, 1, f"old{lane}"), delay(m, u_rd.data, 1, f"u{lane}")
            a_wide = Signal(10, name=f"a_wide{lane}")
            m.d.comb += a_wide.eq(old.a + u_b)
            s = Signal(name=f"s{lane}")
            m.d.comb += s.eq(a_wide >= 256)
            x1 = trace_update(m, cfg, old.x, s)
            new = Signal(self._state, name=f"new{lane}")
            m.d.comb += [new.a.eq(a_wide - Mux(s, 256, 0)), new.x.eq(x1), new.xs.eq(old.xs + x1)]
            new_d = delay(m, new, 1, f"new{lane}")
            with m.If(delay(m, valid_c, 1, f"enc_vd{lane}")):
                m.d.comb += [st_wr.addr.eq(delay(m, addr_c, 1, f"enc_ad{lane}")), st_wr.data.eq(new_d),
                             st_wr.en.eq(1)]
            with m.If(clearing):
                m.d.comb += [st_wr.addr.eq(index), st_wr.data.eq(0), st_wr.en.eq(1)]
            m.d.sync += spikes_d[lane].eq(valid_c & s)
            m.d.sync += self.x_data[lane].eq(st_rd.data.xs)             # registered at the block RAM
            # a read at the word being written is never used (COLLISION_UNUSED)
            m.d.comb += [
                Assert(~(st_wr.en & (st_wr.addr == st_rd.addr) & (sweeping | self.x_en)),
                       f"encoder lane {lane}: a used state read collided with its write"),
                Assert(~(u_wr.en & (u_wr.addr == u_rd.addr) & sweeping),
                       f"encoder lane {lane}: a rate was written while the sweep read it")]
        m.d.comb += [ser.word.valid.eq(delay(m, valid_c, 1, "enc_vd")), ser.word.payload.eq(spikes_d),
                     ser.words.eq(q)]
        with m.FSM(init="idle"):
            with m.State("idle"):
                with m.If(self.clear):
                    m.d.sync += index.eq(0)
                    m.next = "clear"
                with m.Elif(self.step):
                    m.d.sync += index.eq(0)
                    m.d.comb += ser.start.eq(1)
                    m.next = "sweep"
            with m.State("clear"):
                m.d.comb += [clearing.eq(1), self.busy.eq(1)]
                m.d.sync += index.eq(index + 1)
                with m.If(index == q - 1):
                    m.next = "idle"
            with m.State("sweep"):
                m.d.comb += [sweeping.eq(index < q), self.busy.eq(1)]
                with m.If(index < q):
                    m.d.sync += index.eq(index + 1)
                with m.Elif(ser.done):
                    m.next = "idle"
        return m
