"""The control port: the memory-mapped bus of the accelerator, its registers and its read mux.

``bus`` = ``addr`` (:attr:`~modsnn.hw.formats.Formats.mmio_address`: offset, bank, layer, region),
``wdata`` (32), ``we``, ``re``; ``rdata`` holds the answer to a read from :data:`BUS_READ_LATENCY` cycles
after ``re`` until the next answer (reads may be issued every cycle). Regions (:class:`~modsnn.hw.formats.Region`):

=========  ====================================================================================
region     offset
=========  ====================================================================================
CSR        :class:`Csr` registers
INPUT      ``j``: write ``u[j]`` (8 bits) of the next sample (offsets ≥ n_in are ignored)
FF, REC    word in the bank's region of layer ``layer`` (``bank`` field); signed stored weights
OUT        routing word of layer ``layer`` in bank ``bank``; signed stored weights
STATE      ``4·i + f`` of hidden neuron ``i`` of layer ``layer``: ``f`` = 0 ``v``, 1 ``x``, 2 ``H``, 3 ``X``
READOUT    readout neuron ``k``: its membrane ``v``
=========  ====================================================================================

Memories and inputs may be written and read only while ``busy`` is low; writes while busy are
ignored (reads return whatever the memory holds). Writing ``COMMAND`` while idle starts a sample
(``start`` strobe with ``train``, registered: the sequencer starts two cycles after the bus write,
and ``busy``, as read and as the bus sees it, includes the strobe's cycle) unless it is refused —
not a :class:`Command`, or ``TRAIN`` with ``LABEL ≥ n_classes`` — which sets the error bit and
starts nothing. ``LABEL`` saturates at ``2^label_bits − 1``
(``label_bits`` = ``bits_for(n_classes)``) and ``LR_EXTRA`` at :data:`~modsnn.hw.params.LR_EXTRA_MAX`.
"""

import enum as py_enum

from amaranth.hdl import Array, Cat, Module, Mux, Signal, Value
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from ..golden_model.config import Config
from .bank import HOST_LATENCY, delay, memory_delay
from .core import CORE_LATENCY
from .formats import HostTarget, Region, formats_for
from .params import LR_EXTRA_MAX, bits_for, checked_params

__all__ = ["BUS_READ_LATENCY", "Command", "ControlPort", "Csr", "bus_signature"]

#: ``re`` → ``rdata``: bus register, core register, bank read and register, read mux register
BUS_READ_LATENCY = 1 + CORE_LATENCY + HOST_LATENCY + 1


class Csr(py_enum.IntEnum):
    """Offsets of the control and status registers (region ``CSR``)."""

    COMMAND = 0       # write: Command; read: bit 0 busy, bit 1 the last command was refused
    LABEL = 1         # label of the next training sample
    LR_EXTRA = 2      # learning-rate decay shift (0–7; larger values saturate at 7)
    SAMPLE = 3        # update counter: the "sample" word of the rounding keys
    PREDICTION = 4    # class predicted for the last sample
    CYCLES_INTEGRATION = 5
    CYCLES_SWEEP = 6
    CYCLES_DECIDE = 7
    CYCLES_PLASTICITY = 8
    COUNT = 16        # 16 + c: spike count of class c
    LEVEL = 80        # 80 + c: modulatory level m_c (signed)


assert LR_EXTRA_MAX & (LR_EXTRA_MAX + 1) == 0                  # saturates as a bit test (_saturated)


class Command(py_enum.IntEnum):
    INFER = 1
    TRAIN = 2


def bus_signature(cfg: Config) -> wiring.Signature:
    """The bus seen from the master (the host driver, the link)."""
    fmt = formats_for(cfg)
    return wiring.Signature({"addr": Out(fmt.mmio_address), "wdata": Out(32), "we": Out(1), "re": Out(1),
                             "rdata": In(32)})


def _saturated(value: Value, bits: int) -> Value:
    """``min(value, 2^bits − 1)`` of an unsigned ``value``: a test of its high bits (a comparator
    would be a carry chain as wide as ``value``)."""
    return Mux(value[bits:].any(), 2**bits - 1, value[:bits])


