"""cocotb host driver of :class:`modsnn.hw.top.Accelerator`: the control port as Python calls.

Every access is set up on the falling clock edge (inputs settle before the rising edge that
samples them). Reads are pipelined: ``read_many`` issues one read per cycle and collects each
answer :data:`~modsnn.hw.control_port.BUS_READ_LATENCY` cycles later. Weight images follow
:mod:`modsnn.hw.memory_map`, so loading a golden :class:`~modsnn.golden_model.network.Network`
and reading the RTL's weights back compare dense matrices with exact equality.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np
from cocotb.triggers import ClockCycles, FallingEdge, ReadOnly, RisingEdge, SimTimeoutError, with_timeout

from ..golden_model.config import Config
from ..golden_model.cycles import PhaseCycles
from ..golden_model.network import Network
from ..hw.control_port import BUS_READ_LATENCY, Command, Csr
from ..hw.formats import Population, Region, formats_for
from ..hw.memory_map import WEIGHT_REGIONS, dense_from_images, image_shapes, mmio_address, weight_images
from ..hw.params import hw_params

__all__ = ["SimAccelerator", "SpikeMonitor", "StateMonitor"]


class SimAccelerator:
    """Drives the ``bus`` port of an ``Accelerator`` DUT (clock already running, reset done)."""

    def __init__(self, dut: Any, cfg: Config) -> None:
        self.dut, self.cfg = dut, cfg
        self.fmt = formats_for(cfg)
        dut.bus__we.value = 0
        dut.bus__re.value = 0

    def address(self, region: Region, offset: int, bank: int = 0, layer: int = 0) -> int:
        return mmio_address(self.cfg, region, offset, bank, layer)

    async def write_many(self, items: Sequence[tuple[int, int]]) -> None:
        """Write ``(address, value)`` pairs on consecutive cycles."""
        dut = self.dut
        for address, value in items:
            await FallingEdge(dut.clk)
            dut.bus__addr.value = address
            dut.bus__wdata.value = value & 0xFFFF_FFFF
            dut.bus__we.value = 1
        await FallingEdge(dut.clk)
        dut.bus__we.value = 0

    async def read_many(self, addresses: Sequence[int], signed: bool = False) -> list[int]:
        """Read ``addresses`` with one read per cycle (answers in order). Checks that ``rdata`` holds
        the last answer for two more cycles while the address moves on (the control port's contract)."""
        dut = self.dut
        values: list[int] = []
        raw = 0
        for cycle in range(len(addresses) + BUS_READ_LATENCY + 2):
            await FallingEdge(dut.clk)
            if cycle >= BUS_READ_LATENCY + len(addresses):
                assert int(dut.bus__rdata.value) == raw, "rdata did not hold the last answer"
            elif cycle >= BUS_READ_LATENCY:
                raw = int(dut.bus__rdata.value)
                values.append(raw - (1 << 32) if signed and raw >= 1 << 31 else raw)
            if cycle < len(addresses):
                dut.bus__addr.value = addresses[cycle]
                dut.bus__re.value = 1
            else:
                dut.bus__addr.value = 0
                dut.bus__re.value = 0
        return values

    async def write(self, region: Region, offset: int, value: int, bank: int = 0, layer: int = 0) -> None:
        await self.write_many([(self.address(region, offset, bank, layer), value)])

    async def read(self, region: Region, offset: int, bank: int = 0, layer: int = 0, signed: bool = False) -> int:
        return (await self.read_many([self.address(region, offset, bank, layer)], signed))[0]

    # ------------------------------------------------------------------ weights and state
    async def load_weights(self, net: Network) -> None:
        items = [(self.address(WEIGHT_REGIONS[matrix], word, bank, layer), int(value))
                 for (matrix, layer), image in weight_images(self.cfg, net.ff, net.rec, net.out).items()
                 for word, row in enumerate(image) for bank, value in enumerate(row)]
        await self.write_many(items)

    async def read_weights(self) -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]]:
        images = {}
        for (matrix, layer), (words, banks) in image_shapes(self.cfg).items():
            addresses = [self.address(WEIGHT_REGIONS[matrix], word, bank, layer) for word in range(words)
                         for bank in range(banks)]
            values = await self.read_many(addresses, signed=True)
            images[(matrix, layer)] = np.array(values, np.int64).reshape(words, banks)
        return dense_from_images(self.cfg, images)

    async def read_state(self, layer: int = 0) -> dict[str, list[int]]:
        """Membrane, trace, ``H`` and ``X`` of every neuron of hidden layer ``layer``."""
        n = self.cfg.hidden[layer]
        values = await self.read_many([self.address(Region.STATE, 4 * i + f, layer=layer)
                                       for i in range(n) for f in range(4)])
        state = {name: values[f::4] for f, name in enumerate(("v", "x", "H", "X"))}
        state["v"] = [v - (1 << 32) if v >= 1 << 31 else v for v in state["v"]]
        return state

    async def read_readout_membranes(self) -> list[int]:
        return await self.read_many([self.address(Region.READOUT, k) for k in range(self.cfg.n_readout)], signed=True)

    # ------------------------------------------------------------------ samples
    async def load_sample(self, u: np.ndarray) -> None:
        await self.write_many([(self.address(Region.INPUT, j), int(v)) for j, v in enumerate(np.asarray(u).ravel())])

    async def run(self, command: Command, label: int = 0, lr_extra: int = 0, timeout_us: int = 1_000_000) -> int:
        """Run one sample (``INFER`` or ``TRAIN`` with ``label``); returns the prediction."""
        if command == Command.TRAIN:
            await self.write_many([(self.address(Region.CSR, Csr.LABEL), label),
                                   (self.address(Region.CSR, Csr.LR_EXTRA), lr_extra)])
        await self.write(Region.CSR, Csr.COMMAND, int(command))
        await self.wait_idle(timeout_us)
        return await self.read(Region.CSR, Csr.PREDICTION)

    async def wait_idle(self, timeout_us: int = 1_000_000) -> None:
        """After a command: wait until the sample it started is done; a sample still running after
        ``timeout_us`` of simulated time is a failed check (``AssertionError``: the gateware hangs)."""
        await ClockCycles(self.dut.clk, 3)                 # the command reaches the sequencer
        try:
            await with_timeout(self._until_idle(), timeout_us, "us")
        except SimTimeoutError:
            raise AssertionError(f"the sample did not finish within {timeout_us} µs of simulated time "
                                 f"(the accelerator hangs)") from None

    async def _until_idle(self) -> None:
        """Wait for ``busy`` to be low at a clock edge (event-driven simulators may show a zero-time
        glitch on a combinational output, so an edge alone is not trusted)."""
        dut = self.dut
        await FallingEdge(dut.clk)
        while int(dut.busy.value):
            await FallingEdge(dut.busy)
            await FallingEdge(dut.clk)

    async def cycles(self) -> PhaseCycles:
        values = await self.read_many([self.address(Region.CSR, reg) for reg in
                                       (Csr.CYCLES_INTEGRATION, Csr.CYCLES_SWEEP, Csr.CYCLES_DECIDE,
                                        Csr.CYCLES_PLASTICITY)])
        return PhaseCycles(values[0], values[1] + values[2], values[3])

    async def counts(self) -> list[int]:
        return await self.read_many([self.address(Region.CSR, Csr.COUNT + c) for c in range(self.cfg.n_classes)])

    async def levels(self) -> list[int]:
        return await self.read_many([self.address(Region.CSR, Csr.LEVEL + c) for c in range(self.cfg.n_classes)],
                                    signed=True)


