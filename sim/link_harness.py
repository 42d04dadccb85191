"""Simulation tops for the host link: its blocks, the link with a model control port, and the link
with the real accelerator.

* :class:`UartHarness`, :class:`FramingHarness` — the blocks of :mod:`modsnn.hw.link` with their
  ports brought out (side by side, independent of each other).
* :class:`CoreHarness` — :class:`~modsnn.hw.link.LinkCore` on byte streams, mastering a
  :class:`ModelControlPort` whose read latency is a parameter.
* :class:`LinkHarness` — :class:`~modsnn.hw.link.HostLink` and the real
  :class:`~modsnn.hw.top.Accelerator`. The link's ``rx`` pin is driven either by the testbench
  bit by bit (``pin_mode`` = 1: ``rx_pin``) or by a host-side UART fed from a FIFO
  (``pin_mode`` = 0: ``host_tx`` bytes, ``host_tx_space`` free entries); the link's ``tx`` pin is
  ``tx_pin`` and is also decoded by a host-side UART into ``host_rx_data``/``host_rx_error``,
  ``host_rx_toggle`` flipping once per byte (so a testbench waits on value changes, not clock
  cycles). ``bus_writes`` counts the link's write strobes on the control port.
"""

from collections.abc import Callable
from typing import Any

from amaranth.hdl import Module, Mux, Signal, unsigned
from amaranth.lib import stream, wiring
from amaranth.lib.fifo import SyncFIFOBuffered
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from ..golden_model.config import Config
from ..hw.control_port import Command, Csr
from ..hw.formats import Region, formats_for
from ..hw.link import HostLink, LinkCore
from ..hw.link.command import control_bus
from ..hw.link.framing import FRAME_TOKEN, CrcAppender, FrameBufferSignature, FrameReceiver, SlipDecoder, SlipEncoder
from ..hw.link.uart import RX_BYTE, UartRx, UartTx
from ..hw.memory_map import mmio_address
from ..hw.params import rejected
from ..hw.top import Accelerator

__all__ = ["CoreHarness", "FramingHarness", "LinkHarness", "ModelControlPort", "UartHarness",
           "run_link_bench"]

SIM_CLOCK_HZ = 100_000_000          # sim/streams.py `start` runs a 10 ns clock


class UartHarness(wiring.Component):
    """A :class:`UartRx` (``rx`` → ``o``) and a :class:`UartTx` (``i`` → ``tx``), unconnected."""

    def __init__(self, divisor: int) -> None:
        self.rx_block, self.tx_block = UartRx(divisor), UartTx(divisor)
        super().__init__({"rx": In(1, init=1), "o": Out(stream.Signature(RX_BYTE)),
                          "i": In(stream.Signature(8)), "tx": Out(1, init=1)})

    def elaborate(self, platform: object) -> Module:
        m = Module()
        m.submodules.rx, m.submodules.tx = self.rx_block, self.tx_block
        m.d.comb += [self.rx_block.rx.eq(self.rx), self.tx.eq(self.tx_block.tx)]
        wiring.connect(m, self.rx_block.o, wiring.flipped(self.o))
        wiring.connect(m, wiring.flipped(self.i), self.tx_block.i)
        return m


class FramingHarness(wiring.Component):
    """The four framing blocks side by side, unconnected: :class:`SlipEncoder` (``enc_i`` → ``enc_o``),
    :class:`SlipDecoder` (``dec_i`` → ``dec_o``), :class:`CrcAppender` (``crc_i`` → ``crc_o``) and
    :class:`FrameReceiver` (``rcv_i`` → ``frame``)."""

    def __init__(self, slot_bytes: int, slots: int) -> None:
        self.receiver = FrameReceiver(slot_bytes, slots)
        super().__init__({"enc_i": In(stream.Signature(FRAME_TOKEN)), "enc_o": Out(stream.Signature(8)),
                          "dec_i": In(stream.Signature(RX_BYTE)), "dec_o": Out(stream.Signature(FRAME_TOKEN)),
                          "crc_i": In(stream.Signature(FRAME_TOKEN)), "crc_o": Out(stream.Signature(FRAME_TOKEN)),
                          "rcv_i": In(stream.Signature(FRAME_TOKEN)), "frame": Out(FrameBufferSignature(slot_bytes))})

    def elaborate(self, platform: object) -> Module:
        m = Module()
        m.submodules.encoder = encoder = SlipEncoder()
        m.submodules.decoder = decoder = SlipDecoder()
        m.submodules.crc = appender = CrcAppender()
        m.submodules.receiver = receiver = self.receiver
        for outer, block in (("enc_i", encoder.i), ("dec_i", decoder.i), ("crc_i", appender.i),
                             ("rcv_i", receiver.i)):
            wiring.connect(m, wiring.flipped(getattr(self, outer)), block)
        for block, outer in ((encoder.o, "enc_o"), (decoder.o, "dec_o"), (appender.o, "crc_o"),
                             (receiver.frame, "frame")):
            wiring.connect(m, block, wiring.flipped(getattr(self, outer)))
        return m


