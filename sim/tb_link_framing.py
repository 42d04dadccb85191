"""cocotb testbench of the framing blocks (:class:`~modsnn.sim.link_harness.FramingHarness`), under
random idle and back-pressure.

* The SLIP encoder's output is the PyPI ``sliplib`` package's ``encode`` followed by END (0xC0 and
  0xDB data bytes escaped); the decoder's tokens are the reference model's
  (:func:`~modsnn.sim.link.reference_frames`, itself checked against ``sliplib.decode``), damaged
  frames (bad escapes, an escape open at END, UART error flags) included.
* The appender passes every frame with its CRC-16 (PyPI ``crc``) appended, MSB first.
* The receiver takes frames — good, bad CRC, short, oversize, flagged — and hands them over in
  order with the verdict of :func:`~modsnn.hw.link.protocol.check_request` steps 1–4 and the stored
  bytes; it stalls while all ``slots`` buffers wait, and drops clean empty frames.

Parameters: ``MODSNN_TB_SAMPLES`` (frames), ``MODSNN_TB_IDLE``, ``MODSNN_TB_BACKPRESSURE``,
``MODSNN_TB_SLOTS``, ``MODSNN_SEED``.
"""

from __future__ import annotations

import os
import random
from typing import Any

import cocotb
import sliplib
from cocotb.triggers import ClockCycles, FallingEdge, RisingEdge

from modsnn.hw.link.framing import FRAME_TOKEN
from modsnn.hw.link.protocol import SLIP_END, SLIP_ESC, SLIP_ESC_END, SLIP_ESC_ESC, Status, crc16
from modsnn.sim.link import reference_frames
from modsnn.sim.streams import StreamSink, StreamSource, start, stimulus_random

INPUTS = ("enc_i__valid", "enc_i__payload", "enc_o__ready", "dec_i__valid", "dec_i__payload", "dec_o__ready",
          "crc_i__valid", "crc_i__payload", "crc_o__ready", "rcv_i__valid", "rcv_i__payload", "frame__addr",
          "frame__done")
SLOT = 256
END = bytes([SLIP_END])
#: the bytes SLIP treats specially (END, ESC) and those that follow ESC in an escape pair
SPECIAL = (SLIP_END, SLIP_ESC, SLIP_ESC_END, SLIP_ESC_ESC)
#: bodies first in every run, so that each case is covered whatever the seed: every escape alone,
#: escapes back to back, at the start and the end, the escape pairs' second bytes unescaped
DIRECTED_BODIES = (b"", bytes([SLIP_END]), bytes([SLIP_ESC]), bytes([SLIP_END, SLIP_ESC, SLIP_ESC, SLIP_END]),
                   bytes([SLIP_ESC_END, SLIP_ESC_ESC]), bytes([SLIP_ESC, SLIP_ESC_END, SLIP_END, SLIP_ESC_ESC]),
                   b"\x00\xc0\x01\xdb\xff", bytes(range(256)))
#: wire chunks (each then closed by END) decoded first in every run, and their frames
DIRECTED_WIRE: tuple[tuple[bytes, list[tuple[bytes, bool]]], ...] = (
    (b"\x01\xdb\xdc\x02\xdb\xdd\x03", [(b"\x01\xc0\x02\xdb\x03", False)]),  # both escapes
    (b"\xdb\xdc\xdb\xdd\xdb\xdd\xdb\xdc", [(b"\xc0\xdb\xdb\xc0", False)]),  # escapes back to back
    (b"", []),                                                                # empty: a bare end token
    (b"\x01\xdb\x02\x03", [(b"\x01\xc0\x03", True)]),                          # bad escape (even byte)
    (b"\x01\xdb\x01\x03", [(b"\x01\xdb\x03", True)]),                          # bad escape (odd byte)
    (b"\x01\xdb\xdb\xdc", [(b"\x01\xdb\xdc", True)]),                          # ESC ESC: bad, then plain
    (b"\x01\x02\xdb", [(b"\x01\x02", True)]),                                  # escape open at END
    (b"\xdb", [(b"", True)]),                                                # only an open escape
    (b"\xdc\xdd\x04", [(b"\xdc\xdd\x04", False)]),                              # ESC_END/ESC_ESC alone: data
)


def token(data: int = 0, end: bool = False, error: bool = False) -> int:
    return int(FRAME_TOKEN.const({"data": data, "end": int(end), "error": int(error)}).as_bits())


def params() -> tuple[int, float, float]:
    return (int(os.environ.get("MODSNN_TB_SAMPLES", "40")), float(os.environ.get("MODSNN_TB_IDLE", "0.3")),
            float(os.environ.get("MODSNN_TB_BACKPRESSURE", "0.3")))