async def _next_valid_cycle(dut: Any, valid: Any) -> None:
    """Return in the read-only phase of the next clock cycle in which ``valid`` is high, without
    waking Python on the cycles in between (it waits for ``valid`` to rise)."""
    await RisingEdge(dut.clk)
    await ReadOnly()
    while not int(valid.value):
        await RisingEdge(valid)
        await ReadOnly()


@dataclasses.dataclass
class SpikeMonitor:
    """Collects ``(step, population, layer, neuron)`` of every hidden and readout spike on ``mon``."""

    dut: Any
    cfg: Config
    events: list[tuple[int, int, int, int]] = dataclasses.field(default_factory=list)

    async def run(self) -> None:
        layout = formats_for(self.cfg).spike_event
        dut = self.dut
        while True:
            await _next_valid_cycle(dut, dut.mon__valid)
            event = layout.from_bits(int(dut.mon__event.value))
            self.events.append((int(dut.mon__step.value), Population(event.pop).value, int(event.layer),
                                int(event.addr)))


@dataclasses.dataclass
class StateMonitor:
    """Collects the state every sweep wrote, per ``(step, population)``: arrays of ``v``, ``x``, ``H``,
    ``X`` over the population's neurons (``population`` = layer, or ``D`` for the readout)."""

    dut: Any
    cfg: Config
    words: dict[tuple[int, int], dict[int, list[dict[str, int]]]] = dataclasses.field(default_factory=dict)

    async def run(self) -> None:
        fmt = formats_for(self.cfg)
        banks = hw_params(self.cfg).banks
        dut = self.dut
        width = fmt.state_word.size
        while True:
            await _next_valid_cycle(dut, dut.smon__valid)
            bits = int(dut.smon__state.value)
            lanes = []
            for b in range(banks):
                view = fmt.state_word.from_bits((bits >> (b * width)) & ((1 << width) - 1))
                lanes.append({"v": int(view.v), "x": int(view.x), "H": int(view.h), "X": int(view.xs)})
            key = (int(dut.smon__step.value), int(dut.smon__pop.value))
            self.words.setdefault(key, {})[int(dut.smon__a.value)] = lanes

    def state(self, step: int, population: int, n: int) -> dict[str, list[int]]:
        """The state of neurons ``0 … n−1`` of ``population`` written at ``step``."""
        banks = hw_params(self.cfg).banks
        rows = self.words.get((step, population), {})
        out: dict[str, list[int]] = {"v": [], "x": [], "H": [], "X": []}
        for i in range(n):
            lane = rows.get(i // banks, [{}] * banks)[i % banks]
            for name in out:
                out[name].append(lane.get(name, -1 << 40))
        return out