class ModelControlPort(wiring.Component):
    """A model of the accelerator's control port for testing the command layer alone.

    Every address of ``mmio_address`` is a read/write word of a memory, except ``COMMAND``: writing
    INFER or TRAIN makes ``busy`` high for ``run_cycles`` cycles (unless ``refuse``: then nothing
    starts and the refused bit is set), and reading it gives ``busy`` (bit 0) and refused (bit 1).
    Writes while busy are ignored. ``rdata`` holds the answer from ``latency`` cycles after ``re`` until the next answer
    (as the accelerator's control port does). ``writes``
    counts every write strobe.
    """

    def __init__(self, cfg: Config, latency: int) -> None:
        self._cfg, self._latency = cfg, latency
        layout = formats_for(cfg).mmio_address
        super().__init__({"bus": In(control_bus(layout)), "busy": Out(1), "run_cycles": In(16), "refuse": In(1),
                          "writes": Out(32)})

    def elaborate(self, platform: object) -> Module:
        cfg = self._cfg
        layout = formats_for(cfg).mmio_address
        m = Module()
        m.submodules.words = words = Memory(shape=unsigned(32), depth=1 << layout.size, init=[])
        wr, rd = words.write_port(), words.read_port()
        bus = self.bus
        command = mmio_address(cfg, Region.CSR, int(Csr.COMMAND))
        timer, refused = Signal(16), Signal()
        m.d.comb += self.busy.eq(timer != 0)
        with m.If(timer != 0):
            m.d.sync += timer.eq(timer - 1)
        m.d.sync += self.writes.eq(self.writes + bus.we)
        is_command = bus.addr.as_value() == command
        with m.If(bus.we & ~self.busy):
            with m.If(is_command):
                start = ((bus.wdata == Command.INFER) | (bus.wdata == Command.TRAIN)) & ~self.refuse
                m.d.sync += refused.eq(~start)
                with m.If(start):
                    m.d.sync += timer.eq(self.run_cycles)
            with m.Else():
                m.d.comb += [wr.addr.eq(bus.addr), wr.data.eq(bus.wdata), wr.en.eq(1)]
        m.d.comb += rd.addr.eq(bus.addr)
        # the memory answers one cycle after `re`; further cycles are a delay line
        data, was_command = rd.data, Signal()
        m.d.sync += was_command.eq(is_command)
        value = Mux(was_command, self.busy | (refused << 1), data)
        answer = bus.re
        for _ in range(self._latency - 1):
            delayed, answer_delayed = Signal(32), Signal()
            m.d.sync += [delayed.eq(value), answer_delayed.eq(answer)]
            value, answer = delayed, answer_delayed
        answer_now, held = Signal(), Signal(32)                 # the answer of the read `latency` cycles ago
        m.d.sync += answer_now.eq(answer)
        with m.If(answer_now):
            m.d.sync += held.eq(value)
        m.d.comb += bus.rdata.eq(Mux(answer_now, value, held))
        return m