def random_body(rnd: random.Random) -> bytes:
    """Bodies that exercise every SLIP case: empty, made of END/ESC/ESC_END/ESC_ESC only, runs of
    escaped bytes, escapes at the start and the end, and long random bodies."""
    kind = rnd.randrange(6)
    if kind == 0:
        return bytes(rnd.choice([*SPECIAL, 0, 255]) for _ in range(rnd.randrange(6)))
    if kind == 1:
        return bytes(rnd.choice(SPECIAL) for _ in range(rnd.randrange(1, 300)))
    if kind == 2:
        edge = bytes([rnd.choice([SLIP_END, SLIP_ESC])])
        return edge + bytes(rnd.randrange(256) for _ in range(rnd.randrange(254))) + edge
    return bytes(rnd.choice([rnd.choice(SPECIAL), rnd.randrange(256), rnd.randrange(256)])
                 for _ in range(rnd.randrange(1, 300)))


def first_difference(got: bytes | list[int], want: bytes | list[int]) -> int:
    return next((i for i, (a, b) in enumerate(zip(got, want, strict=False)) if a != b), min(len(got), len(want)))


@cocotb.test()
async def encoder_matches_slip(dut: Any) -> None:
    """Every frame goes out as ``sliplib.encode(body)`` followed by END, frames back to back."""
    count, idle, backpressure = params()
    await start(dut, INPUTS)
    rnd = stimulus_random(dut._log)
    bodies = [*DIRECTED_BODIES, *(random_body(rnd) for _ in range(count))]
    want = b"".join(sliplib.encode(b) + END for b in bodies)
    assert want.count(END) == len(bodies)                    # END only as the delimiter
    sink = StreamSink(dut, "enc_o", dut.clk, rnd, backpressure=backpressure)
    cocotb.start_soon(sink.run())
    source = StreamSource(dut, "enc_i", dut.clk, rnd, idle=idle)
    await source.send(t for body in bodies for t in [*(token(b) for b in body), token(end=True)])
    for _ in range(len(want) * 4 + 100):
        if len(sink.items) >= len(want):
            break
        await ClockCycles(dut.clk, 1)
    await ClockCycles(dut.clk, 20)                            # nothing more comes out
    got = bytes(sink.items)
    assert got == want, f"first difference at byte {first_difference(got, want)} of {len(want)}"
    frames = got.split(END)[:-1]
    assert [sliplib.decode(frame) for frame in frames] == bodies, "the wire does not decode to the bodies"


@cocotb.test()
async def decoder_matches_reference(dut: Any) -> None:
    """Well-formed frames decode as ``sliplib.decode``; frames with a bad escape, an escape open at
    END or a byte with the UART error flag end in an end token with ``error`` set, and the next
    frame decodes cleanly; every END gives an end token (an empty frame a bare one)."""
    count, idle, backpressure = params()
    await start(dut, INPUTS)
    rnd = stimulus_random(dut._log)
    wire = bytearray()
    flagged: set[int] = set()
    for chunk, _ in DIRECTED_WIRE:
        wire += chunk + END
    for _ in range(count):
        encoded = sliplib.encode(random_body(rnd))
        kind = rnd.randrange(7)
        if kind == 1:                                  # truncated (possibly inside an escape pair)
            encoded = encoded[:rnd.randrange(len(encoded) + 1)]
        elif kind == 2:                                # random bytes, rich in escapes
            encoded = bytes(rnd.choice([SLIP_ESC, SLIP_ESC_END, SLIP_ESC_ESC, rnd.randrange(256)])
                            for _ in range(rnd.randrange(8))).replace(END, b"")
        elif kind == 3 and encoded:                    # a UART error on one byte
            flagged.add(len(wire) + rnd.randrange(len(encoded)))
        elif kind == 4:                                # a bad escape
            at = rnd.randrange(len(encoded) + 1)
            bad = rnd.choice([SLIP_ESC, rnd.randrange(256)])
            while bad in (SLIP_END, SLIP_ESC_END, SLIP_ESC_ESC):
                bad = rnd.randrange(256)
            encoded = encoded[:at] + bytes([SLIP_ESC, bad]) + encoded[at:]
        elif kind == 5:                                # an escape open at END
            encoded += bytes([SLIP_ESC])
        wire += encoded + END * rnd.choice([1, 1, 2])
        if kind == 6:                                  # a UART error on the END itself
            flagged.add(len(wire) - 1)
    want = []
    start_at = 0
    chunks = bytes(wire).split(END)[:-1]
    for n, chunk in enumerate(chunks):
        end_at = start_at + len(chunk)
        frames = reference_frames(chunk + END)
        data, damaged = frames[0] if frames else (b"", False)
        try:                                           # the reference is sliplib where sliplib decodes
            clean: bytes | None = sliplib.decode(chunk)
        except sliplib.ProtocolError:
            clean = None
        assert (clean is None) == damaged and (clean is None or clean == data), f"reference, chunk {chunk.hex()}"
        if n < len(DIRECTED_WIRE):
            assert frames == DIRECTED_WIRE[n][1], f"reference, directed chunk {chunk.hex()}: {frames}"
        uart = any(start_at <= i <= end_at for i in flagged)
        want += [token(b) for b in data] + [token(end=True) | ((damaged or uart) << 9)]
        start_at = end_at + 1
    sink = StreamSink(dut, "dec_o", dut.clk, rnd, backpressure=backpressure)
    cocotb.start_soon(sink.run())
    source = StreamSource(dut, "dec_i", dut.clk, rnd, idle=idle)
    await source.send(b | (256 if i in flagged else 0) for i, b in enumerate(wire))
    await ClockCycles(dut.clk, 50)
    got = [t & ~0xFF if t >> 8 & 1 else t for t in sink.items]       # an end token's data is unused
    assert got == want, f"{len(got)} tokens, want {len(want)}; first difference at {first_difference(got, want)}"
    errors = sum(t >> 9 & 1 for t in want)
    dut._log.info(f"{len(chunks)} frames decoded, {errors} flagged")


