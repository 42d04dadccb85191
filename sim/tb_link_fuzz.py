"""cocotb fuzzer of the host link on the real accelerator (:class:`~modsnn.sim.link_harness.LinkHarness`).

Byte level (``MODSNN_FUZZ_FRAMES`` items, through the harness's host-side UARTs): random bytes, bit
flips, truncated and oversized frames, bad CRCs, bad SLIP escapes and escapes open at the delimiter,
well-framed requests with out-of-range fields, garbage without a delimiter, requests while a sample
runs — every item refused, interleaved with valid requests, its frames sent with at most ``slots``
awaiting their replies (the protocol's flow control). For each item the expected replies
(echo and status) come from the reference model (:func:`~modsnn.sim.link.expected_replies`); the
bus-write counter must not move (nothing applied); the registers are read back after every item,
the block a mutated WRITE aimed at is read back, and every ``CHECK_EVERY`` items all weights are
read back and an inference on the loaded inputs must match the golden model (prediction, cycles,
class counts) — which also proves the inputs unchanged. Every reply must arrive within the timeout
(no hangs). Now and then a burst of short garbage frames goes beyond the flow control (bytes may be
lost to a UART overrun): it must write nothing, and the link must answer the next requests.

Bit level (``MODSNN_FUZZ_BITS`` items, on the serial pins): glitches, breaks, wrong stop bits, bit
flips on the line and a host ±1.5 % off in baud; after each, a resynchronised valid request must be
answered correctly and nothing may have been written.

A JSON report (rejections by class, frames, bytes, time) goes to ``MODSNN_FUZZ_REPORT``; the seed is
logged (``MODSNN_SEED`` reproduces a run).
"""

from __future__ import annotations

import collections
import json
import os
import random
import time
from pathlib import Path
from typing import Any

import cocotb
import numpy as np
import sliplib

from modsnn.boards.driver import END, BoardDriver, encode_frame
from modsnn.golden_model.config import Config
from modsnn.golden_model.cycles import sample_cycles
from modsnn.golden_model.data import load_dataset
from modsnn.golden_model.network import Network
from modsnn.hw.control_port import Command, Csr
from modsnn.hw.formats import Region
from modsnn.hw.link.protocol import (
    SLIP_END,
    SLIP_ESC,
    SLIP_ESC_END,
    SLIP_ESC_ESC,
    LinkLimits,
    Opcode,
    Status,
    block_args,
    check_request,
    crc16,
    link_limits,
    request_body,
    sample_args,
)
from modsnn.hw.memory_map import WEIGHT_REGIONS, address_windows, dense_from_images, mmio_address, weight_images
from modsnn.hw.params import LR_EXTRA_MAX, bits_for
from modsnn.sim.link import HarnessBytes, SimTransport, UartPins, bridge, expected_replies, reference_frames
from modsnn.sim.streams import start, stimulus_random
from modsnn.sim.tbparams import tb_params

INPUTS = ("pin_mode", "host_tx__valid", "host_tx__payload")
CLOCK_PS = 10_000
CHECK_EVERY = 500
REGISTERS = (Csr.LABEL, Csr.LR_EXTRA, Csr.SAMPLE)


class Shadow:
    """What the accelerator must hold: weights, the registers the host writes, the inputs."""

    def __init__(self, cfg: Config, net: Network) -> None:
        self.cfg = cfg
        self.label_max = (1 << bits_for(cfg.n_classes)) - 1
        self.images = weight_images(cfg, net.ff, net.rec, net.out)
        self.regs = {Csr.LABEL: 0, Csr.LR_EXTRA: 0, Csr.SAMPLE: 0}
        self.inputs = np.zeros(cfg.n_inputs, np.int64)

    def write(self, region: Region, offset: int, bank: int, layer: int, value: int) -> None:
        if region == Region.CSR:
            saturating = {Csr.LABEL: min(value, self.label_max), Csr.LR_EXTRA: min(value, LR_EXTRA_MAX)}
            self.regs[Csr(offset)] = saturating.get(Csr(offset), value)
        elif region == Region.INPUT:
            self.inputs[offset] = value & 0xFF
        else:
            bits = self.cfg.weight_bits
            stored = value & ((1 << bits) - 1)
            signed = stored - (1 << bits) if stored >> (bits - 1) else stored
            self.images[(_MATRIX[region], layer)][offset, bank] = signed

    def network(self) -> Network:
        net = Network(self.cfg)
        ff, rec, out = dense_from_images(self.cfg, self.images)
        state = {f"{name}{layer}": w for name, ws in (("ff", ff), ("rec", rec), ("out", out))
                 for layer, w in enumerate(ws)}
        net.load_state_dict({**state, "updates": np.asarray(0)})
        return net


