"""Does a configuration fit a board? Decided from the RTL's memory inventory, before any tool runs.

:func:`~modsnn.hw.inventory.memory_inventory` lists every memory the accelerator RTL of a
configuration instantiates (:class:`~modsnn.hw.inventory.MemoryUse`: name, depth, width, copies,
role, read kind, single port); ``tests/test_boards.py`` checks it against the memories of the
elaborated :class:`~modsnn.hw.top.Accelerator`.

A memory is implemented by the device as (rules of Yosys' ``memory_libmap`` for these devices,
checked against synthesis logs in ``tests/test_boards.py`` and ``docs/boards.md``):

* ``copies`` = one per read port (block RAMs have one read and one write port in the simple
  dual-port mode used here);
* a memory with a combinational read port (``read="async"``), or smaller than the device's
  ``logic_threshold_bits``, goes to logic (LUT RAM on ECP5, flip-flops on iCE40), not block RAM;
* a single-port weight memory (``weight_ports = 1``) goes to SPRAM on a device that has it:
  ``ceil(depth/16384)·ceil(width/16)`` blocks (the host loads the weights; SPRAM has no initial
  contents, and the weights never need any);
* otherwise the cheapest of logic, LUT RAM (ECP5) and block RAM under Yosys' cost model
  (:func:`placement`); a block-RAM copy takes ``min over geometries (d, w) of
  ceil(depth/d)·ceil(width/w)`` blocks.

:func:`check_fit` totals these per resource and raises :class:`FitError` naming the resource and
both numbers, e.g. ``ulx3s-85f: configuration 'fashion' (lanes=16) needs 236 DP16KD block RAMs,
LFE5U-85F has 208 (largest: …)``.
"""

from __future__ import annotations

import dataclasses
import math

from ..golden_model.config import Config
from ..hw.inventory import MemoryUse, memory_inventory
from .devices import Device
from .registry import Board

__all__ = ["FitError", "FitReport", "MemoryUse", "blocks_for", "check_fit", "fit_report", "memory_inventory"]


class FitError(ValueError):
    """A configuration that does not fit a board; the message names the resource and both numbers."""


def blocks_for(depth: int, width: int, geometries: tuple[tuple[int, int], ...]) -> int:
    """Blocks of the cheapest geometry holding ``depth × width`` (one copy)."""
    return min(math.ceil(depth / d) * math.ceil(width / w) for d, w in geometries)


# Yosys memory_libmap costs: logic per bit (RAM 1, ROM 1/16), one block RAM (iCE40 64, ECP5 128),
# one ECP5 16×4 LUT RAM (4, asynchronous read, plus a flip-flop (1) per output bit of a synchronous
# read port); the cheapest implementation wins. Ties (observed in synthesis logs): logic before
# block RAM on iCE40, block RAM before LUT RAM on ECP5.
BRAM_COST = {"ice40": 64, "ecp5": 128}
LUTRAM_COST, LUTRAM_SHAPE = 4, (16, 4)


def placement(mem: MemoryUse, device: Device, spram_weights: bool) -> tuple[str, int]:
    """``(where, blocks)`` for ``mem``: ``removed``, ``spram``, ``bram``, ``lutram`` or ``logic``.

    ``spram_weights`` is the iCEBreaker layout: the weights and the routing words (the two
    per-synapse tables) in SPRAM, the routing words loaded by the host at start like the weights
    (SPRAM cannot be initialised by the bitstream); neuron state and pointers in block RAM.
    """
    if mem.copies == 0:
        return "removed", 0
    if spram_weights and mem.single_port:
        d, w = device.spram_geometry
        return "spram", math.ceil(mem.depth / d) * math.ceil(mem.width / w) * mem.copies
    if mem.block:                                              # ram_style = "block"
        return "bram", blocks_for(mem.depth, mem.width, device.bram_geometries) * mem.copies
    logic = (mem.depth * mem.width * (1 / 16 if mem.role == "rom" else 1), "logic", 0)
    options: list[tuple[float, str, int]] = [] if device.family == "ecp5" else [logic]
    if mem.read == "sync":
        blocks = blocks_for(mem.depth, mem.width, device.bram_geometries) * mem.copies
        options.append((blocks * BRAM_COST[device.family], "bram", blocks))
    if device.family == "ecp5":
        cells = math.ceil(mem.depth / LUTRAM_SHAPE[0]) * math.ceil(mem.width / LUTRAM_SHAPE[1]) * mem.copies
        output_ffs = mem.width * mem.copies if mem.read == "sync" else 0
        options += [(cells * LUTRAM_COST + output_ffs, "lutram", 0), logic]
        if mem.distributed_on_ecp5:                            # ram_style = "distributed"
            return "lutram", 0
    _, where, blocks = min(options, key=lambda o: o[0])          # the first of equals wins
    return where, blocks


