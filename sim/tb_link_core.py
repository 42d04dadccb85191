"""cocotb testbench of the framing and command layers (:class:`~modsnn.hw.link.LinkCore`) on a model
control port (:class:`~modsnn.sim.link_harness.CoreHarness`) with a given read latency, bytes
streamed in and out under random idle and back-pressure.

Every reply's status is checked against :func:`~modsnn.hw.link.protocol.check_request`, every READ
against a shadow of the model port's words, and the port's write counter proves that a refused
frame wrote nothing and an accepted one wrote exactly its words.

Parameters: ``MODSNN_TB_CONFIG``/``MODSNN_TB_SET`` (configuration), ``MODSNN_TB_LATENCY``,
``MODSNN_TB_SLOTS``, ``MODSNN_TB_SAMPLES`` (random operations), ``MODSNN_SEED``.
"""

from __future__ import annotations

import dataclasses
import os
import random
from typing import Any

import cocotb
import sliplib
from cocotb.triggers import ClockCycles

from modsnn.boards.driver import END, encode_frame
from modsnn.golden_model.config import Config
from modsnn.hw.control_port import Command, Csr
from modsnn.hw.formats import Region
from modsnn.hw.link.protocol import (
    RUN_STATUS,
    SLIP_END,
    SLIP_ESC,
    SLIP_ESC_END,
    SLIP_ESC_ESC,
    LinkLimits,
    Opcode,
    SampleReply,
    Status,
    block_args,
    check_request,
    crc16,
    identity_bytes,
    link_limits,
    request_body,
    sample_args,
    unpack,
)
from modsnn.hw.memory_map import Window, address_windows, mmio_address
from modsnn.sim.link import RawLink, StreamBytes, expected_replies
from modsnn.sim.link_harness import SIM_CLOCK_HZ
from modsnn.sim.streams import start, stimulus_random
from modsnn.sim.tbparams import tb_params

INPUTS = ("rx__valid", "rx__payload", "tx__ready", "run_cycles", "refuse")
TIMEOUT_S = 200e-6


@dataclasses.dataclass(frozen=True)
class Target:
    """A window of the control port and the bank an access goes to."""

    cfg: Config
    window: Window
    bank: int

    @property
    def region(self) -> Region:
        return self.window.region

    @property
    def layer(self) -> int:
        return self.window.layer

    @property
    def size(self) -> int:
        return self.window.size

    def address(self, offset: int) -> int:
        return self.window.address(self.cfg, offset, self.bank)


