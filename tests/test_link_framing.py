"""Framing blocks of the host link: SLIP encoder and decoder against the PyPI ``sliplib`` package and
the reference decoder, CRC appender and frame receiver against the PyPI ``crc`` package, all under
random idle and back-pressure; the CRC of the gateware and of the host agree."""

from __future__ import annotations

import random

import pytest
from amaranth.lib.crc import catalog

from modsnn.hw.link.framing import FrameReceiver
from modsnn.hw.link.protocol import CRC_ALGORITHM, crc16
from modsnn.sim.link import reference_frames
from modsnn.sim.link_harness import FramingHarness, run_link_bench
from modsnn.sim.runner import icarus_available


@pytest.mark.parametrize("slots", [2, pytest.param(4, marks=pytest.mark.slow)])
def test_framing(slots: int) -> None:
    run_link_bench("framing", lambda: FramingHarness(256, slots), {"slots": slots},
                   env={"MODSNN_TB_SAMPLES": "40", "MODSNN_TB_SLOTS": str(slots)})


@pytest.mark.icarus
def test_framing_icarus() -> None:
    if not icarus_available():
        pytest.skip("Icarus Verilog is not installed: apt-get install iverilog")
    run_link_bench("framing", lambda: FramingHarness(256, 2), {"slots": 2}, simulator="icarus",
                   env={"MODSNN_TB_SAMPLES": "6", "MODSNN_TB_SLOTS": "2"})


def test_crc_algorithms_agree(stim_rng) -> None:  # type: ignore[no-untyped-def]
    assert CRC_ALGORITHM is catalog.CRC16_IBM_3740
    params = CRC_ALGORITHM(data_width=8)
    for n in (0, 1, 9, 100, 300):
        data = stim_rng.integers(0, 256, n).astype("uint8").tobytes()
        assert params.compute(data) == crc16(data)
    assert crc16(b"123456789") == 0x29B1                      # the catalogue's check value


def test_reference_decoder_is_sliplib() -> None:
    """The reference decoder decodes every well-formed frame as ``sliplib.decode`` and calls exactly
    the frames damaged that ``sliplib`` refuses (bad escapes, an escape open at END)."""
    import sliplib

    from modsnn.hw.link.protocol import SLIP_END, SLIP_ESC, SLIP_ESC_END, SLIP_ESC_ESC

    end = bytes([SLIP_END])
    rnd = random.Random(5)
    special = [SLIP_END, SLIP_ESC, SLIP_ESC_END, SLIP_ESC_ESC]
    for _ in range(200):
        body = bytes(rnd.choice([*special, rnd.randrange(256)]) for _ in range(rnd.randrange(1, 600)))
        encoded = sliplib.encode(body)
        assert end not in encoded
        assert reference_frames(encoded + end) == [(body, False)]
        assert reference_frames(end + encoded + end) == [(body, False)]         # a request's leading END
        garbage = bytes(rnd.choice([SLIP_ESC, SLIP_ESC_END, SLIP_ESC_ESC, rnd.randrange(256)])
                        for _ in range(rnd.randrange(1, 12))).replace(end, b"")
        frames = reference_frames(garbage + end)
        if sliplib.is_valid(garbage):
            assert frames == ([(sliplib.decode(garbage), False)] if garbage else [])
        else:
            assert len(frames) == 1 and frames[0][1], garbage.hex()
    two = sliplib.encode(b"\xc0\x01") + end + sliplib.encode(b"\xdb\x02") + end   # back to back
    assert reference_frames(two) == [(b"\xc0\x01", False), (b"\xdb\x02", False)]
    assert reference_frames(b"\xdb\xdc\xdb\xdd\xc0") == [(b"\xc0\xdb", False)]  # both escapes
    assert reference_frames(b"\xc0\xc0\xc0") == []                          # empty frames are ignored
    assert reference_frames(b"\x01\xdb\x02\xc0") == [(b"\x01\xc0", True)]    # a bad escape
    assert reference_frames(b"\x01\xdb\xdb\xdc\xc0") == [(b"\x01\xdb\xdc", True)]
    assert reference_frames(b"\x01\x02\xdb\xc0") == [(b"\x01\x02", True)]    # an escape open at END
    assert reference_frames(b"\xdb\xc0") == [(b"", True)]
    assert reference_frames(b"\x01\x02") == []                              # no END yet: in flight


@pytest.mark.parametrize(("args", "message"), [
    ((100, 2), "slot_bytes must be a power of two ≥ 16, not 100"),
    ((8, 2), "slot_bytes must be a power of two ≥ 16, not 8"),
    ((256, 3), "slots must be a power of two ≥ 2, not 3"),
    ((256, 1), "slots must be a power of two ≥ 2, not 1"),
])
def test_receiver_parameters(args: tuple[int, int], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        FrameReceiver(*args)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_stream_register_keeps_every_token_in_order(seed: int) -> None:
    """The skid buffer under random valid and ready: every token once, in order; with ``o.ready``
    always high it passes one token per cycle; ``i.ready`` depends on registers only."""
    from amaranth.sim import Simulator

    from modsnn.hw.link.framing import StreamRegister

    dut = StreamRegister()
    rng = random.Random(seed)
    sent: list[int] = []
    received: list[int] = []
    full_rate = 0

    async def testbench(ctx) -> None:  # type: ignore[no-untyped-def]
        nonlocal full_rate
        token = 0
        for cycle in range(2000):
            busy_phase = cycle < 1500
            offer = rng.random() < 0.7 if busy_phase else True
            ctx.set(dut.o.ready, rng.random() < 0.6 if busy_phase else True)
            ctx.set(dut.i.valid, offer)
            ctx.set(dut.i.payload.data, token & 0xFF)
            ctx.set(dut.i.payload.end, (token >> 8) & 1)
            if offer and ctx.get(dut.i.ready):
                sent.append(token & 0x1FF)
                token += 1
            if ctx.get(dut.o.valid) and ctx.get(dut.o.ready):
                received.append(ctx.get(dut.o.payload.data) | ctx.get(dut.o.payload.end) << 8)
                full_rate += not busy_phase
            await ctx.tick()

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(testbench)
    sim.run()
    assert received == sent[:len(received)] and len(sent) - len(received) <= 2
    assert full_rate >= 495                       # the last 500 cycles: one token per cycle
