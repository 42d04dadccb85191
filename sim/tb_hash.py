"""cocotb testbench: :class:`modsnn.hw.hash.Hash32` against the golden model's generator."""

from __future__ import annotations

from typing import Any

import cocotb

from modsnn.golden_model.rng import hash32_int
from modsnn.sim.streams import StreamSink, StreamSource, start, stimulus_random

KNOWN = [0, 1, 2, 0xDEADBEEF, 0xFFFFFFFF, 12345, 0x80000000]


@cocotb.test()
async def hash_matches_golden_under_backpressure(dut: Any) -> None:
    await start(dut, ("i__valid", "i__payload", "o__ready"))
    rnd = stimulus_random(dut._log)
    for idle, backpressure in ((0.0, 0.0), (0.5, 0.5), (0.2, 0.8)):
        words = KNOWN + [rnd.getrandbits(32) for _ in range(300)]
        source = StreamSource(dut, "i", dut.clk, rnd, idle)
        sink = StreamSink(dut, "o", dut.clk, rnd, backpressure)
        done = cocotb.start_soon(sink.run(len(words)))
        await source.send(words)
        got = await done
        assert got == [hash32_int(w) for w in words], f"idle {idle} back-pressure {backpressure}"
