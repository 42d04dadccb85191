"""One bank of the neuron array: its memories and its three pipelines.

Bank ``b`` (lane ``b mod L`` of core ``b div L``) holds, for every population, the neurons
``i ≡ b (mod B)`` at bank address ``a = i div B`` (layout in :mod:`modsnn.hw.params`): their state
and synaptic current, the feed-forward and recurrent weights of their rows, the readout weights and
routing entries of its readout neurons, and the per-row keys and gates of the plasticity passes.
All commands arrive broadcast to every bank (always-ready streams); the bank works on its own rows.

**Accumulate** (``acc``, one word per cycle, latency :data:`ACC_LATENCY` to the write)::

    s0  read weight word `waddr` (and, for OUT, route entry `waddr`)
    s2  target t = base + (DENSE ? a : route.addr);  valid = DENSE | route.valid;  read I[t]
    s3  the weight word arrives from the memory's chunk registers (READ_LATENCY 3)
    s4  I[t] ← I[t] + (w >> weight_frac)        exact (acc_bits); the two writes still in
                                                 flight are forwarded, so back-to-back words
                                                 to one address accumulate correctly (their
                                                 address matches compared in s3)

**Sweep** (``sweep``, one word per cycle, never stalls; latency :data:`SWEEP_LATENCY`)::

    A   read state[addr] and I[addr]  (θ, lo, hi: the swept population's, held on their ports)
    B   I[addr] ← 0;  the read data is registered
    B'  v' = clamp(v − (v >>> leak_shift) + I);  trace(x, 0) and trace(x, 1)
    C   h = [lo ≤ v' < hi];  s = [v' ≥ θ];  v ← v' − θ·s;  x ← trace(x, s);  H += h;  X += x
        (v' − θ, H + 1 and X + trace(x, 0 | 1) are formed beside the comparisons, which only select)
    D   write state[addr];  `spike` = s;  `mon` = the new state

**Plasticity** (``job``, one job per cycle; ``h = hash_stages`` of the configuration, 6 by default;
stage numbers in :class:`JobStages`, shown for ``h = 6``)::

    P0  read route entry `waddr` (SR on OUT)
    P1  read the key RAM at (field, OUT ? route.addr : a), gate RAM at a, state at haddr (SIGN: H)
    P2  the data, registered
    P3  word = H(key ^ operand)  (h stages → P3+h = P9);  factor = (OUT ? m_class(route) : G_a)
    P4  p = factor · x  (P4–P5);  p' = p << (32 − s)  (P8 = P3+h−1; on the iCE40 UP computed as
        (p · 2^(32 − s − s_lo)) << s_lo, s_lo = 32 − s_max: the variable part a product, on SB_MAC16s)
    P7  read the old weight (P3+h−2; arrives P10 = P3+h+1, from the chunk registers)
    P9  ROWKEY: keys[field, a] ← word;   SIGN: L += word[31] ? m_c : −m_c;   SR: t = p' + word
    P10 SIGN (last class): G_a = L·H (P11: into the gate RAM);  SR: w' = w + (t >> 32)
    P11 w' ← clamp(w', −w_max, w_max)
    P12 write w' (lanes gated on: OUT route valid and m ≠ 0; hidden G ≠ 0 and off the diagonal)

With ``h = 2`` (the iCE40 UP5K's slow clock) the hash takes three mixer stages per register and
the pipeline is four stages shorter: P5 the hash word, P3 the weight read, P8 the write; from P3 to
P5 only the fields the late stages use travel with the job.

``(p << (32 − s) + word) >> 32`` equals the golden model's ``SR(p, s) = (p + (word >> (32 − s))) >> s``
for every integer ``p`` (write ``word = r·2^(32−s) + f``, ``0 ≤ f < 2^(32−s)``: the fraction
``f / 2^(32−s) < 1`` never carries into ``⌊(p + r) / 2^s⌋``). The weight read (P7) and write (P12)
are an odd number of stages apart, so a single-port weight memory serves jobs issued every other
cycle without conflict.
"""

import dataclasses
from typing import Any

from amaranth.hdl import Array, Assert, Cat, Module, Mux, Signal, Value, signed, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from ..golden_model.config import Config
from .dsp import mac16_delay
from .formats import AccKind, HostTarget, JobOp, Matrix, formats_for
from .hash import HASH_LATENCY, hash32_stages
from .neuron import membrane_update, spike_and_boxcar, trace_update
from .params import HwParams, checked_params, rejected
from .spram import SinglePortMemory, is_ecp5, is_ice40_up
from .weight_memory import WeightMemory

__all__ = ["ACC_LATENCY", "COLLISION_FREE", "COLLISION_UNUSED", "HOST_LATENCY", "MEMORY_DELAYS", "SWEEP_LATENCY",
           "Bank", "JobStages", "delay", "memory_delay"]

ACC_LATENCY = 4         # s0 → write at s4
SWEEP_LATENCY = 4       # A → D
HOST_LATENCY = 4        # host.re → host_rdata / host_state

