"""On-wire and in-memory formats, defined once for the gateware, the golden model and the testbenches.

Every stream payload in modsnn is one of these ``data`` layouts (or an ``enum.Enum``).
Testbenches build payloads with ``layout.const({...}).as_bits()`` and read them with
``layout.from_bits(bits)``; nothing slices payload bits by hand.

Widths come from a :class:`~modsnn.golden_model.config.Config` through :func:`formats_for`, so a
configuration fixes every field width in one place. With ``L = cfg.lanes`` synapse lanes, every
neuron population is banked by lane: neuron ``i`` lives in bank ``i mod L`` at bank address
``i // L``. Weight memories are ``L`` lanes wide:

==========  ===================================  ==============================================
matrix      word address (depth per lane)        lane ``ℓ`` of word
==========  ===================================  ==============================================
``FF``      ``j·(n/L) + a``  (``n_pre·n/L``)     ``Wff[a·L + ℓ, j]`` — source-major, dense
``REC``     ``k·(n/L) + a``  (``n·n/L``)         ``Wrec[a·L + ℓ, k]``
``OUT``     routing word ``w`` (``n_words``)     the synapse of lane ``ℓ`` of routing word ``w``
                                                 (:class:`~modsnn.golden_model.topology.LaneRoutes`)
==========  ===================================  ==============================================

Stored weights are signed ``weight_bits`` integers; the forward pass uses ``w >> weight_frac``.
"""

from __future__ import annotations

import dataclasses
import functools

from amaranth.hdl import signed, unsigned
from amaranth.lib import data, enum

from ..golden_model.config import Config
from ..golden_model.topology import readout_routes

__all__ = ["Formats", "Matrix", "Population", "Projection", "Region", "bits_for", "formats_for", "memory_depths",
           "readout_routes"]


class Population(enum.Enum, shape=2):
    """Which neuron population an address refers to."""

    INPUT = 0
    HIDDEN = 1
    READOUT = 2


class Projection(enum.Enum, shape=2):
    """Which projection the router fans an event out on."""

    FF = 0      # input (or previous layer) spike → hidden layer, dense
    REC = 1     # hidden spike of the previous step → same layer, dense
    OUT = 2     # hidden spike → readout, sparse small-world


class Matrix(enum.Enum, shape=2):
    """Weight memory select."""

    FF = 0
    REC = 1
    OUT = 2


class Region(enum.Enum, shape=3):
    """Top-level memory-map regions (the ``region`` field of :attr:`Formats.mmio_address`)."""

    CSR = 0      # control and status registers (:class:`modsnn.hw.top.Csr`)
    INPUT = 1    # 8-bit input intensities u[j] of the next sample (write only)
    FF = 2       # weight memories, addressed by (lane, word); read/write while idle
    REC = 3
    OUT = 4
    STATE = 5    # hidden-layer state read-back: offset = neuron·4 + (v, x, H, X)


def bits_for(n: int) -> int:
    """Bits to hold the values ``0 .. n-1`` (at least 1)."""
    return max(1, (n - 1).bit_length())


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


@dataclasses.dataclass(frozen=True)
class Formats:
    """The layouts of one configuration.

    * ``address_event`` — a spike: ``pop`` (:class:`Population`), ``layer``, ``addr`` (neuron index).
    * ``route_request`` — an event for the router: ``proj`` (:class:`Projection`), ``addr`` (source).
    * ``synaptic_word`` — ``L`` lanes of ``synaptic_lane`` = ``valid``, ``addr`` (bank address of the
      target; target neuron = ``addr·L + lane``) and ``weight`` (signed forward weight).
    * ``route_lane`` — one lane of a readout routing word: ``valid`` and the target's bank ``addr``.
    * ``pointer`` — a source's readout words: ``start`` (first word) and ``words`` (count).
    * ``weight_word`` — ``L`` signed stored weights.
    * ``weight_write`` — ``matrix`` (:class:`Matrix`), word ``addr``, ``data`` (``weight_word``) and
      per-lane write enables ``en``.
    * ``mmio_address`` — ``offset``, ``lane``, ``region`` (:class:`Region`) of the control port.
    """

    lanes: int
    address_event: data.StructLayout
    route_request: data.StructLayout
    synaptic_lane: data.StructLayout
    synaptic_word: data.ArrayLayout
    route_lane: data.StructLayout
    route_word: data.ArrayLayout
    pointer: data.StructLayout
    weight_word: data.ArrayLayout
    weight_write: data.StructLayout
    mmio_address: data.StructLayout
    neuron_bits: int
    bank_bits: int
    word_bits: int
    weight_bits: int
    forward_weight_bits: int
    route_words: int
    h_bits: int          # H = Σ_t h(t) ≤ T
    xsum_bits: int       # X = Σ_t x(t) ≤ T·x_max


def memory_depths(cfg: Config, route_words: int) -> dict[str, int]:
    """Words per lane of each weight memory (single hidden layer)."""
    n, L = cfg.hidden[0], cfg.lanes
    return {"FF": cfg.n_inputs * _ceil_div(n, L), "REC": n * _ceil_div(n, L), "OUT": max(1, route_words)}


@functools.lru_cache(maxsize=32)
def formats_for(cfg: Config) -> Formats:
    """All layouts for ``cfg`` (widths derived from its sizes, bit widths and routing image)."""
    L = cfg.lanes
    route_words = max(readout_routes(cfg, layer).n_words for layer in range(cfg.n_hidden_layers))
    largest = max(cfg.n_inputs, cfg.n_readout, *cfg.hidden)
    neuron_bits = bits_for(largest)
    bank_bits = bits_for(_ceil_div(largest, L))
    fwd_bits = cfg.weight_bits - cfg.weight_frac
    depth = max(memory_depths(cfg, route_words).values())
    word_bits = bits_for(depth)
    address_event = data.StructLayout({
        "pop": Population,
        "layer": unsigned(bits_for(cfg.n_hidden_layers)),
        "addr": unsigned(neuron_bits),
    })
    route_request = data.StructLayout({"proj": Projection, "addr": unsigned(neuron_bits)})
    synaptic_lane = data.StructLayout({"valid": 1, "addr": unsigned(bank_bits), "weight": signed(fwd_bits)})
    route_lane = data.StructLayout({"valid": 1, "addr": unsigned(bank_bits)})
    pointer = data.StructLayout({"start": unsigned(word_bits), "words": unsigned(bits_for(cfg.n_readout + 1))})
    weight_word = data.ArrayLayout(signed(cfg.weight_bits), L)
    weight_write = data.StructLayout({"matrix": Matrix, "addr": unsigned(word_bits), "data": weight_word,
                                      "en": unsigned(L)})
    mmio_address = data.StructLayout({
        "offset": unsigned(max(word_bits, bits_for(4 * largest), 8)),
        "lane": unsigned(bits_for(L)),
        "region": Region,
    })
    return Formats(L, address_event, route_request, synaptic_lane, data.ArrayLayout(synaptic_lane, L), route_lane,
                   data.ArrayLayout(route_lane, L), pointer, weight_word, weight_write, mmio_address, neuron_bits,
                   bank_bits, word_bits, cfg.weight_bits, fwd_bits, route_words, cfg.timesteps.bit_length(),
                   (cfg.timesteps * cfg.x_max).bit_length())
