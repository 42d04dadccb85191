"""cocotb testbench of the UART (:class:`~modsnn.sim.link_harness.UartHarness`).

Parameters in the environment: ``MODSNN_TB_DIVISOR`` (clock cycles per bit of the DUT),
``MODSNN_TB_SKEW`` (relative bit-time error of the testbench's serial line, e.g. 0.015),
``MODSNN_TB_SAMPLES`` (bytes per test), ``MODSNN_SEED``.
"""

from __future__ import annotations

import os
from typing import Any

import cocotb
from cocotb.triggers import ClockCycles, RisingEdge, Timer

from modsnn.sim.link import UartPins
from modsnn.sim.streams import StreamSink, StreamSource, start, stimulus_random

INPUTS = ("i__valid", "i__payload", "o__ready")
CLOCK_PS = 10_000


def params() -> tuple[int, float, int]:
    return (int(os.environ["MODSNN_TB_DIVISOR"]), float(os.environ.get("MODSNN_TB_SKEW", "0")),
            int(os.environ.get("MODSNN_TB_SAMPLES", "64")))


async def setup(dut: Any) -> tuple[int, int, UartPins]:
    divisor, skew, count = params()
    await start(dut, INPUTS)
    dut.rx.value = 1
    pins = UartPins(dut, divisor * CLOCK_PS, rx="rx", tx="tx", skew=skew)
    return divisor, count, pins


@cocotb.test()
async def receiver_decodes_bytes(dut: Any) -> None:
    """Random bytes with random gaps, from a line whose baud rate is off by the skew, arrive intact
    and unflagged, under random back-pressure that never lasts a byte time."""
    divisor, count, pins = await setup(dut)
    rnd = stimulus_random(dut._log)
    data = bytes(rnd.randrange(256) for _ in range(count))
    sink = StreamSink(dut, "o", dut.clk, rnd, backpressure=0.3)
    cocotb.start_soon(sink.run())
    for byte in data:
        await pins.send(bytes([byte]))
        gap = rnd.choice([0, 0, 1, 3 * divisor, 37])
        if gap:
            await Timer(gap * CLOCK_PS, unit="ps")
    await ClockCycles(dut.clk, 20 * divisor)
    got = bytes(item & 0xFF for item in sink.items)
    flags = [item >> 8 for item in sink.items]
    assert got == data, f"received {got.hex()} != sent {data.hex()}"
    assert not any(flags), f"{sum(flags)} bytes flagged"


@cocotb.test()
async def receiver_flags_errors_and_recovers(dut: Any) -> None:
    """A zero stop bit and a break are flagged (one byte each); a glitch shorter than half a bit
    is no start bit; an unread byte is overwritten and the new one flagged (overrun); after each,
    the next byte is clean."""
    divisor, _, pins = await setup(dut)
    bit = divisor * CLOCK_PS
    sink = StreamSink(dut, "o", dut.clk, stimulus_random(dut._log))
    cocotb.start_soon(sink.run())

    async def raw_byte(byte: int, stop: int) -> None:
        for level in [0, *((byte >> i) & 1 for i in range(8)), stop]:
            dut.rx.value = level
            await Timer(bit, unit="ps")
        dut.rx.value = 1
        await Timer(3 * bit, unit="ps")

    await raw_byte(0x5A, 0)                       # framing error
    await pins.send(b"\x11")
    await pins.line_break(25)                      # break: one 0x00 byte flagged
    await pins.send(b"\x22")
    await pins.glitch((divisor // 2 - 2) * CLOCK_PS if divisor >= 6 else CLOCK_PS)
    await Timer(3 * bit, unit="ps")
    await pins.send(b"\x33")
    await ClockCycles(dut.clk, 12 * divisor)
    items = [(i & 0xFF, i >> 8) for i in sink.items]
    assert items == [(0x5A, 1), (0x11, 0), (0x00, 1), (0x22, 0), (0x33, 0)], f"got {items}"


@cocotb.test()
async def receiver_overrun(dut: Any) -> None:
    divisor, _, pins = await setup(dut)
    dut.o__ready.value = 0
    await pins.send(b"\x01\x02")
    await ClockCycles(dut.clk, 2 * divisor)
    assert int(dut.o__valid.value) == 1
    assert int(dut.o__payload.value) == 0x102, f"payload {int(dut.o__payload.value):#x}: want 0x02 flagged"
    dut.o__ready.value = 1
    await RisingEdge(dut.clk)
    dut.o__ready.value = 0
    await pins.send(b"\x03")
    await ClockCycles(dut.clk, 2 * divisor)
    assert int(dut.o__payload.value) == 0x03


@cocotb.test()
async def transmitter_sends_bytes(dut: Any) -> None:
    """Random bytes with random idle decode on the line (sampled at the middle of the bits of a
    line off by the skew); back to back, n bytes take n·(10·divisor + 1) cycles."""
    divisor, count, pins = await setup(dut)
    rnd = stimulus_random(dut._log)
    data = bytes(rnd.randrange(256) for _ in range(count))
    source = StreamSource(dut, "i", dut.clk, rnd, idle=0.5)
    await source.send(data)
    await ClockCycles(dut.clk, 12 * divisor)
    assert bytes(pins.buffer) == data, f"line carried {bytes(pins.buffer).hex()}, sent {data.hex()}"
    assert pins.errors == 0
    pins.buffer.clear()
    pins.starts.clear()
    burst = bytes(range(1, 9))
    await StreamSource(dut, "i", dut.clk, rnd).send(burst)
    await ClockCycles(dut.clk, 12 * divisor)
    assert bytes(pins.buffer) == burst
    gaps = {(b - a) // CLOCK_PS for a, b in zip(pins.starts, pins.starts[1:], strict=False)}
    assert gaps == {10 * divisor + 1}, f"start bits {gaps} cycles apart, want {10 * divisor + 1}"
