"""Stream drivers and monitors for cocotb testbenches of Amaranth ``lib.stream`` ports.

Amaranth names a port's signals by signature path joined with ``__``: a stream port ``i`` has
``i__valid``, ``i__ready`` and ``i__payload``. A transfer happens on a rising clock edge where
``valid`` and ``ready`` were both high just before the edge; drivers and monitors sample in the
``ReadOnly`` phase before the edge, so they never miss or duplicate a transfer.
"""

from __future__ import annotations

import os
import random
from collections.abc import Iterable
from typing import Any

from cocotb.clock import Clock
from cocotb.triggers import ReadOnly, RisingEdge

__all__ = ["StreamSink", "StreamSource", "start", "stimulus_random"]


def stimulus_random(log: Any) -> random.Random:
    """The testbench's random source; its seed is logged and read from ``MODSNN_SEED``."""
    seed = int(os.environ.get("MODSNN_SEED", "0")) or random.randrange(1, 2**31)
    log.info(f"stimulus seed {seed} (set MODSNN_SEED={seed} to reproduce)")
    return random.Random(seed)


async def start(dut: Any, inputs: Iterable[str]) -> None:
    """Start a 100 MHz clock on ``clk``, drive every input in ``inputs`` to 0 (Icarus starts
    undriven inputs at X, Verilator at 0) and hold ``rst`` for two cycles."""
    Clock(dut.clk, 10, unit="ns").start()  # cocotb 2: start() schedules the clock's own task
    dut.rst.value = 1
    for name in inputs:
        getattr(dut, name).value = 0
    await RisingEdge(dut.clk)
    await RisingEdge(dut.clk)
    dut.rst.value = 0


class _StreamPort:
    """The ``valid``/``ready``/``payload`` handles of stream port ``name`` of ``dut``."""

    def __init__(self, dut: Any, name: str, clk: Any, rnd: random.Random) -> None:
        self.valid = getattr(dut, f"{name}__valid")
        self.ready = getattr(dut, f"{name}__ready")
        self.payload = getattr(dut, f"{name}__payload")
        self.clk, self.rnd = clk, rnd


class StreamSource(_StreamPort):
    """Drives ``<name>__valid``/``__payload`` with random idle cycles between items."""

    def __init__(self, dut: Any, name: str, clk: Any, rnd: random.Random, idle: float = 0.0) -> None:
        super().__init__(dut, name, clk, rnd)
        self.idle = idle
        self.valid.value = 0

    async def send(self, items: Iterable[int]) -> None:
        for item in items:
            while self.rnd.random() < self.idle:
                self.valid.value = 0
                await RisingEdge(self.clk)
            self.valid.value = 1
            self.payload.value = item
            while True:
                await ReadOnly()
                accepted = bool(self.ready.value)
                await RisingEdge(self.clk)
                if accepted:
                    break
        self.valid.value = 0


class StreamSink(_StreamPort):
    """Holds ``<name>__ready`` low with probability ``backpressure``; collects payloads in order."""

    def __init__(self, dut: Any, name: str, clk: Any, rnd: random.Random, backpressure: float = 0.0) -> None:
        super().__init__(dut, name, clk, rnd)
        self.backpressure = backpressure
        self.items: list[int] = []
        self.ready.value = 0

    async def run(self, count: int | None = None) -> list[int]:
        """Collect until ``count`` items arrived (forever when ``None``, for background use)."""
        while count is None or len(self.items) < count:
            ready = self.rnd.random() >= self.backpressure
            self.ready.value = int(ready)
            await ReadOnly()
            if ready and self.valid.value:
                self.items.append(int(self.payload.value))
            await RisingEdge(self.clk)
        self.ready.value = 0
        return self.items