#: The bank memories whose read data is never used from a cycle in which the same address is
#: written (state: each word is swept once per step and read otherwise only between sweeps; keys
#: and gates: written by the ROWKEY and SIGN passes, read by the later SIGN and SR passes). Their
#: read-during-write behaviour is irrelevant: :meth:`Bank._connect_ports` asserts it, and the iCE40
#: build lets Yosys drop the read-first emulation (a register of the written word and address and
#: a comparator and multiplexer per memory) that SB_RAM40_4K would otherwise need.
COLLISION_FREE = ("state", "keys", "gate")
#: The bank memories read in the cycle their address is written, whose read data then goes unused:
#: the currents (an accumulation reads I[t] two cycles before the write of the word two ahead of it
#: lands; that write is forwarded from the history instead, :meth:`Bank._accumulate` asserts it).
COLLISION_UNUSED = ("acc",)
#: The memories of :func:`memory_delay` (``memory_delays``): read and written at different words (the
#: bank's job delay lines; the control port's CSR read address, :class:`~modsnn.hw.control_port.ControlPort`).
MEMORY_DELAYS = ("pj1_mem", "pj_l9_mem", "csr_late_mem")


@dataclasses.dataclass(frozen=True)
class JobStages:
    """The stages of the plasticity pipeline whose hash has ``hash_stages`` registers (the
    configuration's ``hash_stages``; 6 = :data:`~modsnn.hw.hash.HASH_LATENCY`, one per mixer stage).
    The learner's latencies and the cycle model's overheads follow from these numbers."""

    hash_stages: int = HASH_LATENCY
    key: int = 3                        # P3: hash input, factor

    @classmethod
    def of(cls, cfg: Config) -> "JobStages":
        return cls(cfg.hash_stages)

    @property
    def rowkey(self) -> int:
        """P3+h: key RAM write, SIGN accumulate, SR sum (the hash word)."""
        return self.key + self.hash_stages

    @property
    def sign(self) -> int:
        """P5+h: gate RAM write, gate bit out."""
        return self.rowkey + 2

    @property
    def weight_read(self) -> int:
        """P1+h: the old weight is read (it arrives one stage after :attr:`rowkey`, READ_LATENCY 3)."""
        return self.rowkey - 2

    @property
    def write(self) -> int:
        """P6+h: the new weight is written, an odd number of stages after the read (a single-port
        weight memory serves jobs every other cycle)."""
        return self.rowkey + 3


assert all((s.write - s.weight_read) % 2 == 1 and s.weight_read >= s.key for s in map(JobStages, (2, 3, 6)))


#: Registers whose name ends so (``<name>_fanout_d1``) are per-bank copies of a broadcast signal: the
#: builds mark their flip-flops ``keep`` (:func:`modsnn.boards.build.yosys_after_read`), since Yosys'
#: ``opt_merge`` would merge identical copies back into one register driving every bank. A copy must
#: feed logic in its own module: wired straight to a port, it takes the port's name and is missed.
FANOUT_SUFFIX = "_fanout"


def delay(m: Module, value: Value, cycles: int, name: str, en: Value | int = 1, reset_less: bool = False) -> Value:
    """``value`` after ``cycles`` registers (loaded when ``en``); ``reset_less``: registers of data
    whose valid bit travels beside them, which the reset need not clear (a multiplier's operand
    and product registers: without a reset Yosys packs them into the iCE40 SB_MAC16)."""
    shape = value.shape() if hasattr(value, "shape") else Value.cast(value).shape()
    for n in range(cycles):
        reg = Signal(shape, name=f"{name}_d{n + 1}", reset_less=reset_less)
        with m.If(en):
            m.d.sync += reg.eq(value)
        value = reg
    return value


def key_row_bits(p: HwParams) -> int:
    """Address bits of a row within a field of the key RAM (:func:`key_address`)."""
    return (p.max_group_words - 1).bit_length()


def key_depth(p: HwParams) -> int:
    """Words of a bank's key RAM: the row keys of fields 0 (readout rows, then FB), 1 (FF) and 2
    (REC), ``max_group_words`` each, at :func:`key_address` (one RAM instead of three: a job reads
    or writes one key, so one port serves them all, and the matrix selects an address, not a word)."""
    return 2 * (1 << key_row_bits(p)) + p.max_group_words


def keys_distributed_on_ecp5(p: HwParams) -> bool:
    """Whether the key RAM is distributed RAM on ECP5: when a field holds at most 16 words (one
    LUT RAM deep; ``mnist-ecp5``'s 16 banks), where Yosys would otherwise spend a block RAM per bank
    on it (block RAM is the scarce resource there). Larger key RAMs take a block RAM per bank."""
    return p.max_group_words <= 16


def key_attrs(p: HwParams, platform: object) -> dict[str, str]:
    """The key RAM's attributes for ``platform`` (:func:`keys_distributed_on_ecp5`)."""
    return {"ram_style": "distributed"} if is_ecp5(platform) and keys_distributed_on_ecp5(p) else {}


def key_address(p: HwParams, field: Value | int, row: Value) -> Value:
    """The key RAM address of field ``field``'s key of row group (or readout word) ``row``."""
    return Cat(Value.cast(row)[:key_row_bits(p)], Value.cast(field)[:2])