@dataclasses.dataclass
class FitReport:
    """Per-memory placement and totals of one configuration on one board."""

    board: str
    device: str
    rows: list[tuple[MemoryUse, str, int]]       # (memory, where (see placement), blocks incl. copies)
    bram: int
    spram: int
    logic_bits: int

    def as_dict(self) -> dict[str, object]:
        return {"board": self.board, "device": self.device, "bram": self.bram, "spram": self.spram,
                "logic_bits": self.logic_bits,
                "memories": [{"name": m.name, "depth": m.depth, "width": m.width, "copies": m.copies,
                              "role": m.role, "placed": where, "blocks": blocks} for m, where, blocks in self.rows]}


def fit_report(cfg: Config, board: Board, spram_weights: bool | None = None) -> FitReport:
    """Where each memory of ``cfg`` goes on ``board`` and how many blocks it takes.

    ``spram_weights`` places the single-port weight memories (``weight_ports = 1``) in SPRAM on a
    device that has it; the default is what the RTL does: yes.
    """
    dev: Device = board.device
    spram = (True if spram_weights is None else spram_weights) and dev.spram > 0
    rows = [(mem, *placement(mem, dev, spram_weights=spram)) for mem in memory_inventory(cfg)]
    return FitReport(board.name, dev.name, rows,
                     bram=sum(b for _, where, b in rows if where == "bram"),
                     spram=sum(b for _, where, b in rows if where == "spram"),
                     logic_bits=sum(m.depth * m.width for m, where, _ in rows if where in ("logic", "lutram")))


def _largest(report: FitReport, where: str) -> str:
    """The memory that takes the most blocks (a weight memory's chunks counted together)."""
    groups: dict[str, list[tuple[MemoryUse, int]]] = {}
    for mem, placed, blocks in report.rows:
        if placed == where:
            groups.setdefault(mem.name.split(" chunk ")[0], []).append((mem, blocks))
    name, parts = max(groups.items(), key=lambda g: sum(blocks for _, blocks in g[1]))
    mem = parts[0][0]
    chunks = f" in {len(parts)} chunks" if len(parts) > 1 else ""
    return (f"largest: {name}, {mem.copies} × {sum(m.depth for m, _ in parts)}×{mem.width} bits = "
            f"{sum(blocks for _, blocks in parts)} blocks{chunks}")


def check_fit(cfg: Config, board: Board, spram_weights: bool | None = None) -> FitReport:
    """:func:`fit_report`, raising :class:`FitError` when a resource is over the device's count."""
    report = fit_report(cfg, board, spram_weights)
    dev = board.device
    what = f"{board.name}: configuration {cfg.name!r} (lanes={cfg.lanes})"
    if report.spram > dev.spram:
        raise FitError(f"{what} needs {report.spram} SPRAM blocks (16K×16) for its weights and routes, {dev.name} has "
                       f"{dev.spram} ({_largest(report, 'spram')})")
    if report.bram > dev.bram:
        hint = ""
        if dev.spram and not report.spram:
            alt = fit_report(cfg, board, spram_weights=True)
            if alt.bram <= dev.bram and alt.spram <= dev.spram:
                hint = "; it fits with the weights and routing words in SPRAM, which the RTL does not do yet"
        raise FitError(f"{what} needs {report.bram} {dev.bram_primitive} block RAMs, {dev.name} has {dev.bram} "
                       f"({_largest(report, 'bram')}){hint}")
    return report