_MATRIX = {region: matrix for matrix, region in WEIGHT_REGIONS.items()}


class Fuzzer:
    def __init__(self, dut: Any, cfg: Config, limits: LinkLimits, rnd: random.Random, driver: BoardDriver,
                 transport: SimTransport, shadow: Shadow) -> None:
        self.dut, self.cfg, self.limits, self.rnd = dut, cfg, limits, rnd
        self.driver, self.transport, self.shadow = driver, transport, shadow
        self.rejections: collections.Counter[str] = collections.Counter()
        self.kinds: collections.Counter[str] = collections.Counter()
        self.frames = 0
        self.valid = 0
        self.seq = 0

    # ---------------------------------------------------------------- helpers
    def writes(self) -> int:
        return resume_int(self.dut.bus_writes)

    def next_seq(self) -> int:
        self.seq = (self.seq + 1) % 200 + 50           # the driver's own sequence numbers stay apart
        return self.seq

    def weight_window(self) -> tuple[Region, int, int, int]:
        """``(region, bank, layer, size)`` of a random weight window and bank."""
        window = self.rnd.choice([w for w in address_windows(self.cfg) if w.region in _MATRIX])
        bank = self.rnd.randrange(self.cfg.lanes * self.cfg.cores) if window.banked else 0
        return window.region, bank, window.layer, window.size

    def valid_body(self) -> tuple[bytes, tuple[Region, int, int, int, int] | None]:
        """A valid request to mutate, and the block it targets (``(region, offset, bank, layer, count)``,
        for read-back)."""
        rnd, cfg = self.rnd, self.cfg
        kind = rnd.randrange(4)
        if kind == 0:
            region, bank, layer, size = self.weight_window()
            offset = rnd.randrange(size)
            count = rnd.randint(1, min(size - offset, self.limits.max_data // 2, 60))
            values = b"".join(rnd.randint(-cfg.w_max, cfg.w_max).to_bytes(2, "little", signed=True)
                              for _ in range(count))
            address = mmio_address(cfg, region, offset, bank, layer)
            return request_body(Opcode.WRITE, self.next_seq(), block_args(address, count, 2, True), values), \
                (region, offset, bank, layer, count)
        if kind == 1:
            reg = rnd.choice(REGISTERS)
            address = mmio_address(cfg, Region.CSR, int(reg))
            return request_body(Opcode.WRITE, self.next_seq(), block_args(address, 1, 4),
                                rnd.randrange(8).to_bytes(4, "little")), None
        if kind == 2:
            mode = rnd.choice([Command.INFER, Command.TRAIN])
            return request_body(Opcode.SAMPLE, self.next_seq(), sample_args(mode, rnd.randrange(cfg.n_classes)),
                                bytes(rnd.randrange(256) for _ in range(cfg.n_inputs))), None
        region, bank, layer, size = self.weight_window()
        return request_body(Opcode.READ, self.next_seq(),
                            block_args(mmio_address(cfg, region, 0, bank, layer), 4, 2)), None

    def bad_fields(self) -> bytes:
        """A well-framed request (good CRC) with a field out of range."""
        rnd, cfg = self.rnd, self.cfg
        seq = self.next_seq()
        region, bank, layer, size = self.weight_window()
        address = mmio_address(cfg, region, 0, bank, layer)
        choices = [
            lambda: request_body(rnd.choice([0, 6, 7, 0x80, 0xFF, rnd.randrange(6, 256)]), seq),
            lambda: request_body(Opcode.READ, seq, block_args(address + size - rnd.randint(0, 3), 5, 2)),
            lambda: request_body(Opcode.WRITE, seq, block_args(address + size - 1, 2, 2), bytes(4)),
            lambda: request_body(Opcode.READ, seq, block_args(rnd.randrange(1 << 32), rnd.randint(1, 8), 1)),
            lambda: request_body(Opcode.WRITE, seq, block_args(mmio_address(cfg, Region.STATE, 0), 1, 1), b"\x01"),
            lambda: request_body(Opcode.READ, seq, block_args(mmio_address(cfg, Region.INPUT, 0), 1, 1)),
            lambda: request_body(Opcode.READ, seq, block_args(address, 0, 2)),
            lambda: request_body(Opcode.READ, seq, block_args(address, self.limits.max_data, 2)),
            lambda: request_body(Opcode.READ, seq, block_args(address, 1, 1)[:-1] + bytes([rnd.choice([3, 4, 0x7F])])),
            lambda: request_body(Opcode.WRITE, seq, block_args(address, 3, 2), bytes(rnd.choice([0, 5, 7]))),
            lambda: request_body(Opcode.SAMPLE, seq, sample_args(Command.TRAIN, rnd.randint(cfg.n_classes, 255)),
                                 bytes(cfg.n_inputs)),
            lambda: request_body(Opcode.SAMPLE, seq, bytes([rnd.choice([0, 3, 4, 0xFF]), 0, 0])),
            lambda: request_body(Opcode.SAMPLE, seq, bytes([1, 0, rnd.choice([8, 0x10, 0x80])])),
            lambda: request_body(Opcode.SAMPLE, seq, sample_args(Command.INFER, 0),
                                 bytes(rnd.randint(1, cfg.n_inputs - 1))),
            lambda: request_body(Opcode.IDENTIFY, seq, bytes(rnd.randint(1, 3))),
            lambda: request_body(Opcode.STATUS, seq, b"\x00"),
        ]
        return rnd.choice(choices)()

    # ---------------------------------------------------------------- one fuzz item
    def item(self) -> tuple[str, bytes, tuple[Region, int, int, int, int] | None]:
        """``(kind, wire bytes, targeted block)`` of one refused item (the wire ends in a delimiter
        unless the item is garbage that the next request's leading delimiter closes)."""
        rnd = self.rnd
        kind = rnd.choice(["random", "bitflip", "truncated", "oversize", "crc", "fields", "fields", "unterminated",
                           "escape"])
        target = None
        if kind == "random":
            wire = bytes(rnd.choice([SLIP_END, SLIP_ESC, rnd.randrange(256), rnd.randrange(256)])
                         for _ in range(rnd.randrange(1, 80))) + END
        elif kind == "unterminated":
            wire = bytes(rnd.choice([SLIP_ESC, rnd.randrange(256)])
                         for _ in range(rnd.randrange(1, 40))).replace(END, b"")
        elif kind == "oversize":
            data = bytes(rnd.randrange(256) for _ in range(self.limits.slot_bytes + rnd.randrange(-9, 40)))
            body = request_body(Opcode.WRITE, self.next_seq(), block_args(0, 1, 1), data)
            wire = encode_frame(body)
        elif kind == "fields":
            wire = encode_frame(self.bad_fields())
        else:
            body, target = self.valid_body()
            encoded = bytearray(sliplib.encode(body + crc16(body).to_bytes(2, "big")))
            if kind == "bitflip":
                for _ in range(rnd.randint(1, 3)):
                    pos = rnd.randrange(len(encoded))
                    encoded[pos] ^= 1 << rnd.randrange(8)
            elif kind == "truncated":
                del encoded[rnd.randrange(1, len(encoded)):]
            elif kind == "escape":                                  # a bad escape, or one open at END
                bad = rnd.choice([SLIP_ESC, SLIP_ESC_END ^ 2, SLIP_ESC_ESC ^ 2, rnd.randrange(256), None])
                if bad in (SLIP_END, SLIP_ESC_END, SLIP_ESC_ESC) or bad is None:
                    encoded += bytes([SLIP_ESC])
                else:
                    at = rnd.randrange(len(encoded) + 1)
                    encoded[at:at] = bytes([SLIP_ESC, bad])
            else:                                                   # CRC
                encoded = bytearray(sliplib.encode(body + (crc16(body) ^ rnd.randrange(1, 1 << 16)).to_bytes(2, "big")))
            wire = END + bytes(encoded) + END
        return kind, wire, target

    def expected(self, wire: bytes, busy: bool = False) -> list[tuple[int, int, Status]]:
        closed = wire if wire.endswith(END) else wire + END
        return expected_replies(self.cfg, self.limits, closed, busy=busy)

    def fuzz_once(self) -> None:
        while True:
            kind, wire, target = self.item()
            want = self.expected(wire)
            if want and all(status != Status.OK for *_, status in want):
                break
        writes = self.writes()
        # frame by frame, at most `slots` of them awaiting their replies (the protocol's flow
        # control: the link takes the next frame once a reply has gone out; `burst` goes beyond it)
        closed = wire if wire.endswith(END) else wire + END
        replies = iter(want)
        outstanding = 0
        for segment in closed.split(END)[:-1]:
            if reference_frames(segment + END):             # a frame the link answers
                if outstanding == self.limits.slots:
                    self.check_reply(kind, wire, next(replies))
                    outstanding -= 1
                outstanding += 1
            self.transport.write(segment + END)
        for rest in replies:
            self.check_reply(kind, wire, rest)
        self.kinds[kind] += 1
        assert self.writes() == writes, f"{kind} item {wire[:24].hex()}… wrote to the accelerator"
        self.check_registers()
        if target is not None:
            region, offset, bank, layer, count = target
            got = self.driver.read_words(region, offset, count, bank=bank, layer=layer, size=2, signed=True)
            want_words = self.shadow.images[(_MATRIX[region], layer)][offset:offset + count, bank].tolist()
            assert got == want_words, f"{kind} item changed {region.name}{layer} bank {bank} @{offset}"
            self.valid += 1

    def check_reply(self, kind: str, wire: bytes, want: tuple[int, int, Status]) -> None:
        """The next reply is ``want`` (``(opcode, seq, status)``), the reference's for ``wire``."""
        opcode, seq, status = want
        reply = self.driver.next_reply()
        assert (reply.opcode, reply.seq, reply.status) == (opcode, seq, status), \
            f"{kind} item {wire[:24].hex()}…: reply {(reply.opcode, reply.seq, reply.status.name)}, " \
            f"reference {(opcode, seq, status.name)}"
        self.rejections[status.name] += 1
        self.frames += 1

    def burst(self) -> None:
        """Short garbage frames back to back, beyond the flow control (their replies are longer than
        they are): the link may lose bytes to a UART overrun (the next byte flagged: FRAMING), but it
        writes nothing, does not hang, and answers the next requests."""
        rnd = self.rnd
        writes = self.writes()
        wire = b"".join(bytes(rnd.choice([SLIP_ESC, rnd.randrange(256)]) for _ in range(rnd.randrange(4)))
                        .replace(END, b"") + END for _ in range(rnd.randint(self.limits.slots + 2, 40)))
        self.transport.write(wire)
        self.driver.drain(2e-4)
        assert self.writes() == writes, f"burst {wire[:24].hex()}… wrote to the accelerator"
        self.kinds["burst"] += 1
        self.check_registers()

    # ---------------------------------------------------------------- valid requests
    def check_registers(self) -> None:
        got = self.driver.read_words(Region.CSR, int(Csr.LABEL), 3, size=4)
        want = [self.shadow.regs[r] for r in REGISTERS]
        assert got == want, f"registers {got}, want {want}"
        self.valid += 1

    def valid_request(self) -> None:
        rnd, cfg, driver, shadow = self.rnd, self.cfg, self.driver, self.shadow
        kind = rnd.randrange(5)
        if kind == 0:
            region, bank, layer, size = self.weight_window()
            offset = rnd.randrange(size)
            values = [0 if self.self_connection(region, offset + i, bank, layer) else rnd.randint(-cfg.w_max, cfg.w_max)
                      for i in range(rnd.randint(1, min(size - offset, 50)))]
            driver.write_words(region, offset, values, bank=bank, layer=layer, size=2, signed=True)
            for i, v in enumerate(values):
                shadow.write(region, offset + i, bank, layer, v)
        elif kind == 1:
            reg = rnd.choice(REGISTERS)
            value = rnd.randrange(8) if reg == Csr.LR_EXTRA else rnd.randrange(1 << 32)
            driver.write_register(reg, value)
            shadow.write(Region.CSR, int(reg), 0, 0, value)
        elif kind == 2:
            assert driver.identify().config_hash == cfg.hash()
        elif kind == 3:
            assert driver.status() == (False, False)
        else:
            region, bank, layer, size = self.weight_window()
            offset = rnd.randrange(size)
            count = rnd.randint(1, min(size - offset, 60))
            got = driver.read_words(region, offset, count, bank=bank, layer=layer, size=2, signed=True)
            assert got == shadow.images[(_MATRIX[region], layer)][offset:offset + count, bank].tolist()
        self.valid += 1

    def self_connection(self, region: Region, offset: int, bank: int, layer: int) -> bool:
        """The word is a recurrent weight of a neuron onto itself: the golden model never uses one
        (no self-connections), the RTL uses what is stored, which the host keeps at 0."""
        banks = self.cfg.lanes * self.cfg.cores
        words = self.cfg.hidden[layer] // banks                         # words per source column
        return region == Region.REC and (offset % words) * banks + bank == offset // words

    def infer_and_compare(self, new_inputs: bool) -> None:
        """An inference on the loaded (or new) inputs must match the golden model on the shadow."""
        if new_inputs:
            self.shadow.inputs = np.asarray(self.rnd.choice(self.dataset), np.int64)
        label = self.rnd.randrange(self.cfg.n_classes)
        reply = self.driver.run(self.shadow.inputs if new_inputs else None, train=False, label=label,
                                cycles=True, counts=True)
        self.shadow.regs[Csr.LABEL] = label
        fwd = self.shadow.network().forward(self.shadow.inputs.reshape(1, -1), learning=False)
        assert reply.prediction == int(fwd.prediction[0]), "inference differs from the golden model"
        assert reply.cycles == sample_cycles(self.cfg, fwd), "inference cycles differ from the cycle model"
        assert reply.counts == fwd.counts[0].tolist(), "class counts differ from the golden model"
        self.valid += 1

    def full_check(self) -> None:
        ff, rec, out = self.driver.read_weights()
        want = dense_from_images(self.cfg, self.shadow.images)
        for name, a, b in zip(("ff", "rec", "out"), (ff, rec, out), want, strict=True):
            assert np.array_equal(a, b), f"{name} weights differ from the shadow"
        self.check_registers()
        self.infer_and_compare(new_inputs=False)

    def while_busy(self) -> None:
        """Start a sample with a raw WRITE to COMMAND, then requests arriving while it runs are refused
        BUSY (register reads, IDENTIFY and STATUS are served)."""
        driver, cfg = self.driver, self.cfg
        driver.write_words(Region.CSR, int(Csr.COMMAND), [int(Command.INFER)], size=1)
        writes = self.writes()
        region, bank, layer, _ = self.weight_window()
        address = mmio_address(cfg, region, 0, bank, layer)
        for body in [request_body(Opcode.WRITE, self.next_seq(), block_args(address, 1, 2), b"\x01\x00"),
                     request_body(Opcode.SAMPLE, self.next_seq(), sample_args(Command.INFER, 0)),
                     request_body(Opcode.READ, self.next_seq(), block_args(address, 2, 2))]:
            want = check_request(cfg, self.limits, body + crc16(body).to_bytes(2, "big"), busy=True)
            assert want == Status.BUSY
            self.transport.write(encode_frame(body))
            reply = self.driver.next_reply()
            assert (reply.seq, reply.status) == (body[1], Status.BUSY), f"while busy: {reply}"
            self.rejections["BUSY"] += 1
            self.frames += 1
        assert driver.status()[0], "the sample should still be running"
        assert driver.read_register(Csr.SAMPLE) == self.shadow.regs[Csr.SAMPLE]
        while driver.status()[0]:
            pass
        assert self.writes() == writes
        self.kinds["busy"] += 1
        self.check_registers()

    dataset: Any = None


def resume_int(signal: Any) -> int:
    from cocotb.task import resume

    async def read() -> int:
        return int(signal.value)

    return resume(read)()


def host_fuzz(dut: Any, cfg: Config, rnd: random.Random, byte_port: HarnessBytes, divisor: int,
              frames: int, bit_items: int, log: Any) -> dict[str, Any]:
    limits = link_limits(cfg)
    transport = SimTransport(byte_port)
    driver = BoardDriver(transport, cfg, timeout=2e-3)
    driver.connect()
    net = Network(cfg)
    driver.load_weights(net)
    shadow = Shadow(cfg, net)
    fuzzer = Fuzzer(dut, cfg, limits, rnd, driver, transport, shadow)
    fuzzer.dataset = load_dataset(cfg.dataset, "train").x
    fuzzer.infer_and_compare(new_inputs=True)
    started = time.perf_counter()
    done = 0
    while done < frames:
        r = rnd.random()
        if r < 0.02:
            fuzzer.while_busy()
        elif r < 0.05:
            fuzzer.infer_and_compare(new_inputs=rnd.random() < 0.5)
        elif r < 0.3:
            fuzzer.valid_request()
        elif r < 0.31:
            fuzzer.burst()
        else:
            fuzzer.fuzz_once()
        if fuzzer.frames // CHECK_EVERY != done // CHECK_EVERY:
            fuzzer.full_check()
            log.info(f"fuzz: {fuzzer.frames} refused frames, {fuzzer.valid} valid requests, "
                     f"{time.perf_counter() - started:.0f} s: {dict(fuzzer.rejections)}")
        done = fuzzer.frames
    fuzzer.full_check()
    byte_seconds = time.perf_counter() - started
    # ---- bit level: the serial line itself misbehaves
    bit_started = time.perf_counter()
    pins = resume_call(pins_mode, dut, divisor)
    transport.port = pins
    for i in range(bit_items):
        writes = fuzzer.writes()
        kind = rnd.choice(["glitch", "break", "stop", "flip", "skew"])
        if kind == "glitch":
            resume_call(pins.glitch, rnd.randint(1, 10_000))
        elif kind == "break":
            resume_call(pins.line_break, rnd.randint(10, 30))
        elif kind == "stop":
            body, _ = fuzzer.valid_body()
            wire = encode_frame(body)
            resume_call(send_bad_stop, pins, wire, rnd.randrange(len(wire)))
        elif kind == "flip":
            body, _ = fuzzer.valid_body()
            flipped = bytearray(encode_frame(body))
            pos = rnd.randrange(1, len(flipped))
            flipped[pos] ^= 1 << rnd.randrange(8)
            transport.write(bytes(flipped))
        else:
            pins.host_bit_ps = round(pins.bit_ps * (1 + rnd.choice([-0.015, 0.015])))
            fuzzer.valid_request()
            pins.host_bit_ps = pins.bit_ps
            fuzzer.kinds["bits:skew"] += 1
            continue
        fuzzer.kinds[f"bits:{kind}"] += 1
        transport.write(END)
        driver.drain(2e-4)                                   # the error replies to the damaged frames
        assert fuzzer.writes() == writes, f"bit-level item {i} ({kind}) wrote to the accelerator"
        fuzzer.check_registers()
    fuzzer.full_check()
    return {"config": cfg.name, "frames_refused": fuzzer.frames, "valid_requests": fuzzer.valid,
            "rejections": dict(fuzzer.rejections), "items": dict(fuzzer.kinds), "hangs": 0,
            "byte_level_seconds": byte_seconds, "bit_level_seconds": time.perf_counter() - bit_started,
            "bytes_to_link": transport.sent}


def resume_call(fn: Any, *args: Any) -> Any:
    from cocotb.task import resume

    return resume(fn)(*args)


async def pins_mode(dut: Any, divisor: int) -> UartPins:
    """Switch the link's ``rx`` to the testbench's pin and start decoding its ``tx`` pin (only now:
    a bit-level monitor is costly)."""
    dut.pin_mode.value = 1
    return UartPins(dut, divisor * CLOCK_PS)


async def send_bad_stop(pins: UartPins, wire: bytes, bad: int) -> None:
    """Send ``wire`` with a 0 stop bit on byte ``bad``."""
    from cocotb.triggers import Timer

    for i, byte in enumerate(wire):
        for bit in [0, *((byte >> k) & 1 for k in range(8)), 0 if i == bad else 1]:
            pins.rx.value = bit
            await Timer(pins.host_bit_ps, unit="ps")
    pins.rx.value = 1
    await Timer(4 * pins.host_bit_ps, unit="ps")


@cocotb.test()
async def fuzz_link(dut: Any) -> None:
    cfg, _ = tb_params(0)
    frames = int(os.environ.get("MODSNN_FUZZ_FRAMES", "200"))
    bit_items = int(os.environ.get("MODSNN_FUZZ_BITS", "20"))
    divisor = int(os.environ["MODSNN_TB_DIVISOR"])
    await start(dut, INPUTS)
    dut.rx_pin.value = 1
    rnd = stimulus_random(dut._log)
    byte_port = HarnessBytes(dut)
    wall = time.perf_counter()
    result = await bridge(host_fuzz)(dut, cfg, rnd, byte_port, divisor, frames, bit_items, dut._log)
    result["wall_seconds"] = time.perf_counter() - wall
    path = os.environ.get("MODSNN_FUZZ_REPORT")
    if path:
        Path(path).write_text(json.dumps(result, indent=2) + "\n")
    dut._log.info(f"fuzz done: {json.dumps(result)}")