def memory_delay(m: Module, value: Value, cycles: int, name: str) -> Value:
    """``value`` after ``cycles`` ≥ 2 cycles through a memory of ``cycles`` words instead of ``cycles``
    registers: written every cycle at an index that steps through the words, read synchronously at
    the next index (the word written ``cycles − 1`` cycles before). The read never meets the write
    (the iCE40 build drops the read-first emulation: :data:`MEMORY_DELAYS`); the words have no
    reset, so it carries data only, beside register delays of their valid bits. The memory asks
    for block RAM (``ram_style``): Yosys would build a memory this shallow from flip-flops."""
    assert cycles >= 2 and f"{name}_mem" in MEMORY_DELAYS, (cycles, name)
    shape = value.shape() if hasattr(value, "shape") else Value.cast(value).shape()
    mem = Memory(shape=shape, depth=cycles, init=[], attrs={"ram_style": "block"})
    m.submodules[f"{name}_mem"] = mem
    write, read = mem.write_port(), mem.read_port()
    index = Signal(range(cycles), name=f"{name}_index")
    after = Mux(index == cycles - 1, 0, index + 1)
    m.d.sync += index.eq(after)
    m.d.comb += [write.addr.eq(index), write.data.eq(value), write.en.eq(1), read.addr.eq(after)]
    return read.data


class _Port:
    """The address, data and enable of one side of a memory that is a component (a
    :class:`~modsnn.hw.spram.SinglePortMemory`), shaped like an Amaranth memory port."""

    def __init__(self, addr: Value, data: Value, en: Value) -> None:
        self.addr, self.data, self.en = addr, data, en


def _weight_memory(kind: type, width: int, depth: int, chunk_depth: int) -> WeightMemory | SinglePortMemory:
    if kind is SinglePortMemory:
        return SinglePortMemory(width, depth)
    return WeightMemory(width, depth, chunk_depth)


def _ports_of(mem: Memory | WeightMemory | SinglePortMemory, writable: bool) -> tuple[Any, Any]:
    """``(read port, write port)`` of a memory (``None`` for a ROM's write port)."""
    if isinstance(mem, WeightMemory | SinglePortMemory):
        return _Port(mem.raddr, mem.rdata, Signal(name="unused_en")), _Port(mem.waddr, mem.wdata, mem.we)
    return mem.read_port(), (mem.write_port() if writable else None)


