"""On-wire formats, defined once for the gateware, the golden model and the testbenches.

Every stream payload in modsnn is one of these ``data.Struct`` layouts (or an ``enum.Enum``).
Testbenches build payloads with ``layout.const({...}).as_bits()`` and read them with
``layout.from_bits(bits)``; nothing slices payload bits by hand.

Widths come from a :class:`~modsnn.golden_model.config.Config` through :func:`formats_for`, so
a configuration fixes every field width in one place.
"""

from __future__ import annotations

import dataclasses

from amaranth.hdl import signed, unsigned
from amaranth.lib import data, enum

from ..golden_model.config import Config

__all__ = ["Formats", "Population", "formats_for"]


class Population(enum.Enum, shape=2):
    """Which neuron population an address refers to."""

    INPUT = 0
    HIDDEN = 1
    READOUT = 2


def _bits(n: int) -> int:
    """Bits to hold the values ``0 .. n-1`` (at least 1)."""
    return max(1, (n - 1).bit_length())


@dataclasses.dataclass(frozen=True)
class Formats:
    """The layouts of one configuration.

    * ``AddressEvent`` — a spike: ``pop`` (:class:`Population`), ``layer``, ``addr`` (neuron index).
    * ``SynapticEvent`` — one synapse's contribution to a target neuron: ``target`` (neuron
      index) and ``weight`` (signed forward weight, ``w >> weight_frac``).
    * ``RouteEntry`` — one routing-table word: ``target`` readout neuron and ``weight_addr``
      (word address in the target-major readout weight memory).
    * ``hash_word`` — the 32-bit word of the counter-based generator.
    """

    address_event: data.StructLayout
    synaptic_event: data.StructLayout
    route_entry: data.StructLayout
    neuron_bits: int
    weight_bits: int
    forward_weight_bits: int


def formats_for(cfg: Config) -> Formats:
    """All layouts for ``cfg`` (widths derived from its sizes and bit widths)."""
    largest = max(cfg.n_inputs, cfg.n_readout, *cfg.hidden)
    neuron_bits = _bits(largest)
    fwd_bits = cfg.weight_bits - cfg.weight_frac
    nnz = cfg.n_readout * max(cfg.hidden)
    address_event = data.StructLayout({
        "pop": Population,
        "layer": unsigned(_bits(cfg.n_hidden_layers)),
        "addr": unsigned(neuron_bits),
    })
    synaptic_event = data.StructLayout({
        "target": unsigned(neuron_bits),
        "weight": signed(fwd_bits),
    })
    route_entry = data.StructLayout({
        "target": unsigned(_bits(cfg.n_readout)),
        "weight_addr": unsigned(_bits(nnz)),
    })
    return Formats(address_event, synaptic_event, route_entry, neuron_bits, cfg.weight_bits, fwd_bits)
