"""cocotb host driver of :class:`modsnn.hw.top.Accelerator`: the control port as Python calls.

Every access happens on the falling clock edge (inputs settle before the rising edge that
samples them); a read returns ``rdata`` one cycle after ``re``. Weight images follow
:mod:`modsnn.hw.memory_map`, so loading a golden :class:`~modsnn.golden_model.network.Network`
and reading the RTL's weights back compare dense matrices with exact equality.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
from cocotb.triggers import FallingEdge, ReadOnly, RisingEdge, with_timeout

from ..golden_model.config import Config
from ..golden_model.cycles import PhaseCycles
from ..golden_model.network import Network
from ..hw.formats import Population, Region, formats_for
from ..hw.memory_map import WEIGHT_REGIONS, dense_from_images, dense_shapes, mmio_address, weight_images
from ..hw.top import Command, Csr

__all__ = ["SimAccelerator", "SpikeMonitor"]

_REGION = WEIGHT_REGIONS


class SimAccelerator:
    """Drives the ``bus`` port of an ``Accelerator`` DUT (clock already running, reset done)."""

    def __init__(self, dut: Any, cfg: Config) -> None:
        self.dut, self.cfg = dut, cfg
        self.fmt = formats_for(cfg)
        dut.bus__we.value = 0
        dut.bus__re.value = 0

    def _addr(self, region: Region, offset: int, lane: int = 0) -> int:
        return mmio_address(self.cfg, region, offset, lane)

    async def write(self, region: Region, offset: int, value: int, lane: int = 0) -> None:
        dut = self.dut
        await FallingEdge(dut.clk)
        dut.bus__addr.value = self._addr(region, offset, lane)
        dut.bus__wdata.value = value & 0xFFFF_FFFF
        dut.bus__we.value = 1
        await FallingEdge(dut.clk)
        dut.bus__we.value = 0

    async def read(self, region: Region, offset: int, lane: int = 0, signed: bool = False) -> int:
        dut = self.dut
        await FallingEdge(dut.clk)
        dut.bus__addr.value = self._addr(region, offset, lane)
        dut.bus__re.value = 1
        await FallingEdge(dut.clk)
        dut.bus__re.value = 0
        value = int(dut.bus__rdata.value)
        return value - (1 << 32) if signed and value >= 1 << 31 else value

    # ------------------------------------------------------------------ weights and state
    async def load_weights(self, net: Network) -> None:
        images = weight_images(self.cfg, net.ff[0], net.rec[0], net.out[0])
        for matrix, image in images.items():
            for word, row in enumerate(image):
                for lane, value in enumerate(row):
                    await self.write(_REGION[matrix], word, int(value), lane)

    async def read_weights(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        shapes = weight_images(self.cfg, *(np.zeros(s, np.int64) for s in self._dense_shapes()))
        images = {}
        for matrix, shape_image in shapes.items():
            image = np.zeros_like(shape_image)
            for word in range(image.shape[0]):
                for lane in range(image.shape[1]):
                    image[word, lane] = await self.read(_REGION[matrix], word, lane, signed=True)
            images[matrix] = image
        return dense_from_images(self.cfg, images)

    def _dense_shapes(self) -> list[tuple[int, int]]:
        return dense_shapes(self.cfg)

    async def read_state(self) -> dict[str, list[int]]:
        names = ("v", "x", "H", "X")
        state: dict[str, list[int]] = {k: [] for k in names}
        for i in range(self.cfg.hidden[0]):
            for f, name in enumerate(names):
                state[name].append(await self.read(Region.STATE, 4 * i + f, signed=name == "v"))
        return state

    # ------------------------------------------------------------------ samples
    async def load_sample(self, u: np.ndarray) -> None:
        for j, value in enumerate(np.asarray(u).reshape(-1)):
            await self.write(Region.INPUT, j, int(value))

    async def run(self, command: Command, label: int = 0, lr_extra: int = 0, timeout_us: int = 1_000_000) -> int:
        """Run one sample (``INFER`` or ``TRAIN`` with ``label``); returns the prediction."""
        if command == Command.TRAIN:
            await self.write(Region.CSR, Csr.LABEL, label)
            await self.write(Region.CSR, Csr.LR_EXTRA, lr_extra)
        await self.write(Region.CSR, Csr.COMMAND, int(command))
        await with_timeout(self._until_idle(), timeout_us, "us")
        return await self.read(Region.CSR, Csr.PREDICTION)

    async def _until_idle(self) -> None:
        """Wait for ``busy`` to fall and stay low at a clock edge (event-driven simulators may
        show a zero-time glitch on a combinational output, so an edge alone is not trusted)."""
        dut = self.dut
        while int(dut.busy.value):
            await FallingEdge(dut.busy)
            await FallingEdge(dut.clk)

    async def cycles(self) -> PhaseCycles:
        values = [await self.read(Region.CSR, reg) for reg in (Csr.CYCLES_INTEGRATION, Csr.CYCLES_SWEEP,
                                                                Csr.CYCLES_DECIDE, Csr.CYCLES_PLASTICITY)]
        return PhaseCycles(values[0], values[1] + values[2], values[3])

    async def counts(self) -> list[int]:
        return [await self.read(Region.CSR, Csr.COUNT + c) for c in range(self.cfg.n_classes)]

    async def levels(self) -> list[int]:
        return [await self.read(Region.CSR, Csr.LEVEL + c, signed=True) for c in range(self.cfg.n_classes)]


@dataclasses.dataclass
class SpikeMonitor:
    """Collects ``(step, population, neuron)`` of every spike on the ``mon`` port."""

    dut: Any
    cfg: Config
    events: list[tuple[int, int, int]] = dataclasses.field(default_factory=list)

    async def run(self) -> None:
        layout = formats_for(self.cfg).address_event
        dut = self.dut
        while True:
            await RisingEdge(dut.clk)
            await ReadOnly()
            if int(dut.mon__valid.value):
                event = layout.from_bits(int(dut.mon__event.value))
                self.events.append((int(dut.mon__step.value), Population(event.pop).value, int(event.addr)))