@cocotb.test()
async def appender_adds_crc(dut: Any) -> None:
    count = int(os.environ.get("MODSNN_TB_SAMPLES", "40"))
    await start(dut, INPUTS)
    rnd = stimulus_random(dut._log)
    bodies = [bytes(rnd.randrange(256) for _ in range(rnd.choice([0, 1, 2, rnd.randrange(300)])))
              for _ in range(count)]
    want = [t for body in bodies for t in
            [*(token(b) for b in body + crc16(body).to_bytes(2, "big")), token(end=True)]]
    sink = StreamSink(dut, "crc_o", dut.clk, rnd, backpressure=0.3)
    cocotb.start_soon(sink.run())
    await StreamSource(dut, "crc_i", dut.clk, rnd, idle=0.3).send(
        t for body in bodies for t in [*(token(b) for b in body), token(end=True)])
    await ClockCycles(dut.clk, 20)
    assert sink.items == want


@cocotb.test()
async def receiver_checks_and_buffers(dut: Any) -> None:
    count, slots = int(os.environ.get("MODSNN_TB_SAMPLES", "40")), int(os.environ["MODSNN_TB_SLOTS"])
    await start(dut, INPUTS)
    rnd = stimulus_random(dut._log)
    tokens, want = [], []
    for _ in range(count):
        body = bytes(rnd.randrange(256) for _ in range(rnd.choice([0, 1, 2, 3, 10, 100, 253, 254])))
        frame = body + crc16(body).to_bytes(2, "big")
        kind = rnd.randrange(6)
        error = False
        if kind == 1:
            frame = bytes([frame[0] ^ 0x10]) + frame[1:]
        elif kind == 2:
            frame = frame + bytes(rnd.randrange(256) for _ in range(rnd.randrange(SLOT - len(frame) + 1, SLOT + 5)))
        elif kind == 3:
            error = True
        elif kind == 4:
            frame = b""
        tokens += [token(b) for b in frame] + [token(end=True, error=error)]
        if not frame and not error:
            continue
        status = (Status.FRAMING if error else Status.OVERSIZE if len(frame) > SLOT else
                  Status.BAD_LENGTH if len(frame) < 4 else Status.OK if crc16(frame[:-2]) ==
                  int.from_bytes(frame[-2:], "big") else Status.BAD_CRC)
        want.append((status, frame[:SLOT]))
    cocotb.start_soon(StreamSource(dut, "rcv_i", dut.clk, rnd, idle=0.2).send(tokens))
    got: list[tuple[Status, bytes]] = []
    while len(got) < len(want):
        await FallingEdge(dut.clk)
        if not int(dut.frame__valid.value):
            continue
        if rnd.random() < 0.02:                                       # let the buffers fill up
            await ClockCycles(dut.clk, rnd.randrange(500))
            continue
        length, status = int(dut.frame__length.value), Status(int(dut.frame__status.value))
        data = bytearray()
        for i in range(length):
            dut.frame__addr.value = i
            await RisingEdge(dut.clk)
            await FallingEdge(dut.clk)
            data.append(int(dut.frame__data.value))
        dut.frame__done.value = 1
        await FallingEdge(dut.clk)
        dut.frame__done.value = 0
        got.append((status, bytes(data)))
        w = want[len(got) - 1]
        assert got[-1][0] == w[0], f"frame {len(got) - 1}: status {got[-1][0].name}, want {w[0].name}"
        assert got[-1][1] == w[1], f"frame {len(got) - 1} ({w[0].name}): bytes differ"
    dut._log.info(f"{len(got)} frames ({slots} slots): " + ", ".join(
        f"{s.name} {sum(1 for g in got if g[0] == s)}" for s in Status if any(g[0] == s for g in got)))