class Bench:
    def __init__(self, dut: Any, cfg: Config, limits: LinkLimits, rnd: random.Random) -> None:
        self.dut, self.cfg, self.limits, self.rnd = dut, cfg, limits, rnd
        self.port = StreamBytes(dut, rnd, idle=0.3, backpressure=0.4)
        self.link = RawLink(self.port, TIMEOUT_S)
        self.shadow: dict[int, int] = {}           # address → 32-bit word, as written
        self.seq = 0
        self.statuses: dict[Status, int] = {}

    def body(self, opcode: Opcode | int, args: bytes = b"", payload: bytes = b"") -> bytes:
        self.seq = (self.seq + 1) & 0xFF
        return request_body(opcode, self.seq, args, payload)

    async def exchange(self, body: bytes, *, busy: bool = False, wire: bytes | None = None) -> tuple[Status, bytes]:
        """Send ``body`` (or the raw ``wire`` bytes), check the reply's echo and status against the
        reference and the write counter; returns the status and payload."""
        framed = wire if wire is not None else encode_frame(body)
        received = body + crc16(body).to_bytes(2, "big") if wire is None else None
        writes = int(self.dut.writes.value)
        await self.link.send(framed)
        opcode, seq, status, payload = await self.link.reply()
        if received is not None:
            want = check_request(self.cfg, self.limits, received, busy=busy)
            assert status == want, f"{body[:12].hex()}…: status {status.name}, reference {want.name}"
            assert (opcode, seq) == (body[0], body[1]), f"echo {(opcode, seq)} of {body[:2].hex()}"
        self.statuses[status] = self.statuses.get(status, 0) + 1
        await ClockCycles(self.dut.clk, 2)
        if status != Status.OK:
            assert int(self.dut.writes.value) == writes, f"refused {status.name} frame wrote to the port"
            assert payload == b"", f"error reply with a payload {payload.hex()}"
        return status, payload

    def window(self, *, readable: bool | None = None, writable: bool | None = None) -> Target:
        window = self.rnd.choice([w for w in address_windows(self.cfg)
                                  if (readable is None or w.readable == readable)
                                  and (writable is None or w.writable == writable)])
        bank = self.rnd.randrange(self.cfg.lanes * self.cfg.cores) if window.banked else 0
        return Target(self.cfg, window, bank)

    def block(self, window: Target, size: int) -> tuple[int, int]:
        """A random in-range ``(offset, count)`` in ``window`` (never COMMAND, which starts runs)."""
        first = 1 if window.region == Region.CSR else 0
        offset = self.rnd.randrange(first, window.size)
        count = self.rnd.randint(1, min(window.size - offset, self.limits.max_data // size, 40))
        return offset, count

    async def write_block(self, window: Target, offset: int, values: list[int], size: int, signed: bool) -> None:
        address = window.address(offset)
        payload = b"".join(v.to_bytes(size, "little", signed=signed) for v in values)
        writes = int(self.dut.writes.value)
        status, _ = await self.exchange(self.body(Opcode.WRITE, block_args(address, len(values), size, signed),
                                                 payload))
        assert status == Status.OK
        assert int(self.dut.writes.value) == writes + len(values), "a WRITE wrote another number of words"
        for i, v in enumerate(values):
            self.shadow[window.address(offset + i)] = v & 0xFFFF_FFFF

    async def read_block(self, window: Target, offset: int, count: int, size: int) -> list[int]:
        address = window.address(offset)
        status, payload = await self.exchange(self.body(Opcode.READ, block_args(address, count, size)))
        assert status == Status.OK and len(payload) == count * size
        return [int.from_bytes(payload[i:i + size], "little") for i in range(0, len(payload), size)]


async def setup(dut: Any) -> tuple[Bench, int, int]:
    cfg, samples = tb_params(30)
    latency, slots = int(os.environ["MODSNN_TB_LATENCY"]), int(os.environ["MODSNN_TB_SLOTS"])
    await start(dut, INPUTS)
    dut.run_cycles.value = 50
    rnd = stimulus_random(dut._log)
    return Bench(dut, cfg, link_limits(cfg, slots), rnd), samples, latency


@cocotb.test()
async def identify_and_status(dut: Any) -> None:
    bench, _, latency = await setup(dut)
    _, payload = await bench.exchange(bench.body(Opcode.IDENTIFY))
    assert payload == identity_bytes(bench.cfg, bench.limits, clock_hz=SIM_CLOCK_HZ, divisor=4, read_latency=latency)
    _, payload = await bench.exchange(bench.body(Opcode.STATUS))
    assert unpack(RUN_STATUS, payload).as_value().value == 0


@cocotb.test()
async def writes_and_reads(dut: Any) -> None:
    """Random blocks of every word size, signed and unsigned, written and read back (also with
    another word size: a read returns each word's low bytes, a signed write sign-extends)."""
    bench, samples, _ = await setup(dut)
    rnd, cfg = bench.rnd, bench.cfg
    # SLIP escapes both ways: words made of END and ESC bytes written (seq END) and read (seq ESC) back
    csr = Target(cfg, next(w for w in address_windows(cfg) if w.region == Region.CSR), 0)
    special = [int.from_bytes(bytes(rnd.choice([SLIP_END, SLIP_ESC]) for _ in range(4)), "little") for _ in range(6)]
    bench.seq = SLIP_END - 1
    await bench.write_block(csr, 1, special, 4, False)
    bench.seq = SLIP_ESC - 1
    assert await bench.read_block(csr, 1, len(special), 4) == special, "words of END and ESC bytes read back"
    for _ in range(samples):
        window = bench.window(writable=True, readable=True)
        size, signed = rnd.choice([1, 2, 4]), rnd.random() < 0.5
        offset, count = bench.block(window, size)
        lo, hi = (-(1 << (8 * size - 1)), (1 << (8 * size - 1)) - 1) if signed else (0, (1 << (8 * size)) - 1)
        values = [rnd.randint(lo, hi) for _ in range(count)]
        await bench.write_block(window, offset, values, size, signed)
        read_size = rnd.choice([1, 2, 4])
        got = await bench.read_block(window, offset, count, read_size)
        want = [bench.shadow[window.address(offset + i)] & ((1 << (8 * read_size)) - 1) for i in range(count)]
        assert got == want, f"{window.region.name}{window.layer} bank {window.bank} @{offset}: read {got}, want {want}"
    dut._log.info(f"replies: {({s.name: n for s, n in bench.statuses.items()})}")


@cocotb.test()
async def refused_frames_change_nothing(dut: Any) -> None:
    """Every class of bad frame gets its status, writes nothing, and the next good frame works."""
    bench, samples, _ = await setup(dut)
    rnd, cfg, limits = bench.rnd, bench.cfg, bench.limits
    csr = mmio_address(cfg, Region.CSR, int(Csr.LABEL))
    good = bench.body(Opcode.READ, block_args(csr, 2, 4))
    inputs = bytes(rnd.randrange(256) for _ in range(cfg.n_inputs))
    weights = Target(cfg, next(w for w in address_windows(cfg) if w.region == Region.FF), 0)
    ff = mmio_address(cfg, Region.FF, 0, 0)
    bad_bodies = [
        bench.body(0x7E),                                                           # unknown opcode
        bench.body(Opcode.IDENTIFY, b"\x00"),                                      # bad length
        bench.body(Opcode.READ, block_args(csr, 1, 4)[:-1]),
        bench.body(Opcode.WRITE, block_args(ff, 3, 2), bytes(5)),
        bench.body(Opcode.SAMPLE, sample_args(Command.TRAIN, 1), inputs[:-1]),
        bench.body(Opcode.READ, bytes(4) + (5).to_bytes(2, "little") + bytes([3])),  # size 3
        bench.body(Opcode.READ, bytes(4) + (5).to_bytes(2, "little") + bytes([0x04])),  # reserved bit
        bench.body(Opcode.READ, block_args(csr, 0, 4)),                            # count 0
        bench.body(Opcode.READ, block_args(ff, limits.max_data // 2 + 1, 2)),      # reply too long
        bench.body(Opcode.READ, block_args(ff, 70000 % 65536, 1)),
        bench.body(Opcode.SAMPLE, sample_args(Command.TRAIN, cfg.n_classes), inputs),  # label
        bench.body(Opcode.SAMPLE, sample_args(Command.TRAIN, 255)),
        bench.body(Opcode.SAMPLE, bytes([3, 0, 0]), inputs),                       # mode
        bench.body(Opcode.SAMPLE, bytes([1, 0, 0x80]), inputs),                    # reserved flag
        bench.body(Opcode.WRITE, block_args(ff + weights.size - 1, 2, 2), bytes(4)),  # past the window
        bench.body(Opcode.WRITE, block_args(mmio_address(cfg, Region.STATE, 0), 1, 2), bytes(2)),  # read-only
        bench.body(Opcode.READ, block_args(mmio_address(cfg, Region.INPUT, 0), 1, 1)),  # write-only
        bench.body(Opcode.READ, block_args(1 << 31, 1, 1)),                        # beyond the address bits
        bench.body(Opcode.READ, block_args(mmio_address(cfg, Region.STATE, 0) + (1 << 31), 1, 1)),
        bench.body(Opcode.WRITE, block_args(int(formats_address_of_bad_region(cfg)), 1, 1), b"\x01"),
    ]
    for body in bad_bodies:
        status, _ = await bench.exchange(body)
        assert status != Status.OK, f"{body.hex()} accepted"
        await bench.exchange(good)
    # damaged frames: bad CRC, truncated, bad SLIP escapes, an escape open at END, oversize, short, empty
    body = bench.body(Opcode.WRITE, block_args(ff, 1, 2), b"\x05\x00")
    received = body + crc16(body).to_bytes(2, "big")
    framed = encode_frame(body)
    esc = bytes([SLIP_ESC])
    damaged = [
        (END + sliplib.encode(received[:-1] + bytes([received[-1] ^ 1])) + END, Status.BAD_CRC),
        (END + sliplib.encode(received[:-3]) + END, Status.BAD_CRC),         # truncated: 2 body bytes as CRC
        (framed[:-1] + esc + END, Status.FRAMING),                         # the escape open at END
        (framed[:4] + esc + b"\x05" + framed[4:], Status.FRAMING),         # bad escapes
        (framed[:4] + esc + esc + framed[4:], Status.FRAMING),
        (framed[:4] + esc + bytes([SLIP_ESC_END ^ 2]) + framed[4:], Status.FRAMING),
        (END + b"\x02" + END, Status.BAD_LENGTH),
        (END + bytes([SLIP_ESC, SLIP_ESC_END, SLIP_ESC, SLIP_ESC_ESC, 0x07]) + END, Status.BAD_LENGTH),
        (encode_frame(bench.body(Opcode.WRITE, block_args(ff, limits.max_data, 1), bytes(limits.max_data + 1))),
         Status.OVERSIZE),
    ]
    for wire, want in damaged:
        reference = expected_replies(cfg, limits, wire)
        assert [status for *_, status in reference] == [want], f"{wire[:16].hex()}: reference {reference}"
        status, _ = await bench.exchange(b"", wire=wire)
        assert status == want, f"{wire[:16].hex()}: {status.name}, want {want.name}"
        await bench.exchange(good)
    await bench.link.send(END * 4)                                  # empty frames: no reply
    await bench.exchange(good)
    dut._log.info(f"replies: {({s.name: n for s, n in bench.statuses.items()})}")
    del samples


def formats_address_of_bad_region(cfg: Config) -> int:
    """An address in region 7, which the accelerator does not decode."""
    from modsnn.hw.formats import formats_for

    layout = formats_for(cfg).mmio_address
    return int(layout.const({"offset": 0, "bank": 0}).as_bits()) | (7 << layout["region"].offset)


@cocotb.test()
async def samples_run_and_reply(dut: Any) -> None:
    """A SAMPLE writes its inputs, label and command (n_inputs + 2 writes, or 2 without inputs),
    waits for the run and replies with the registers asked for; a refused command times out
    after START_TIMEOUT cycles with the refused bit set; back-to-back samples are pipelined."""
    bench, _, _ = await setup(dut)
    cfg, limits, rnd = bench.cfg, bench.limits, bench.rnd
    csr = Target(cfg, next(w for w in address_windows(cfg) if w.region == Region.CSR), 0)
    registers = [rnd.randrange(1 << 32) for _ in range(csr.size - 1)]
    per_frame = limits.max_data // 4
    for first in range(0, len(registers), per_frame):
        await bench.write_block(csr, 1 + first, registers[first:first + per_frame], 4, False)

    def reg(r: int) -> int:
        return registers[r - 1]

    for flags in [(False, False, False), (True, True, True), (True, False, True)]:
        inputs = bytes(rnd.randrange(256) for _ in range(cfg.n_inputs))
        for payload in (inputs, b""):
            writes = int(dut.writes.value)
            label = rnd.randrange(cfg.n_classes)
            status, raw = await bench.exchange(bench.body(Opcode.SAMPLE, sample_args(Command.TRAIN, label, *flags),
                                                          payload))
            assert int(dut.writes.value) == writes + len(payload) + 2
            reply = SampleReply.from_bytes(raw, limits, *flags)
            registers[Csr.LABEL - 1] = label
            assert (reply.busy, reply.refused, reply.prediction) == (False, False, reg(Csr.PREDICTION) & 0xFF)
            if flags[0]:
                c = [reg(Csr.CYCLES_INTEGRATION + i) for i in range(4)]
                assert reply.cycles is not None and (reply.cycles.integration, reply.cycles.sweep,
                                                     reply.cycles.plasticity) == (c[0], c[1] + c[2], c[3])
            if flags[1]:
                mask = (1 << (8 * limits.count_bytes)) - 1
                assert reply.counts == [reg(Csr.COUNT + k) & mask for k in range(cfg.n_classes)]
            if flags[2]:
                bits = 8 * limits.level_bytes
                assert reply.levels == [((reg(Csr.LEVEL + k) & ((1 << bits) - 1)) ^ (1 << (bits - 1)))
                                        - (1 << (bits - 1)) for k in range(cfg.n_classes)]
    dut.refuse.value = 1
    status, raw = await bench.exchange(bench.body(Opcode.SAMPLE, sample_args(Command.INFER, 0)))
    assert SampleReply.from_bytes(raw, limits, False, False, False).refused
    dut.refuse.value = 0
    # pipelined: `slots` requests outstanding, replies in order
    dut.run_cycles.value = 400
    bodies = [bench.body(Opcode.SAMPLE, sample_args(Command.INFER, 0), bytes(cfg.n_inputs)) for _ in range(6)]
    sent = 0
    for i in range(len(bodies)):
        while sent < min(len(bodies), i + limits.slots):
            await bench.link.send(encode_frame(bodies[sent]))
            sent += 1
        opcode, seq, status, _ = await bench.link.reply()
        assert (opcode, seq, status) == (Opcode.SAMPLE.value, bodies[i][1], Status.OK)


@cocotb.test()
async def busy_accelerator(dut: Any) -> None:
    """While a run started by a WRITE to COMMAND is going, only IDENTIFY, STATUS and register reads
    are served; everything else is refused BUSY and writes nothing."""
    bench, _, _ = await setup(dut)
    cfg = bench.cfg
    dut.run_cycles.value = 6_000
    command = mmio_address(cfg, Region.CSR, int(Csr.COMMAND))
    await bench.exchange(bench.body(Opcode.WRITE, block_args(command, 1, 1), bytes([Command.INFER])))
    await ClockCycles(dut.clk, 2)
    assert int(dut.busy.value)
    ff = mmio_address(cfg, Region.FF, 0, 0)
    for body, want in [
        (bench.body(Opcode.WRITE, block_args(ff, 1, 2), b"\x01\x00"), Status.BUSY),
        (bench.body(Opcode.READ, block_args(ff, 1, 2)), Status.BUSY),
        (bench.body(Opcode.SAMPLE, sample_args(Command.INFER, 0)), Status.BUSY),
        (bench.body(Opcode.WRITE, block_args(mmio_address(cfg, Region.CSR, int(Csr.LABEL)), 1, 1), b"\x01"),
         Status.BUSY),
        (bench.body(Opcode.READ, block_args(mmio_address(cfg, Region.CSR, int(Csr.SAMPLE)), 1, 4)), Status.OK),
        (bench.body(Opcode.IDENTIFY), Status.OK),
    ]:
        status, _ = await bench.exchange(body, busy=True)
        assert status == want
    status, payload = await bench.exchange(bench.body(Opcode.STATUS), busy=True)
    assert unpack(RUN_STATUS, payload).busy
