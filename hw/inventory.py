"""Every memory the accelerator RTL instantiates, listed from the configuration alone.

The board flow's fit check (:mod:`modsnn.boards.fit`) places these on a device before any tool
runs; ``tests/test_boards.py`` holds the list to the memories of the elaborated
:class:`~modsnn.hw.top.Accelerator` (paths, depths, widths, read ports), so it cannot drift from
the RTL. Sizes follow :mod:`modsnn.hw.params`: ``B`` banks (one set of bank memories each), the
encoder's ``B`` lanes, the spike lists, the pointer ROM, the serializer buffers and the learner's
FIFO.
"""

from __future__ import annotations

import dataclasses

from amaranth.hdl import Shape

from ..golden_model.config import Config
from .bank import HOST_LATENCY, Bank, key_depth, keys_distributed_on_ecp5
from .control_port import Csr
from .core import CORE_LATENCY
from .formats import Region, formats_for
from .learner import FIFO_DEPTH, Learner
from .params import HwParams, bits_for, hw_params
from .weight_memory import chunk_depths

__all__ = ["MemoryUse", "memory_inventory"]


@dataclasses.dataclass(frozen=True)
class MemoryUse:
    """One memory of the RTL: ``copies`` physical copies of ``depth`` words of ``width`` bits.

    ``role`` is ``weights`` (synaptic weights, read/write), ``state`` (neuron state, currents,
    keys, lists) or ``rom`` (routing tables, initialised by the bitstream); ``read`` is ``sync``
    (block-RAM capable) or ``async`` (combinational read: logic only); ``single_port`` says the
    memory is read and written through one address (``weight_ports = 1``: SPRAM-capable); ``path``
    is the memory's place in the elaborated :class:`~modsnn.hw.top.Accelerator`;
    ``merged_register`` says the RTL reads it through an asynchronous port with a register right
    after it, which Yosys merges into a synchronous block-RAM read (``read`` is then ``sync``; see
    :class:`~modsnn.hw.weight_memory.WeightMemory`); ``distributed_on_ecp5`` says the RTL asks for
    LUT RAM on ECP5 (``ram_style``, :func:`~modsnn.hw.bank.keys_distributed_on_ecp5`), ``block`` for block
    RAM everywhere (:func:`~modsnn.hw.bank.memory_delay`).
    """

    name: str
    depth: int
    width: int
    copies: int = 1
    role: str = "state"
    read: str = "sync"
    path: str = ""
    single_port: bool = False
    merged_register: bool = False
    distributed_on_ecp5: bool = False
    block: bool = False

    @property
    def bits(self) -> int:
        return self.depth * self.width * self.copies


def _weight_memories(name: str, path: str, depth: int, width: int, p: HwParams, single: bool) -> list[MemoryUse]:
    """A weight memory: one single-port memory, or the chunks of a
    :class:`~modsnn.hw.weight_memory.WeightMemory`."""
    if single:
        return [MemoryUse(name, depth, width, role="weights", path=f"{path}.mem", single_port=True)]
    depths = chunk_depths(depth, p.weight_chunk_depth)
    return [MemoryUse(name if len(depths) == 1 else f"{name} chunk {n}", d, width, role="weights",
                      path=f"{path}.chunk{n}", merged_register=True) for n, d in enumerate(depths)]


def memory_inventory(cfg: Config) -> list[MemoryUse]:
    """Every memory of the accelerator RTL for ``cfg``."""
    p, fmt = hw_params(cfg), formats_for(cfg)
    L = cfg.lanes
    single = cfg.weight_ports == 1
    mems: list[MemoryUse] = []
    # routing entries: the valid bit is constant 1 when every word is full, and yosys drops constant
    # bits before mapping; the width counted is that of the values that vary
    all_valid = all(bool(r.valid.all()) for r in p.routes)
    route_bits = fmt.route_entry.size - (1 if all_valid else 0)
    for b in range(p.banks):
        where = f"core{b // L}.bank{b % L}"
        mems += [
            *_weight_memories(f"weights{b}", f"{where}.weights", p.weight_depth, cfg.weight_bits, p, single),
            *_weight_memories(f"readout weights{b}", f"{where}.out", p.out_depth, cfg.weight_bits, p, single),
            *([] if p.dense_readout else
              [MemoryUse(f"routing entries{b}", p.out_depth, route_bits, role="rom", path=f"{where}.route")]),
            MemoryUse(f"currents{b}", p.state_depth, p.acc_bits, path=f"{where}.acc"),
            MemoryUse(f"state{b}", p.state_depth, fmt.state_word.size, path=f"{where}.state"),
            MemoryUse(f"row keys{b}", key_depth(p), 32, path=f"{where}.keys",
                      distributed_on_ecp5=keys_distributed_on_ecp5(p)),
            MemoryUse(f"gates{b}", p.max_group_words, p.gate_bits, path=f"{where}.gate"),
        ]
        if cfg.memory_delays:           # hw.bank.memory_delay: block RAM by request
            mems += [MemoryUse(f"job delay{b}", 2, fmt.job.size, path=f"{where}.pj1_mem", block=True),
                     MemoryUse(f"late job delay{b}", 3, Bank.late_layout(cfg).size, path=f"{where}.pj_l9_mem",
                               block=True)]
    encoder_state = 9 + cfg.trace_bits + p.xsum_bits
    for lane in range(p.banks):
        mems += [MemoryUse(f"inputs{lane}", p.input_words, 8, path=f"encoder.u{lane}"),
                 MemoryUse(f"input state{lane}", p.input_words, encoder_state, path=f"encoder.state{lane}")]
    if p.banks > 1:                     # one bank: the serializers hold one word in a register
        mems += [MemoryUse("input spike words", p.input_words, p.banks, read="async", path="encoder.serializer.buffer"),
                 MemoryUse("sweep spike words", max(*p.words, p.readout_words), p.banks, read="async",
                           path="sweeper.serializer.buffer")]
    for s, n in enumerate([cfg.n_inputs, *cfg.hidden]):
        mems.append(MemoryUse(f"spike list {s}", n, p.neuron_bits, path=f"list{s}"))
    mems.append(MemoryUse("routing pointers", p.pointer_depth, fmt.pointer.size, role="rom", path="pointers"))
    if cfg.memory_delays:               # the control port's CSR read address (offset, mapped, region)
        csr_bits = bits_for(Csr.LEVEL + cfg.n_classes - 1) + 1 + Shape.cast(Region).width
        mems.append(MemoryUse("CSR read delay", CORE_LATENCY + HOST_LATENCY - 1, csr_bits, path="control.csr_late_mem",
                              block=True))
    mems += [MemoryUse("walker FIFO (walked fields)", FIFO_DEPTH, Learner.early_layout(cfg).size,
                       path="learner.fifo_early"),
             MemoryUse("walker FIFO (completed fields)", FIFO_DEPTH, Learner.late_layout(cfg).size,
                       path="learner.fifo_late"),
             MemoryUse("gate bits", max(p.words), 1, path="learner.gate_bits")]
    return mems
