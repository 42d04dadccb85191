"""Payload layouts of every stream and command in the accelerator, defined once.

The gateware, the golden model's images and the testbenches all build and read these layouts
(``layout.const({...}).as_bits()``, ``layout.from_bits(x)``); nothing slices payload bits by hand.
Widths come from :class:`~modsnn.hw.params.HwParams` (:func:`formats_for`), so one configuration
fixes every field width in one place.

Commands flow from the global units (dispatcher, sweeper, learner, control port) to every bank of
every core at once; they are streams that are always ready (``always_ready=True``): a bank accepts
one command of each kind per cycle.
"""

from __future__ import annotations

import dataclasses
import functools

from amaranth.hdl import signed, unsigned
from amaranth.lib import data, enum, stream

from ..golden_model.config import Config
from .params import HwParams, bits_for, hw_params

__all__ = ["AccKind", "Formats", "HostTarget", "JobOp", "Matrix", "Population", "Region", "formats_for"]


class Population(enum.Enum, shape=2):
    """Which population a spike event belongs to."""

    INPUT = 0
    HIDDEN = 1
    READOUT = 2


class AccKind(enum.Enum, shape=1):
    """How an accumulate command finds its targets: dense (bank address from the command) or through
    the readout route ROM."""

    DENSE = 0
    OUT = 1


class Matrix(enum.Enum, shape=2):
    """The three kinds of weight matrix."""

    FF = 0
    REC = 1
    OUT = 2


class JobOp(enum.Enum, shape=2):
    """What a plasticity job does with the hash ``H(key ^ operand)`` it computes."""

    PREFIX = 0      # key from the job, operand 0; the result is returned to the learner
    ROWKEY = 1      # key from the job, operand = the lane's row; the result is stored in the key RAM
    SIGN = 2        # key = FB row key, operand = class c; bit 31 accumulates L_i = Σ_c ±m_c; G_i = L_i·H_i
    SR = 3          # key = OUT/FF/REC row key, operand = column j; stochastic-rounding weight update


class HostTarget(enum.Enum, shape=2):
    """Which bank memory a host access addresses."""

    WEIGHTS = 0     # FF and REC weights
    OUT = 1         # readout weights
    STATE = 2       # neuron state word


class Region(enum.Enum, shape=3):
    """Regions of the control port (the ``region`` field of :attr:`Formats.mmio_address`)."""

    CSR = 0       # control and status registers (:class:`modsnn.hw.control_port.Csr`)
    INPUT = 1     # 8-bit input intensities u[j] of the next sample (offset j)
    FF = 2        # weights of layer `layer`: offset = word in the bank, `bank` field = bank
    REC = 3
    OUT = 4
    STATE = 5     # hidden neuron i of layer `layer`: offset = 4·i + f (f: 0 v, 1 x, 2 H, 3 X)
    READOUT = 6   # readout neuron k: offset = k, its membrane


@dataclasses.dataclass(frozen=True)
class Formats:
    """The layouts of one configuration (field meanings in each layout's comment)."""

    params: HwParams
    spike_event: data.StructLayout     # pop, layer, addr (neuron index)
    acc_command: data.StructLayout     # kind, waddr (weight word), a (dense bank address), base (state region)
    sweep_command: data.StructLayout   # addr (state word)
    job: data.StructLayout             # a plasticity job (see JobOp): op, a, matrix, the op's args
    host_command: data.StructLayout    # target, addr, wdata, bank (one-hot select by index), we, re
    state_word: data.StructLayout      # v, x, H, X of one neuron
    route_entry: data.StructLayout     # valid, addr (readout bank address), cls (class of the target)
    pointer: data.StructLayout         # start (first routing word of the layer region), words
    mmio_address: data.StructLayout    # offset, bank, layer, region

    def stream(self, layout: data.StructLayout) -> stream.Signature:
        """An always-ready command stream of ``layout``."""
        return stream.Signature(layout, always_ready=True)


@functools.lru_cache(maxsize=64)
def formats_for(cfg: Config) -> Formats:
    """All layouts for ``cfg``."""
    p = hw_params(cfg)
    state_addr = unsigned(p.state_addr_bits)
    group = unsigned(bits_for(p.max_group_words))
    word = unsigned(p.weight_word_bits)
    membrane = signed(cfg.membrane_bits)
    spike_event = data.StructLayout({"pop": Population, "layer": unsigned(bits_for(p.layers)),
                                     "addr": unsigned(p.neuron_bits)})
    acc_command = data.StructLayout({"kind": AccKind, "waddr": word, "a": group, "base": state_addr})
    sweep_command = data.StructLayout({"addr": state_addr})
    # the operands of each op share the bits of `args` (a job carries only its own op's); the fields
    # the bank's late stages use come first in every member, so they are one prefix of `args`
    # (Bank's late layout)
    job = data.StructLayout({
        "op": JobOp,
        "a": group,                                # ROWKEY, SIGN, SR (hidden): group (bank address)
        "matrix": Matrix,                          # SR: which weights (OUT: key by route, factor m)
        "args": data.UnionLayout({
            "keyed": data.StructLayout({           # PREFIX, ROWKEY
                "field": unsigned(2),              # ROWKEY: key RAM field (0 OUT/FB, 1 FF, 2 REC)
                "key": unsigned(32),               # the key
            }),
            "sign": data.StructLayout({            # SIGN
                "c": unsigned(bits_for(cfg.n_classes)),    # class
                "m": signed(p.level_bits),                 # m_c
                "last": unsigned(1),                       # last class of the group
                "haddr": state_addr,                       # state word of the group (for H)
            }),
            "sr": data.StructLayout({              # SR
                "waddr": word,                     # weight word
                "j": unsigned(p.neuron_bits),      # column (presynaptic neuron)
                "x": unsigned(p.xsum_bits),        # X_j
            }),
        }),
    })
    host_command = data.StructLayout({"target": HostTarget, "addr": unsigned(max(p.state_addr_bits,
                                                                                 p.weight_word_bits)),
                                      "bank": unsigned(bits_for(p.banks)), "wdata": signed(cfg.weight_bits),
                                      "we": unsigned(1), "re": unsigned(1)})
    state_word = data.StructLayout({"v": membrane, "x": unsigned(cfg.trace_bits), "h": unsigned(p.h_bits),
                                    "xs": unsigned(p.xsum_bits)})
    route_entry = data.StructLayout({"valid": unsigned(1), "addr": unsigned(bits_for(p.readout_words)),
                                     "cls": unsigned(bits_for(cfg.n_classes))})
    pointer = data.StructLayout({"start": word, "words": unsigned(bits_for(p.max_route_words + 1))})
    largest = max(p.input_words, p.readout_words, *p.words) * p.banks
    mmio_address = data.StructLayout({
        "offset": unsigned(max(p.weight_word_bits, bits_for(4 * largest), 8)),
        "bank": unsigned(bits_for(p.banks)),
        "layer": unsigned(bits_for(p.layers)),
        "region": Region,
    })
    return Formats(p, spike_event, acc_command, sweep_command, job, host_command, state_word, route_entry,
                   pointer, mmio_address)