class ControlPort(wiring.Component):
    """Bus decode, registers and read mux of the accelerator of ``cfg``."""

    def __init__(self, cfg: Config) -> None:
        self._p = p = checked_params(self, cfg)
        self._fmt = fmt = formats_for(cfg)
        self._cfg = cfg
        C = cfg.n_classes
        super().__init__({
            "bus": In(bus_signature(cfg)),
            "busy": In(1),
            "start": Out(1), "train": Out(1), "label": Out(p.label_bits), "lr_extra": Out(range(LR_EXTRA_MAX + 1)),
            "sample": Out(32), "trained": In(1),                 # the sample counter increments
            "prediction": In(p.label_bits),
            "counts": In(data.ArrayLayout(p.count_bits, C)), "levels": In(data.ArrayLayout(p.level_bits, C)),
            "cycles": In(data.ArrayLayout(p.cycle_bits, 4)),
            "host": Out(fmt.stream(fmt.host_command)),
            "host_rdata": In(data.ArrayLayout(fmt.host_command.members["wdata"], cfg.cores)),
            "host_state": In(data.ArrayLayout(fmt.state_word, cfg.cores)),
            "u_addr": Out(bits_for(p.input_words * p.banks)), "u_data": Out(8), "u_we": Out(1),
        })

    def elaborate(self, platform: object) -> Module:
        m = Module()
        addr, wdata = delay(m, self.bus.addr, 1, "addr"), delay(m, self.bus.wdata, 1, "wdata")
        we, re = delay(m, self.bus.we, 1, "we"), delay(m, self.bus.re, 1, "re")
        self._registers(m, addr, wdata, we)
        self._memories(m, addr, wdata, we, re)
        self._read_mux(m, addr, re)
        return m

    def _registers(self, m: Module, addr: data.View, wdata: Value, we: Value) -> None:
        cfg = self._cfg
        error = Signal()
        self._error = error
        # `start` and `train` are registered (the sequencer's phase → busy → command decode → next
        # phase crossed the chip in one cycle); until the sequencer is busy, `start` counts as busy
        start, train_r = Signal(), Signal()
        self._busy = busy = self.busy | start
        m.d.sync += start.eq(0)
        m.d.comb += [self.start.eq(start), self.train.eq(train_r)]
        csr_we = we & (addr.region == Region.CSR) & ~busy
        with m.If(self.trained):
            m.d.sync += self.sample.eq(self.sample + 1)
        with m.If(csr_we):
            with m.Switch(addr.offset):
                with m.Case(Csr.COMMAND):
                    train = wdata == Command.TRAIN
                    ok = (wdata == Command.INFER) | (train & (self.label < cfg.n_classes))
                    m.d.sync += [error.eq(~ok), start.eq(ok), train_r.eq(train)]
                with m.Case(Csr.LABEL):
                    m.d.sync += self.label.eq(_saturated(wdata, len(self.label)))
                with m.Case(Csr.LR_EXTRA):
                    m.d.sync += self.lr_extra.eq(_saturated(wdata, len(self.lr_extra)))
                with m.Case(Csr.SAMPLE):
                    m.d.sync += self.sample.eq(wdata)

    def _memories(self, m: Module, addr: data.View, wdata: Value, we: Value, re: Value) -> None:
        cfg, p = self._cfg, self._p
        B, D = p.banks, p.layers
        lane_bits = (B - 1).bit_length()
        idle = ~self._busy
        m.d.comb += [self.u_addr.eq(addr.offset), self.u_data.eq(wdata),
                     self.u_we.eq(we & idle & (addr.region == Region.INPUT) & (addr.offset < cfg.n_inputs))]
        cmd = self.host.payload
        layer = addr.layer
        neuron = addr.offset >> 2
        with m.Switch(addr.region):
            for region, target in ((Region.FF, HostTarget.WEIGHTS), (Region.REC, HostTarget.WEIGHTS),
                                   (Region.OUT, HostTarget.OUT)):
                with m.Case(region):
                    column = 0 if region == Region.FF else 1
                    base = Array(b[column] for b in p.weight_base)[layer] if region != Region.OUT \
                        else Array(p.out_base)[layer]
                    m.d.comb += [self.host.valid.eq(idle & (we | re)), cmd.target.eq(target), cmd.bank.eq(addr.bank),
                                 cmd.addr.eq(base + addr.offset)]
            with m.Case(Region.STATE):
                m.d.comb += [self.host.valid.eq(re), cmd.target.eq(HostTarget.STATE), cmd.bank.eq(neuron % B),
                             cmd.addr.eq(Array(p.pop_base)[layer] + (neuron >> lane_bits))]
            with m.Case(Region.READOUT):
                m.d.comb += [self.host.valid.eq(re), cmd.target.eq(HostTarget.STATE), cmd.bank.eq(addr.offset % B),
                             cmd.addr.eq(p.pop_base[D] + (addr.offset >> lane_bits))]
        m.d.comb += [cmd.wdata.eq(wdata), cmd.we.eq(we & idle), cmd.re.eq(re)]

    def _read_mux(self, m: Module, addr: data.View, re: Value) -> None:
        """The read data of every region, ``CORE_LATENCY + HOST_LATENCY`` cycles after the registered
        bus (when the banks answer). A CSR read carries its offset down that pipeline, not the
        register's 32-bit value: the register is sampled one cycle before the final multiplexer
        (``BUS_READ_LATENCY − 2`` cycles after ``re``; the registers a host reads do not change while
        the accelerator is idle, and a status read while busy sees a more recent state)."""
        cfg, p = self._cfg, self._p
        C = cfg.n_classes
        latency = CORE_LATENCY + HOST_LATENCY           # bank answers, counted from the registered bus
        low = bits_for(Csr.LEVEL + C - 1)               # the offsets of the CSRs (higher ones read as 0)
        if cfg.memory_delays:       # the address fields' delay line in block RAM (hw.bank.memory_delay)
            late = memory_delay(m, Cat(addr.offset[:low], (addr.offset >> low) == 0, addr.region), latency - 1,
                                "csr_late")
            offset, mapped = late[:low], late[low]
            region = delay(m, late[low + 1:], 1, "region")
        else:
            offset = delay(m, addr.offset[:low], latency - 1, "csr_offset")
            mapped = delay(m, (addr.offset >> low) == 0, latency - 1, "csr_mapped")
            region = delay(m, addr.region, latency, "region")
        csr = Signal(32)
        with m.If(mapped):
            self._csr_cases(m, csr, offset)
        csr_late = delay(m, csr, 1, "csr")
        field = delay(m, offset[:2], 1, "field")
        bank = Signal(range(p.banks))                     # the bank the access went to
        m.d.comb += bank.eq(Mux(addr.region == Region.READOUT, addr.offset,
                                Mux(addr.region == Region.STATE, addr.offset >> 2, addr.bank)) % p.banks)
        core_r = delay(m, bank // cfg.lanes, latency, "core_sel")
        weight = Array(self.host_rdata[c] for c in range(cfg.cores))[core_r]
        state = Array(self.host_state[c] for c in range(cfg.cores))[core_r]
        value = Signal(32)
        with m.Switch(region):
            with m.Case(Region.CSR):
                m.d.comb += value.eq(csr_late)
            with m.Case(Region.FF, Region.REC, Region.OUT):
                m.d.comb += value.eq(weight.as_signed())
            with m.Case(Region.STATE):
                fields = Array([state.v.as_signed(), state.x, state.h, state.xs])
                m.d.comb += value.eq(fields[field])
            with m.Case(Region.READOUT):
                m.d.comb += value.eq(state.v.as_signed())
        with m.If(delay(m, re, latency, "answer")):          # held until the next answer
            m.d.sync += self.bus.rdata.eq(value)

    def _csr_registers(self) -> dict[int, Value]:
        """The CSRs below :attr:`Csr.COUNT`, by offset (``COMMAND`` reads ``busy`` and the error bit)."""
        regs = {int(Csr.COMMAND): Cat(self._busy, self._error), int(Csr.LABEL): self.label,
                int(Csr.LR_EXTRA): self.lr_extra, int(Csr.SAMPLE): self.sample, int(Csr.PREDICTION): self.prediction}
        regs.update({int(Csr.CYCLES_INTEGRATION) + n: self.cycles[n] for n in range(4)})
        return regs

    def _csr_cases(self, m: Module, csr: Signal, offset: Value) -> None:
        """The CSR read value, one case per offset. (A decoder in blocks of 16 offsets, the counts and
        levels each selected at their own width, saved 33 iCE40 cells, but Yosys 0.70's
        ``synth_ecp5`` built ``tiny`` from it with two flip-flops driving one class-count bit, a
        netlist nextpnr refuses: ``abc9``'s clash of ``counts[1]`` with bit 1 of ``counts``, which
        :func:`modsnn.boards.build.hide_bit_lookalike_wires` now avoids; not retried.)"""
        with m.Switch(offset):
            for reg, value in self._csr_registers().items():
                with m.Case(reg):
                    m.d.comb += csr.eq(value)
            for c in range(self._cfg.n_classes):
                with m.Case(Csr.COUNT + c):
                    m.d.comb += csr.eq(self.counts[c])
                with m.Case(Csr.LEVEL + c):
                    m.d.comb += csr.eq(self.levels[c].as_signed())
