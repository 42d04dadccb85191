"""cocotb testbench of the COBS encoder and decoder (:class:`~modsnn.sim.link_harness.CobsHarness`)
against the PyPI ``cobs`` package and the decoder's reference model
(:func:`~modsnn.sim.link.reference_frames`), under random idle and back-pressure.

Parameters in the environment: ``MODSNN_TB_SAMPLES`` (frames), ``MODSNN_TB_IDLE``,
``MODSNN_TB_BACKPRESSURE`` (probabilities), ``MODSNN_SEED``.
"""

from __future__ import annotations

import os
import random

import cocotb
from cobs import cobs
from cocotb.triggers import ClockCycles

from modsnn.hw.link.framing import FRAME_TOKEN
from modsnn.sim.link import reference_frames
from modsnn.sim.streams import StreamSink, StreamSource, start, stimulus_random

INPUTS = ("enc_i__valid", "enc_i__payload", "enc_o__ready", "dec_i__valid", "dec_i__payload", "dec_o__ready")


def params() -> tuple[int, float, float]:
    return (int(os.environ.get("MODSNN_TB_SAMPLES", "40")), float(os.environ.get("MODSNN_TB_IDLE", "0.3")),
            float(os.environ.get("MODSNN_TB_BACKPRESSURE", "0.3")))


def random_body(rnd: random.Random) -> bytes:
    """Bodies that exercise every COBS case: empty, zeros, runs of 253/254/255+ non-zero bytes."""
    kind = rnd.randrange(6)
    if kind == 0:
        return bytes(rnd.choice([0, 0, 1, 255]) for _ in range(rnd.randrange(6)))
    if kind == 1:
        run = rnd.choice([253, 254, 255, 508, 509])
        return bytes(rnd.randrange(1, 256) for _ in range(run)) + bytes(rnd.choice([[], [0], [0, 0]]))
    if kind == 2:
        return bytes([0]) * rnd.randrange(1, 4) + bytes(rnd.randrange(1, 256) for _ in range(254))
    return bytes(rnd.choice([0, rnd.randrange(1, 256), rnd.randrange(1, 256)]) for _ in range(rnd.randrange(1, 300)))


def first_difference(got: bytes | list[int], want: bytes | list[int]) -> int:
    return next((i for i, (a, b) in enumerate(zip(got, want, strict=False)) if a != b), min(len(got), len(want)))


def token(data: int = 0, end: bool = False) -> int:
    return int(FRAME_TOKEN.const({"data": data, "end": int(end)}).as_bits())


@cocotb.test()
async def encoder_matches_cobs(dut) -> None:
    count, idle, backpressure = params()
    await start(dut, INPUTS)
    rnd = stimulus_random(dut._log)
    bodies = [random_body(rnd) for _ in range(count)]
    want = b"".join(cobs.encode(b) + b"\x00" for b in bodies)
    sink = StreamSink(dut, "enc_o", dut.clk, rnd, backpressure=backpressure)
    cocotb.start_soon(sink.run())
    source = StreamSource(dut, "enc_i", dut.clk, rnd, idle=idle)
    await source.send(t for body in bodies for t in [*(token(b) for b in body), token(end=True)])
    for _ in range(len(want) * 4 + 100):
        if len(sink.items) >= len(want):
            break
        await ClockCycles(dut.clk, 1)
    got = bytes(sink.items)
    assert got == want, f"first difference at byte {first_difference(got, want)} of {len(want)}"


@cocotb.test()
async def decoder_matches_reference(dut) -> None:
    """Well-formed frames decode as ``cobs.decode``; truncated frames, stray code bytes, empty frames
    and bytes with the UART error flag end in an end token with ``error`` set, and the next frame
    decodes cleanly."""
    count, idle, backpressure = params()
    await start(dut, INPUTS)
    rnd = stimulus_random(dut._log)
    wire = bytearray()
    flagged: set[int] = set()
    for _ in range(count):
        encoded = cobs.encode(random_body(rnd))
        kind = rnd.randrange(5)
        if kind == 1:                                  # truncated
            encoded = encoded[:rnd.randrange(len(encoded) + 1)]
        elif kind == 2:                                # random bytes
            encoded = bytes(rnd.randrange(1, 256) for _ in range(rnd.randrange(8)))
        elif kind == 3 and encoded:                    # a UART error on one byte
            flagged.add(len(wire) + rnd.randrange(len(encoded)))
        wire += encoded + b"\x00" * rnd.choice([1, 1, 2])
    want = []
    start_at = 0
    for chunk in bytes(wire).split(b"\x00")[:-1]:
        end_at = start_at + len(chunk)
        data, damaged = reference_frames(chunk + b"\x00")[0] if reference_frames(chunk + b"\x00") else (b"", False)
        uart = any(start_at <= i <= end_at for i in flagged)
        want += [token(b) for b in data] + [token(end=True) | ((damaged or uart) << 9)]
        start_at = end_at + 1
    sink = StreamSink(dut, "dec_o", dut.clk, rnd, backpressure=backpressure)
    cocotb.start_soon(sink.run())
    source = StreamSource(dut, "dec_i", dut.clk, rnd, idle=idle)
    await source.send(b | (256 if i in flagged else 0) for i, b in enumerate(wire))
    await ClockCycles(dut.clk, 50)
    got = sink.items
    assert got == want, f"{len(got)} tokens, want {len(want)}; first difference at {first_difference(got, want)}"
