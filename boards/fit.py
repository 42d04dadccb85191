"""Does a configuration fit a board? Decided from the RTL's memory inventory, before any tool runs.

:func:`memory_inventory` lists every memory the accelerator RTL of a configuration instantiates
(:class:`MemoryUse`: name, depth, width, copies, role, read kind). It is written for today's RTL
and must stay the one description of its memory layout: ``hw/formats.memory_depths`` gives the
weight memories, and the neuron-core/encoder state memories are those of
``hw/neuron_core.py`` and ``hw/encoder.py``. (It belongs in ``hw/``; the RTL rewrite moves it
there and builds its memories from it. ``tests/test_boards.py`` checks it against the memories
of the elaborated :class:`~modsnn.hw.top.Accelerator`.)

A memory is implemented by the device as (rules of Yosys' ``memory_libmap`` for these devices,
checked against synthesis logs in ``tests/test_boards.py`` and ``docs/boards.md``):

* ``copies`` = one per read port: block RAMs have one read and one write port in the simple
  dual-port mode used here, so a memory with a sweep read port and a read-back port is stored
  twice;
* a memory with a combinational read port (``read="async"``), or smaller than the device's
  ``logic_threshold_bits``, goes to logic (LUT RAM on ECP5, flip-flops on iCE40), not block RAM;
* otherwise the cheapest of logic, LUT RAM (ECP5) and block RAM under Yosys' cost model
  (:func:`placement`); a block-RAM copy takes ``min over geometries (d, w) of
  ceil(depth/d)·ceil(width/w)`` blocks; with weights in SPRAM (the iCEBreaker layout,
  :data:`RTL_WEIGHTS_IN_SPRAM`), the weights and the routing words take ``ceil(depth/16384)·
  ceil(width/16)`` SPRAM blocks each instead (SPRAM has no initial contents: the host loads them).

:func:`check_fit` totals these per resource and raises :class:`FitError` naming the resource and
both numbers, e.g. ``readout needs 2^17 weight words, ULX3S-85F has 2^15``-style messages:
``ulx3s-85f: block RAM: 'fashion' (lanes=16) needs 236 DP16KD blocks, LFE5U-85F has 208
(largest: FF weights, 4 copies × …)``.
"""

from __future__ import annotations

import dataclasses
import math

from ..golden_model.config import Config
from ..golden_model.topology import readout_routes
from .devices import Device
from .registry import Board

__all__ = ["FitError", "FitReport", "MemoryUse", "blocks_for", "check_fit", "fit_report", "memory_inventory"]


class FitError(ValueError):
    """A configuration that does not fit a board; the message names the resource and both numbers."""


@dataclasses.dataclass(frozen=True)
class MemoryUse:
    """One memory of the RTL: ``copies`` physical copies of ``depth`` words of ``width`` bits.

    ``role`` is ``weights`` (synaptic weights, read/write), ``state`` (neuron, trace and
    accumulator state) or ``rom`` (routing tables, initialised by the bitstream); ``read`` is
    ``sync`` (block-RAM capable) or ``async`` (combinational read: logic only); ``path`` is the
    memory's place in the elaborated :class:`~modsnn.hw.top.Accelerator` (submodule names).
    """

    name: str
    depth: int
    width: int
    copies: int = 1
    role: str = "state"
    read: str = "sync"
    path: str = ""

    @property
    def bits(self) -> int:
        return self.depth * self.width * self.copies


def _bits_for(n: int) -> int:
    return max(1, (n - 1).bit_length())