class CoreHarness(wiring.Component):
    """:class:`LinkCore` (``rx`` bytes in, ``tx`` bytes out) on a :class:`ModelControlPort`."""

    def __init__(self, cfg: Config, latency: int, slots: int = 2) -> None:
        self.core = LinkCore(cfg, clock_hz=SIM_CLOCK_HZ, divisor=4, bus_read_latency=latency, slots=slots)
        self.port = ModelControlPort(cfg, latency)
        super().__init__({"rx": In(stream.Signature(RX_BYTE)), "tx": Out(stream.Signature(8)),
                          "run_cycles": In(16), "refuse": In(1), "writes": Out(32), "busy": Out(1),
                          "error": Out(1)})

    def elaborate(self, platform: object) -> Module:
        m = Module()
        m.submodules.core, m.submodules.port = core, port = self.core, self.port
        wiring.connect(m, wiring.flipped(self.rx), core.rx)
        wiring.connect(m, core.tx, wiring.flipped(self.tx))
        wiring.connect(m, core.bus, port.bus)
        m.d.comb += [core.busy.eq(port.busy), port.run_cycles.eq(self.run_cycles), port.refuse.eq(self.refuse),
                     self.writes.eq(port.writes), self.busy.eq(port.busy), self.error.eq(core.error)]
        return m


class LinkHarness(wiring.Component):
    """:class:`HostLink` + :class:`Accelerator`, with host-side UARTs for byte-level stimulus."""

    FIFO_DEPTH = 1024

    def __init__(self, cfg: Config, *, baud: int, clock_hz: int = SIM_CLOCK_HZ, slots: int = 2) -> None:
        try:
            self.accelerator = Accelerator(cfg)      # first: it refuses what the RTL does not implement
        except (TypeError, ValueError) as error:
            raise rejected(self, error) from None
        try:
            self.link = HostLink(cfg, clock_hz=clock_hz, baud=baud, slots=slots,
                                 bus_read_latency=Accelerator.bus_read_latency)
        except (TypeError, ValueError) as error:
            rejected(self.accelerator, error)
            raise rejected(self, error) from None
        self._divisor = self.link.divisor
        super().__init__({
            "pin_mode": In(1), "rx_pin": In(1, init=1), "tx_pin": Out(1),
            "host_tx": In(stream.Signature(8)), "host_tx_space": Out(range(self.FIFO_DEPTH + 1)),
            "host_rx_data": Out(8), "host_rx_error": Out(1), "host_rx_toggle": Out(1),
            "busy": Out(1), "link_error": Out(1), "bus_writes": Out(32),
        })

    def elaborate(self, platform: object) -> Module:
        m = Module()
        m.submodules.link, m.submodules.accelerator = link, acc = self.link, self.accelerator
        wiring.connect(m, link.bus, acc.bus)
        m.d.comb += [link.busy.eq(acc.busy), self.busy.eq(acc.busy), self.link_error.eq(link.error)]
        m.d.sync += self.bus_writes.eq(self.bus_writes + link.bus.we)
        m.submodules.fifo = fifo = SyncFIFOBuffered(width=8, depth=self.FIFO_DEPTH)
        m.submodules.host_tx = host_tx = UartTx(self._divisor)
        m.submodules.host_rx = host_rx = UartRx(self._divisor)
        wiring.connect(m, wiring.flipped(self.host_tx), fifo.w_stream)
        wiring.connect(m, fifo.r_stream, host_tx.i)
        m.d.comb += [self.host_tx_space.eq(self.FIFO_DEPTH - fifo.level),
                     link.rx.eq(Mux(self.pin_mode, self.rx_pin, host_tx.tx)),
                     self.tx_pin.eq(link.tx), host_rx.rx.eq(link.tx), host_rx.o.ready.eq(1)]
        with m.If(host_rx.o.valid):
            m.d.sync += [self.host_rx_data.eq(host_rx.o.payload.data), self.host_rx_error.eq(host_rx.o.payload.error),
                         self.host_rx_toggle.eq(~self.host_rx_toggle)]
        return m


def run_link_bench(kind: str, make_dut: Callable[[], wiring.Component], params: dict[str, Any], *,
                   simulator: str = "verilator", env: dict[str, str] | None = None,
                   testcase: str | None = None) -> tuple[int, int]:
    """Build ``make_dut()`` (one build directory per RTL and simulator) and run the cocotb testbench
    ``modsnn.sim.tb_link_<kind>`` on it with ``env``, in a run directory of its own (``params``
    only name it)."""
    from .runner import rtl_build, run_cocotb, run_dir

    verilog, build = rtl_build(make_dut(), f"link_{kind}", simulator)
    return run_cocotb(verilog=verilog, toplevel=f"link_{kind}", test_module=f"modsnn.sim.tb_link_{kind}",
                      build=build, run=run_dir(f"link_{kind}"), simulator=simulator, testcase=testcase,
                      env=env)