class Bank(wiring.Component):
    """Bank ``bank`` of the neuron array of ``cfg`` (ports: see the module docstring)."""

    @staticmethod
    def late_layout(cfg: Config) -> data.StructLayout:
        """The job fields the plasticity stages after P3 use; their ``args`` are the first bits of the
        job's ``args`` (each op's late fields lead its member of the job's union)."""
        fmt = formats_for(cfg)
        args = fmt.job.members["args"].members
        sign = args["sign"].members
        late_args = data.UnionLayout({"field": args["keyed"].members["field"],
                                      "sign": data.StructLayout({name: sign[name] for name in ("c", "m", "last")}),
                                      "waddr": args["sr"].members["waddr"]})
        return data.StructLayout({"op": JobOp, "a": fmt.job.members["a"], "matrix": Matrix, "args": late_args})

    def __init__(self, cfg: Config, bank: int, schedule_asserts: bool = True) -> None:
        """``schedule_asserts``: also assert what only the learner's schedule guarantees (the
        :data:`COLLISION_FREE` memories, the shift and levels held while used, the shift within the
        configuration's bounds); off for a proof of the bank alone under arbitrary jobs."""
        self._schedule_asserts = schedule_asserts
        self._p = p = checked_params(self, cfg)
        self._fmt = fmt = formats_for(cfg)
        if not isinstance(bank, int) or not 0 <= bank < p.banks:
            raise rejected(self, ValueError(f"bank must be an integer in [0, {p.banks - 1}], not {bank!r}"))
        self._cfg, self._bank = cfg, bank
        self._late = self.late_layout(cfg)
        args = fmt.job.members["args"].members
        late = self._late.members["args"].members
        for op, name in (("keyed", "field"), ("sr", "waddr")):
            assert args[op][name].offset == 0 and args[op][name].shape == late[name]
        assert all(args["sign"][name] == late["sign"][name] for name in late["sign"].members)
        super().__init__({
            "acc": In(fmt.stream(fmt.acc_command)),
            "sweep": In(fmt.stream(fmt.sweep_command)),
            "theta": In(signed(cfg.membrane_bits)), "lo": In(signed(cfg.membrane_bits)),
            "hi": In(signed(cfg.membrane_bits)),              # of the population being swept (held)
            "clear": In(fmt.stream(unsigned(p.state_addr_bits))),
            "job": In(fmt.stream(fmt.job)),
            "shift": In(5),                                   # 32 − s of the current SR pass
            "levels": In(data.ArrayLayout(signed(p.level_bits), cfg.n_classes)),
            "host": In(fmt.stream(fmt.host_command)),
            "host_rdata": Out(signed(cfg.weight_bits)),       # weights: HOST_LATENCY cycles after host.re
            "host_state": Out(fmt.state_word),                # state: HOST_LATENCY cycles after host.re
            "spike": Out(1),                                  # sweep stage D
            "mon": Out(fmt.state_word),                       # sweep stage D: the written state
            "x_addr": In(p.state_addr_bits), "x_en": In(1),
            "x_data": Out(p.xsum_bits),                       # X of state word x_addr, 2 cycles later
            "prefix": Out(32),                                # the hash word (P3+h): a PREFIX job's result
            "gated": Out(1), "gated_valid": Out(1),           # SIGN, last class: G ≠ 0 (P9)
        })

    def elaborate(self, platform: object) -> Module:
        m = Module()
        self._ice40 = is_ice40_up(platform)     # spare SB_MAC16 blocks: the SR shift, a delay line
        mems = self._memories(m, platform)
        ports = {name: _ports_of(mem, name != "route") for name, mem in mems.items()}
        self._ports = ports
        self._read_muxes: dict[str, list[Any]] = {name: [] for name in ports}
        self._write_muxes: dict[str, list[Any]] = {name: [] for name in ports if ports[name][1] is not None}
        self._accumulate(m, ports)
        self._sweep(m, ports)
        self._plasticity(m, ports)
        self._host(m, ports)
        self._clear(m)
        self._connect_ports(m, ports)
        return m

    # ------------------------------------------------------------------ memories
    def _memories(self, m: Module, platform: object) -> dict[str, Memory | WeightMemory | SinglePortMemory]:
        cfg, p, fmt, b = self._cfg, self._p, self._fmt, self._bank
        entries = []
        for l, routes in enumerate(p.routes):
            for w in range(routes.n_words):
                addr = int(routes.addr[w, b])
                entries.append(fmt.route_entry.const({"valid": bool(routes.valid[w, b]), "addr": addr,
                                                      "cls": (addr * p.banks + b) % cfg.n_classes}))
            del l
        entries = entries or [fmt.route_entry.const({"valid": 0, "addr": 0, "cls": 0})]
        weights: type[WeightMemory] | type[SinglePortMemory] = (SinglePortMemory if cfg.weight_ports == 1
                                                                 else WeightMemory)
        chunk = p.weight_chunk_depth
        mems: dict[str, Memory | WeightMemory | SinglePortMemory] = {
            "weights": _weight_memory(weights, cfg.weight_bits, p.weight_depth, chunk),
            "out": _weight_memory(weights, cfg.weight_bits, p.out_depth, chunk),
            "acc": Memory(shape=signed(p.acc_bits), depth=p.state_depth, init=[]),
            "state": Memory(shape=fmt.state_word, depth=p.state_depth, init=[]),
            "keys": Memory(shape=unsigned(32), depth=key_depth(p), init=[], attrs=key_attrs(p, platform)),
            "gate": Memory(shape=signed(p.gate_bits), depth=p.max_group_words, init=[]),
        }
        if not p.dense_readout:                 # a dense readout's entries are computed (see _route)
            mems["route"] = Memory(shape=fmt.route_entry, depth=len(entries), init=entries)
        for name, mem in mems.items():
            m.submodules[name] = mem
        return mems

    def _route(self, m: Module, en: Value, waddr: Value, word: Value, name: str) -> Value:
        """The routing entry of readout weight word ``waddr`` (word ``word`` of its source's words),
        one cycle later: read from the route ROM, or, for a dense readout, computed (target bank
        address ``word``, valid while ``word·B + b < n_readout``, class ``(word·B + b) mod C``)."""
        p, fmt, b = self._p, self._fmt, self._bank
        if not p.dense_readout:
            self._read("route", en, waddr)
            return self._ports["route"][0].data
        entry = Signal(fmt.route_entry, name=f"{name}_entry")
        targets = [a * p.banks + b for a in range(p.readout_words)]
        m.d.comb += [entry.addr.eq(word), entry.valid.eq(word < sum(k < self._cfg.n_readout for k in targets)),
                     entry.cls.eq(Array(k % self._cfg.n_classes for k in targets)[word])]
        return delay(m, entry, 1, name)

    def _read(self, name: str, en: Value, addr: Value) -> None:
        self._read_muxes[name].append((en, addr))

    def _write(self, name: str, en: Value, addr: Value, value: Value) -> None:
        self._write_muxes[name].append((en, addr, value))

    def _connect_ports(self, m: Module, ports: dict) -> None:
        """Each memory port serves one user at a time (checked by ``Assert``). With
        ``weight_ports = 1`` the weight memories are :class:`~modsnn.hw.spram.SinglePortMemory`: a
        read and a write never happen in the same cycle (checked). The memories of
        :data:`COLLISION_FREE` are never read and written at one address in one cycle (checked
        unless ``schedule_asserts`` is off)."""
        single = {"weights", "out"} if self._cfg.weight_ports == 1 else set()
        for name, users in self._read_muxes.items():
            rd = ports[name][0]
            for en, addr in reversed(users):
                with m.If(en):
                    m.d.comb += rd.addr.eq(addr)
            if len(users) > 1:
                m.d.comb += Assert(sum(Value.cast(en).as_unsigned() for en, _ in users) <= 1,
                                   f"bank {self._bank}: two users read {name} in one cycle")
        for name, users in self._write_muxes.items():
            wr = ports[name][1]
            for en, addr, value in reversed(users):
                with m.If(en):
                    m.d.comb += [wr.addr.eq(addr), wr.data.eq(value), wr.en.eq(1)]
            if len(users) > 1:
                m.d.comb += Assert(sum(Value.cast(en).as_unsigned() for en, _, _ in users) <= 1,
                                   f"bank {self._bank}: two users write {name} in one cycle")
            if name in single:
                reading = sum(Value.cast(en).as_unsigned() for en, _ in self._read_muxes[name]) != 0
                m.d.comb += Assert(~(reading & wr.en), f"bank {self._bank}: {name} read and written in one cycle")
            if name in COLLISION_FREE and self._schedule_asserts:
                reading = sum(Value.cast(en).as_unsigned() for en, _ in self._read_muxes[name]) != 0
                m.d.comb += Assert(~(reading & wr.en & (ports[name][0].addr == wr.addr)),
                                   f"bank {self._bank}: {name} read and written at one address in one cycle")

    # ---------------------------------------------------------------- accumulate
    def _accumulate(self, m: Module, ports: dict) -> None:
        cfg, p = self._cfg, self._p
        cmd = self.acc.payload
        is_out = cmd.kind == AccKind.OUT
        self._read("weights", self.acc.valid & ~is_out, cmd.waddr)
        self._read("out", self.acc.valid & is_out, cmd.waddr)
        route1 = self._route(m, self.acc.valid & is_out, cmd.waddr, cmd.a, "acc_route")
        valid1 = delay(m, self.acc.valid, 1, "acc_v")
        cmd1 = delay(m, cmd, 1, "acc_cmd")
        # s2: the weight word and route entry (output-registered)
        valid2, cmd2 = delay(m, valid1, 1, "acc_v1"), delay(m, cmd1, 1, "acc_cmd1")
        # s3: the weight word, from the weight memories' chunk registers (READ_LATENCY 3)
        weight3 = Signal(signed(cfg.weight_bits), name="acc_w")
        m.d.comb += weight3.eq(Mux(delay(m, cmd2.kind == AccKind.OUT, 1, "acc_out"), ports["out"][0].data,
                                   ports["weights"][0].data))
        route2 = delay(m, route1, 1, "acc_route1")
        out2 = cmd2.kind == AccKind.OUT
        target = Signal(p.state_addr_bits, name="acc_target")
        m.d.comb += target.eq(cmd2.base + Mux(out2, route2.addr, cmd2.a))
        live = Signal(name="acc_live")
        m.d.comb += live.eq(valid2 & (~out2 | route2.valid))
        self._read("acc", live, target)
        # s4: add and write, forwarding the two writes still in flight
        live4 = delay(m, live, 2, "acc_live")
        target3 = delay(m, target, 1, "acc_target3")
        target4 = delay(m, target3, 1, "acc_target4")
        weight4 = delay(m, (weight3 >> cfg.weight_frac).as_signed(), 1, "acc_fwd")
        data4 = delay(m, ports["acc"][0].data, 1, "acc_data")
        history = [(Signal(name=f"acc_h{n}_v"), Signal(p.state_addr_bits, name=f"acc_h{n}_a"),
                    Signal(signed(p.acc_bits), name=f"acc_h{n}_d")) for n in range(2)]
        # which history entry holds the target, compared in s3 against the writes that will be the
        # history in s4 (the word in s4 now, and history 0): s4 only selects, then adds
        hits = [delay(m, live4 & (target4 == target3), 1, "acc_hit0"),
                delay(m, history[0][0] & (history[0][1] == target3), 1, "acc_hit1")]
        base = Signal(signed(p.acc_bits), name="acc_base")
        m.d.comb += base.eq(data4)
        for hit, (_, _, value) in reversed(list(zip(hits, history, strict=True))):   # the newer write wins
            with m.If(hit):
                m.d.comb += base.eq(value)
        total = Signal(signed(p.acc_bits), name="acc_total")
        m.d.comb += total.eq(base + weight4)                     # exact: acc_bits covers the fan-in
        self._write("acc", live4, target4, total)
        m.d.sync += [history[0][0].eq(live4), history[0][1].eq(target4), history[0][2].eq(total),
                     history[1][0].eq(history[0][0]), history[1][1].eq(history[0][1]),
                     history[1][2].eq(history[0][2])]
        collided = delay(m, live & live4 & (target == target4), 2, "acc_collided")     # read while written
        m.d.comb += Assert(~collided | (history[1][0] & (history[1][1] == target4)),
                           f"bank {self._bank}: a current read during its write was not forwarded")

    # --------------------------------------------------------------------- sweep
    def _sweep(self, m: Module, ports: dict) -> None:
        cfg, fmt = self._cfg, self._fmt
        cmd = self.sweep.payload
        self._read("state", self.sweep.valid, cmd.addr)
        self._read("acc", self.sweep.valid, cmd.addr)
        valid_b, cmd_b = delay(m, self.sweep.valid, 1, "sw_vb"), delay(m, cmd, 1, "sw_cb")
        self._write("acc", valid_b, cmd_b.addr, 0)                # clear on read, ready for the next step
        # B': the read data, registered (block RAM outputs are slow)
        state_b2, current_b2 = delay(m, ports["state"][0].data, 1, "sw_state"), delay(m, ports["acc"][0].data, 1,
                                                                                      "sw_current")
        valid_b2, cmd_b2 = delay(m, valid_b, 1, "sw_vb2"), delay(m, cmd_b, 1, "sw_cb2")
        v1 = membrane_update(m, cfg, state_b2.v, current_b2)
        # the trace for either outcome of the spike, beside the membrane (stage C only selects)
        x_rest, x_fire = trace_update(m, cfg, state_b2.x, 0), trace_update(m, cfg, state_b2.x, 1)
        valid_c, cmd_c = delay(m, valid_b2, 1, "sw_vc"), delay(m, cmd_b2, 1, "sw_cc")
        v1_c, old_c = delay(m, v1, 1, "sw_v1"), delay(m, state_b2, 1, "sw_old")
        x_rest_c, x_fire_c = delay(m, x_rest, 1, "sw_x_rest"), delay(m, x_fire, 1, "sw_x_fire")
        v2, h, s = spike_and_boxcar(m, v1_c, self.theta, self.lo, self.hi)
        # C: the comparisons select among sums formed beside them (no adder after a comparator)
        new = Signal(fmt.state_word, name="sw_new")
        m.d.comb += [new.v.eq(v2), new.x.eq(Mux(s, x_fire_c, x_rest_c)),
                     new.h.eq(Mux(h, old_c.h + 1, old_c.h)),
                     new.xs.eq(Mux(s, old_c.xs + x_fire_c, old_c.xs + x_rest_c))]
        valid_d, addr_d = delay(m, valid_c, 1, "sw_vd"), delay(m, cmd_c.addr, 1, "sw_ad")
        new_d, s_d = delay(m, new, 1, "sw_new"), delay(m, s, 1, "sw_s")
        self._write("state", valid_d, addr_d, new_d)
        m.d.comb += [self.spike.eq(valid_d & s_d), self.mon.eq(new_d)]

    def _clear(self, m: Module) -> None:
        """Zero one state word and accumulator per cycle (the start of a sample)."""
        self._write("state", self.clear.valid, self.clear.payload, 0)
        self._write("acc", self.clear.valid, self.clear.payload, 0)

    # ---------------------------------------------------------------- plasticity
    def _plasticity(self, m: Module, ports: dict) -> None:
        cfg, p, b = self._cfg, self._p, self._bank
        st = JobStages.of(cfg)
        hash_to_read = st.weight_read - st.key               # P3 → the weight read (4 with h = 6)
        job, valid = self.job.payload, self.job.valid
        sr_out = (job.op == JobOp.SR) & (job.matrix == Matrix.OUT)
        route1 = self._route(m, valid & sr_out, job.args.sr.waddr, job.a, "pj_route")   # P0
        # P1. (A copy of the broadcast job per bank, FANOUT_SUFFIX, was measured and not kept: every
        # bank's job pipeline then stays its own, +5,300 flip-flops, and mnist-ecp5 fell from 69.66
        # to 60.01 MHz, ecp5-85f from 103.04 to 96.80 MHz; opt_merge's sharing of it is cheaper.)
        v1, j1 = delay(m, valid, 1, "pj_v"), delay(m, job, 1, "pj")                  # P1
        out1 = (j1.op == JobOp.SR) & (j1.matrix == Matrix.OUT)
        field1 = Mux((j1.op == JobOp.SIGN) | out1, 0, Mux(j1.matrix == Matrix.FF, 1, 2))   # SIGN: FB; SR: by matrix
        self._read("keys", v1 & ((j1.op == JobOp.SIGN) | (j1.op == JobOp.SR)),
                   key_address(p, field1, Mux(out1, route1.addr, j1.a)))
        self._read("gate", v1 & (j1.op == JobOp.SR), j1.a)       # SR uses the gate
        self._read("state", v1 & (j1.op == JobOp.SIGN), j1.args.sign.haddr)
        # P2: the memories answer; their data is registered before use (block RAM outputs are slow)
        v3, j3 = delay(m, v1, 2, "pj_v1"), self._delay(m, j1, 2, "pj1")             # P3
        rvalid3 = delay(m, route1.valid, 2, "pj_rvalid")
        mk3 = delay(m, self.levels[route1.cls], 2, "pj_mk")
        self._held(m, self.levels, v1 & out1, "the levels changed under a readout SR job")      # P1
        read = {name: delay(m, ports[name][0].data, 1, f"pj_{name}") for name in ("keys", "gate")}
        h3 = delay(m, ports["state"][0].data.h, 1, "pj_h")
        out3 = (j3.op == JobOp.SR) & (j3.matrix == Matrix.OUT)
        row = Signal(p.neuron_bits + 1, name="pj_row")
        m.d.comb += row.eq(j3.a * p.banks + b)
        word = hash32_stages(m, self._hash_input(m, j3, read, row), "pj_hash",   # → P3+h
                             registers=st.hash_stages)
        factor = Signal(signed(max(p.gate_bits, p.level_bits)), name="pj_factor")
        m.d.comb += factor.eq(Mux(out3, mk3, read["gate"]))
        en3 = Signal(name="pj_en")
        m.d.comb += en3.eq(Mux(out3, rvalid3 & (mk3 != 0),
                               (read["gate"] != 0) & ~((j3.matrix == Matrix.REC) & (row == j3.args.sr.j))))
        # from P3 on only the fields the late stages use travel with the job
        late3 = Signal(self._late, name="pj_late")
        late_args = self._late.members["args"].size
        m.d.comb += late3.eq(Cat(j3.op, j3.a, j3.matrix, j3.args.as_value()[:late_args]))
        # P4: product (input and output registered, for a DSP); P3+h−1: shifted by 32 − s
        factor4, x4 = delay(m, factor, 1, "pj_f", reset_less=True), delay(m, j3.args.sr.x, 1, "pj_x", reset_less=True)
        product = Signal(signed(p.product_bits), name="pj_product")
        m.d.comb += product.eq(factor4 * x4)
        product8 = delay(m, product, st.rowkey - 5, "pj_p")
        sr8 = delay(m, v3 & (j3.op == JobOp.SR), st.rowkey - 1 - st.key, "pj_vsr")
        shifted9 = self._sr_shift(m, product8, sr8)                                           # P3+h
        v7, j7 = delay(m, v3, hash_to_read, "pj_v3"), delay(m, late3, hash_to_read, "pj_l3")
        sr7 = v7 & (j7.op == JobOp.SR)
        self._read("weights", sr7 & (j7.matrix != Matrix.OUT), j7.args.waddr)       # P1+h
        self._read("out", sr7 & (j7.matrix == Matrix.OUT), j7.args.waddr)
        v9 = delay(m, v7, 2, "pj_v7")
        if self._ice40:       # a delay line of registers fed by registers: in an SB_MAC16, not in logic cells
            j9 = data.View(j7.shape(), mac16_delay(m, j7.as_value(), 2, "pj_l7"))
        else:
            j9 = delay(m, j7, 2, "pj_l7")
        old10 = Signal(signed(cfg.weight_bits), name="pj_old")     # P4+h, from the weight memories' chunk registers
        m.d.comb += old10.eq(Mux(delay(m, j9.matrix == Matrix.OUT, 1, "pj_isout"), ports["out"][0].data,
                                 ports["weights"][0].data))
        en9, h9 = delay(m, en3, st.hash_stages, "pj_en"), delay(m, h3, st.hash_stages, "pj_h3")
        self._rowkey_and_sign(m, v9, j9, word, h9)
        # P10-P12: SR
        total10 = delay(m, shifted9 + word, 1, "pj_t")
        wide = Signal(signed(len(total10) - 32 + 1), name="pj_wide")
        m.d.comb += wide.eq(old10 + (total10 >> 32))
        wide11 = delay(m, wide, 1, "pj_wide")
        clamped = Signal(signed(cfg.weight_bits), name="pj_new")
        m.d.comb += clamped.eq(Mux(wide11 > cfg.w_max, cfg.w_max, Mux(wide11 < -cfg.w_max, -cfg.w_max, wide11)))
        new12 = delay(m, clamped, 1, "pj_new")
        v12, j12, en12 = delay(m, v9, 3, "pj_v9"), self._delay(m, j9, 3, "pj_l9"), delay(m, en9, 3, "pj_en9")
        write = v12 & (j12.op == JobOp.SR) & en12
        self._write("weights", write & (j12.matrix != Matrix.OUT), j12.args.waddr, new12)
        self._write("out", write & (j12.matrix == Matrix.OUT), j12.args.waddr, new12)

    def _delay(self, m: Module, value: Value, cycles: int, name: str) -> Value:
        """A plasticity job's data fields ``cycles`` later: :func:`delay`, or with the configuration's
        ``memory_delays`` :func:`memory_delay` (block RAM on iCE40; the valid bits stay registers)."""
        return memory_delay(m, value, cycles, name) if self._cfg.memory_delays else delay(m, value, cycles, name)

    def _sr_shift(self, m: Module, product8: Value, sr8: Value) -> Value:
        """``(product8 << (32 − s))`` registered (P3+h), with the shift 32 − s taken from ``self.shift``,
        which must be held in the cycle before an SR job (``sr8``) uses it (asserted)."""
        p = self._p
        self._held(m, self.shift, sr8, "the shift changed under an SR job")                   # P3+h−1
        # the shift 32 − s takes only the values of p.shift_bounds: a barrel shifter over that range
        s_min, s_max = p.shift_bounds
        offset = Signal(range(s_max - s_min + 1), name="pj_shift_offset")
        # the core's shift is one signal for every bank; off the iCE40 each bank decodes a copy of its
        # own (registered, and kept apart by the builds: FANOUT_SUFFIX), or Yosys merges the banks'
        # identical decoders into one that drives every bank's shifter across the die (the zero fill
        # becomes the flip-flops' synchronous reset: mnist-ecp5's critical path). One cycle late is the
        # same value: the shift is held in the cycle before an SR job uses it (asserted above).
        shift = self.shift if self._ice40 else delay(m, self.shift, 1, f"pj_shift{FANOUT_SUFFIX}", reset_less=True)
        m.d.comb += offset.eq(shift - (32 - s_max))
        if self._schedule_asserts:
            m.d.comb += Assert(~sr8 | ((self.shift >= 32 - s_max) & (self.shift <= 32 - s_min)),
                               "the shift is outside the configuration's bounds")
        if self._ice40:       # the shift as a product with 2^offset: on the UP5K's spare SB_MAC16s, not in LUTs
            power = Signal(s_max - s_min + 1, name="pj_power")
            m.d.comb += power.eq(1 << offset)
            shifted9 = delay(m, (product8 * power) << (32 - s_max), 1, "pj_shifted")
        else:
            shifted9 = delay(m, (product8 << offset) << (32 - s_max), 1, "pj_shifted")
        return shifted9

    def _held(self, m: Module, value: Value, used: Value, message: str) -> None:
        """Assert that ``value`` did not change in the cycle before one in which it is ``used`` (the
        core does not register it: it is held while the jobs that read it are in flight)."""
        if self._schedule_asserts:
            previous = delay(m, value, 1, "held")
            m.d.comb += Assert(~used | (Value.cast(previous) == Value.cast(value)), message)

    def _hash_input(self, m: Module, j: Value, read: dict, row: Value) -> Value:
        """P3: ``key ^ operand`` — PREFIX: the job's key, ROWKEY: the job's key and the lane's row,
        SIGN: the FB row key and the class, SR: the OUT/FF/REC row key (read from the key RAM's field
        of its matrix) and the column."""
        key = Signal(32, name="pj_key")
        operand = Signal(32, name="pj_operand")
        with m.Switch(j.op):
            with m.Case(JobOp.PREFIX):
                m.d.comb += key.eq(j.args.keyed.key)
            with m.Case(JobOp.ROWKEY):
                m.d.comb += [key.eq(j.args.keyed.key), operand.eq(row)]
            with m.Case(JobOp.SIGN):
                m.d.comb += [key.eq(read["keys"]), operand.eq(j.args.sign.c)]
            with m.Case(JobOp.SR):
                m.d.comb += [key.eq(read["keys"]), operand.eq(j.args.sr.j)]
        return key ^ operand

    def _rowkey_and_sign(self, m: Module, v8: Value, j8: Value, word: Value, h8: Value) -> None:
        """P9: store row keys; accumulate L_i = Σ_c ±m_c; P10: G_i = L_i·H_i (registered); P11: into
        the gate RAM, and the gate bit out."""
        p = self._p
        rowkey = v8 & (j8.op == JobOp.ROWKEY)
        self._write("keys", rowkey, key_address(p, j8.args.field, j8.a), word)
        sign = v8 & (j8.op == JobOp.SIGN)
        acc = Signal(signed(p.signal_bits), name="pj_L")
        term = Mux(word[31], j8.args.sign.m, -j8.args.sign.m)
        level = Signal(signed(p.signal_bits), name="pj_Lnew")
        m.d.comb += level.eq(Mux(j8.args.sign.c == 0, 0, acc) + term)
        with m.If(sign):
            m.d.sync += acc.eq(level)
        last9 = delay(m, sign & j8.args.sign.last, 1, "pj_last")
        level9, h9 = delay(m, level, 1, "pj_level", reset_less=True), delay(m, h8, 1, "pj_h8", reset_less=True)
        a9 = delay(m, j8.a, 1, "pj_a8")
        gate = Signal(signed(p.gate_bits), name="pj_G")
        m.d.comb += gate.eq(level9 * h9)
        gate10, last10, a10 = delay(m, gate, 1, "pj_G", reset_less=True), delay(m, last9, 1, "pj_last9"), \
            delay(m, a9, 1, "pj_a9")
        self._write("gate", last10, a10, gate10)
        m.d.comb += [self.gated.eq(gate10 != 0), self.gated_valid.eq(last10)]
        m.d.comb += self.prefix.eq(word)          # the learner takes a PREFIX job's word at P3+h

    # ---------------------------------------------------------------------- host
    def _host(self, m: Module, ports: dict) -> None:
        cmd, valid = self.host.payload, self.host.valid
        mine = valid & (cmd.bank == self._bank)
        for target, name in ((HostTarget.WEIGHTS, "weights"), (HostTarget.OUT, "out")):
            hit = mine & (cmd.target == target)
            self._read(name, hit & cmd.re, cmd.addr)
            self._write(name, hit & cmd.we, cmd.addr, cmd.wdata)
        # the weight memories answer from their chunk registers (READ_LATENCY 3, HOST_LATENCY − 1).
        # The state memory answers in one cycle: its read is requested HOST_LATENCY − 2 cycles late
        # (a register of the address, not of the wide state word: the host reads the state only
        # while the accelerator is idle) and its block RAM output registered before use (it is slow)
        state_re = delay(m, mine & (cmd.target == HostTarget.STATE) & cmd.re, HOST_LATENCY - 2, "host_sre")
        self._read("state", state_re, delay(m, cmd.addr[:self._p.state_addr_bits], HOST_LATENCY - 2, "host_sa"))
        out3 = delay(m, cmd.target == HostTarget.OUT, 3, "host_out")
        m.d.sync += [self.host_rdata.eq(Mux(out3, ports["out"][0].data, ports["weights"][0].data)),
                     self.host_state.eq(ports["state"][0].data)]
        # X read-back for the plasticity column walker, registered here at the block RAM (the lane
        # multiplexer that follows is in the learner, a long route away)
        self._read("state", self.x_en, self.x_addr)
        m.d.sync += self.x_data.eq(ports["state"][0].data.xs)