def memory_inventory(cfg: Config) -> list[MemoryUse]:
    """Every memory of the accelerator RTL for ``cfg`` (one hidden layer, ``L = cfg.lanes`` lanes).

    ``copies`` counts the read ports the top actually reads (each is a block-RAM copy): the
    hidden core's read-back port feeds the plasticity engine and the ``STATE`` region, the
    encoder's only its ``X`` (plasticity); the readout core's read-back port is unconnected, so
    its ``x``, ``H`` and ``X`` have no reader at all (``copies=0``: synthesis removes them).
    """
    from ..hw.formats import formats_for, memory_depths

    fmt = formats_for(cfg)
    L, n, n_in, n_out = cfg.lanes, cfg.hidden[0], cfg.n_inputs, cfg.n_readout
    fwd = cfg.weight_bits - cfg.weight_frac
    depths = memory_depths(cfg, fmt.route_words)
    routes = readout_routes(cfg)
    mems = [MemoryUse("spike buffer", n, fmt.neuron_bits, read="async", path="spike_buffer")]
    # encoder: u (8 bits), phase a (9 bits), trace x, its sum X (+ read-back port for the plasticity engine)
    mems += [MemoryUse("encoder u", n_in, 8, path="encoder.u_mem"),
             MemoryUse("encoder a", n_in, 9, path="encoder.a_mem"),
             MemoryUse("encoder x", n_in, cfg.trace_bits, path="encoder.x_mem"),
             MemoryUse("encoder X", n_in, fmt.xsum_bits, copies=2, path="encoder.xs_mem")]
    # neuron cores: v, x, H, X (sweep port + read-back port) and L accumulator banks (sweep + accumulate)
    for core, size, fan_in, readback in (("hidden", n, n_in + n, 1), ("readout", n_out, n, 0)):
        acc_bits = fwd + max(1, fan_in.bit_length()) + 1
        mems += [MemoryUse(f"{core} v", size, cfg.membrane_bits, copies=1 + readback, path=f"{core}.v_mem"),
                 MemoryUse(f"{core} x", size, cfg.trace_bits, copies=2 * readback, path=f"{core}.x_mem"),
                 MemoryUse(f"{core} H", size, fmt.h_bits, copies=2 * readback, path=f"{core}.h_mem"),
                 MemoryUse(f"{core} X", size, fmt.xsum_bits, copies=2 * readback, path=f"{core}.xs_mem"),
                 *(MemoryUse(f"{core} I{lane}", size // L, acc_bits, copies=2, path=f"{core}.i_mem{lane}")
                   for lane in range(L))]
    # synapse memory: one simple dual-port RAM per lane and matrix; routing ROMs
    for matrix in ("FF", "REC", "OUT"):
        mems += [MemoryUse(f"{matrix} weights{lane}", depths[matrix], cfg.weight_bits, role="weights",
                           path=f"synapses.{matrix.lower()}{lane}") for lane in range(L)]
    # routing words: the valid bit (constant 1 when every word is full, e.g. L = 1) and the readout
    # bank address; Yosys drops constant bits before costing, so the width counted is that of the
    # values actually stored
    route_bits = (0 if bool(routes.valid.all()) else 1) + _bits_for(-(-n_out // L))
    mems += [MemoryUse(f"routing words{lane}", max(1, routes.n_words), route_bits, role="rom",
                       path=f"synapses.route{lane}") for lane in range(L)]
    mems.append(MemoryUse("routing pointers", n, fmt.word_bits + _bits_for(n_out + 1), role="rom",
                          path="synapses.pointers"))
    return mems


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
    if spram_weights and (mem.role == "weights" or mem.name.startswith("routing words")):
        d, w = device.spram_geometry
        return "spram", math.ceil(mem.depth / d) * math.ceil(mem.width / w) * mem.copies
    logic = (mem.depth * mem.width * (1 / 16 if mem.role == "rom" else 1), "logic", 0)
    options: list[tuple[float, str, int]] = [] if device.family == "ecp5" else [logic]
    if mem.read == "sync":
        blocks = blocks_for(mem.depth, mem.width, device.bram_geometries) * mem.copies
        options.append((blocks * BRAM_COST[device.family], "bram", blocks))
    if device.family == "ecp5":
        cells = math.ceil(mem.depth / LUTRAM_SHAPE[0]) * math.ceil(mem.width / LUTRAM_SHAPE[1]) * mem.copies
        output_ffs = mem.width * mem.copies if mem.read == "sync" else 0
        options += [(cells * LUTRAM_COST + output_ffs, "lutram", 0), logic]
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


#: Whether the RTL stores its weights and routing words in SPRAM where the device has it (see
#: :func:`placement`). Today's RTL reads and writes the weights through separate ports, which SPRAM
#: (one port) cannot do, and initialises the routing words from the bitstream, so Yosys infers
#: block RAM for both; set this when the RTL's iCE40 layout moves them to SPRAM (issue 7).
RTL_WEIGHTS_IN_SPRAM = False


def fit_report(cfg: Config, board: Board, spram_weights: bool | None = None) -> FitReport:
    """Where each memory of ``cfg`` goes on ``board`` and how many blocks it takes.

    ``spram_weights`` places the weight memories in SPRAM (on a device that has it); the default
    is what the RTL does (:data:`RTL_WEIGHTS_IN_SPRAM`). The iCEBreaker preset is sized for the
    SPRAM layout (``spram_weights=True``).
    """
    dev: Device = board.device
    spram = (RTL_WEIGHTS_IN_SPRAM if spram_weights is None else spram_weights) and dev.spram > 0
    rows = [(mem, *placement(mem, dev, spram_weights=spram)) for mem in memory_inventory(cfg)]
    return FitReport(board.name, dev.name, rows,
                     bram=sum(b for _, where, b in rows if where == "bram"),
                     spram=sum(b for _, where, b in rows if where == "spram"),
                     logic_bits=sum(m.depth * m.width for m, where, _ in rows if where in ("logic", "lutram")))


def _largest(report: FitReport, where: str) -> str:
    mem, _, blocks = max((r for r in report.rows if r[1] == where), key=lambda r: r[2])
    return f"largest: {mem.name}, {mem.copies} × {mem.depth}×{mem.width} bits = {blocks} blocks"


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
