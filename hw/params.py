"""Every width, limit, bank mapping and memory region of the accelerator, derived once from a Config.

**Banks.** The array has ``B = lanes × cores`` banks: core ``c`` holds the ``L = lanes`` banks
``c·L … c·L + L − 1``. Every population (the inputs, each hidden layer, the readout) is spread over
the banks by neuron index::

    neuron i  →  bank b = i mod B,  bank address a = i div B,  core b div L,  lane b mod L

so bank address ``a`` of all ``B`` banks together holds the ``B`` consecutive neurons
``a·B … a·B + B − 1`` (a *word* of the array). A dense fan-out of one event is ``q = n / B`` words;
a sweep is ``q`` words; a plasticity row group is the ``B`` rows of one word. Hidden layers must be
multiples of ``B`` (checked); the inputs and the readout are padded to a multiple of ``B`` with
*ghost* neurons that have no synapses and therefore never spike.

**Memories of one bank** (regions laid out back to back, bases in :attr:`HwParams.weight_base`,
:attr:`HwParams.out_base`, :attr:`HwParams.pop_base`):

=============  ====================================  =================================================
memory         word (region, address)                holds
=============  ====================================  =================================================
weights        ``FF_l``:  ``j·q_l + a``               ``Wff_l[a·B + b, j]`` (stored, ``weight_bits``)
               ``REC_l``: ``k·q_l + a``               ``Wrec_l[a·B + b, k]``
out weights    ``OUT_l``: routing word ``w``          the synapse in bank ``b`` of word ``w`` of
                                                     :func:`~modsnn.golden_model.topology.lane_routes`
                                                     ``(mask_l, B)``
route ROM      same address as out weights            ``valid``, target bank address, target class
accumulators   ``HID_l``: ``a``; ``READOUT``: ``a``    synaptic current ``I`` (``acc_bits``, signed)
state          same regions as accumulators          ``v``, ``x``, ``H``, ``X`` (:attr:`state_layout`)
=============  ====================================  =================================================

The pointer ROM (global) holds, per layer and source ``j``, the first routing word and the word
count ``W_l[j] = max_b |{k ∈ fan-out(j): k mod B = b}|`` (every bank issues ``W_l[j]`` words, so
the cores stay in lock step).
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np

from ..golden_model.config import Config
from ..golden_model.cycles import max_sample_cycles
from ..golden_model.topology import LaneRoutes, lane_routes, small_world_mask

__all__ = ["LR_EXTRA_MAX", "HwParams", "bits_for", "checked_params", "hw_params", "rejected"]

#: (width, depth) of an ECP5 ``DP16KD`` block RAM's true-dual-port geometries (and 512 × 36 pseudo-dual-port).
DP16KD_GEOMETRIES = ((1, 16384), (2, 8192), (4, 4096), (9, 2048), (18, 1024), (36, 512))

#: Largest learning-rate decay (``LR_EXTRA``) the hardware accepts; larger values saturate.
LR_EXTRA_MAX = 7


def bits_for(n: int) -> int:
    """Bits to hold the values ``0 … n−1`` (at least 1)."""
    return max(1, (n - 1).bit_length())


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


@dataclasses.dataclass(frozen=True)
class HwParams:
    """Widths and layout of the accelerator for one :class:`Config` (see the module docstring)."""

    cfg: Config
    banks: int                      # B = lanes × cores
    words: tuple[int, ...]          # q_l = n_l / B per hidden layer
    readout_words: int              # q_out = ceil(n_out / B)
    input_words: int                # ceil(n_in / B)
    routes: tuple[LaneRoutes, ...]  # readout routing image per layer, B banks
    # widths
    neuron_bits: int                # any neuron index of any population
    acc_bits: int                   # synaptic current accumulator (signed)
    forward_weight_bits: int        # w >> weight_frac (signed)
    h_bits: int                     # H = Σ_t h(t) ≤ T
    xsum_bits: int                  # X = Σ_t x(t) ≤ T·x_max
    count_bits: int                 # class count ≤ P·T
    level_bits: int                 # m_c ∈ [−K, K] (signed)
    signal_bits: int                # L_i = Σ_c ±m_c ∈ [−C·K, C·K] (signed)
    gate_bits: int                  # G_i = L_i·H_i (signed)
    product_bits: int               # G_i·X_j or m_c·X_j (signed)
    label_bits: int
    step_bits: int
    cycle_bits: int                 # a phase counter: ≤ the cycles of the slowest sample (max_sample_cycles), ≤ 32

    # ----------------------------------------------------------------- layout
    @property
    def lanes(self) -> int:
        return self.cfg.lanes

    @property
    def cores(self) -> int:
        return self.cfg.cores

    @property
    def layers(self) -> int:
        return self.cfg.n_hidden_layers

    @functools.cached_property
    def weight_base(self) -> tuple[tuple[int, int], ...]:
        """``(FF_l base, REC_l base)`` per layer in a bank's weight memory."""
        bases, at = [], 0
        for l, q in enumerate(self.words):
            ff = at
            at += self.cfg.layer_inputs(l) * q
            bases.append((ff, at))
            at += self.cfg.hidden[l] * q
        return tuple(bases)

    @property
    def weight_depth(self) -> int:
        _, rec = self.weight_base[-1]
        return rec + self.cfg.hidden[-1] * self.words[-1]

    @property
    def weight_chunk_depth(self) -> int:
        """Words per chunk of a :class:`~modsnn.hw.weight_memory.WeightMemory`: the depth of the
        ECP5 ``DP16KD`` geometry (:data:`DP16KD_GEOMETRIES`) that stores the most weight words per
        block at ``weight_bits`` (ties: the fewest blocks per chunk), so that a chunk is blocks side
        by side, never a cascade: 2048 for 8 and 9 bits (one 2048 × 9 block), 4096 for 12 (three
        4096 × 4), 1024 for 16–18 (one 1024 × 18), 16384 for 7 or 11 (that many 16384 × 1)."""
        w = self.cfg.weight_bits
        return max(DP16KD_GEOMETRIES, key=lambda g: (g[1] / -(-w // g[0]), g[0]))[1]

    @functools.cached_property
    def out_base(self) -> tuple[int, ...]:
        """First word of ``OUT_l`` in a bank's readout weight memory and route ROM."""
        return tuple(int(x) for x in np.cumsum([0] + [r.n_words for r in self.routes[:-1]]))

    @property
    def out_depth(self) -> int:
        return max(1, sum(r.n_words for r in self.routes))

    @functools.cached_property
    def pop_base(self) -> tuple[int, ...]:
        """First accumulator/state word of each population: hidden layers ``0 … D−1``, then the readout
        (index ``D``)."""
        return tuple(int(x) for x in np.cumsum([0, *self.words]))

    @property
    def state_depth(self) -> int:
        return self.pop_base[-1] + self.readout_words

    @functools.cached_property
    def pointer_base(self) -> tuple[int, ...]:
        """First pointer-ROM entry of each layer (one entry per hidden neuron)."""
        return tuple(int(x) for x in np.cumsum([0, *self.cfg.hidden[:-1]]))

    @property
    def pointer_depth(self) -> int:
        return sum(self.cfg.hidden)

    @property
    def max_group_words(self) -> int:
        """Deepest per-bank key and gate memory: ``max(q_l, q_out)``."""
        return max(*self.words, self.readout_words)

    @functools.cached_property
    def dense_readout(self) -> bool:
        """Every readout neuron sees every hidden neuron of every layer (``readout_density = 1``): word
        ``w`` of a source's routing words then holds targets ``w·B + b`` (valid below ``n_readout``),
        so the banks compute their routing entries instead of storing them."""
        n_out = self.cfg.n_readout
        return all(int(r.valid.sum()) == n_out * r.n_pre and bool((r.words == self.readout_words).all())
                   for r in self.routes)

    @property
    def max_route_words(self) -> int:
        """Largest readout fan-out of one source, in words."""
        return max(int(r.words.max()) if r.n_pre else 0 for r in self.routes)

    # ------------------------------------------------------------ addresses
    def bank_of(self, i: int) -> tuple[int, int]:
        """``(bank, bank address)`` of neuron ``i``."""
        return i % self.banks, i // self.banks

    def core_lane(self, bank: int) -> tuple[int, int]:
        return bank // self.lanes, bank % self.lanes

    @property
    def weight_word_bits(self) -> int:
        return bits_for(max(self.weight_depth, self.out_depth))

    @property
    def state_addr_bits(self) -> int:
        return bits_for(self.state_depth)

    # --------------------------------------------------------------- limits
    @property
    def shift_bounds(self) -> tuple[int, int]:
        """Smallest and largest stochastic-rounding shift ``s`` of any pass (with ``LR_EXTRA``)."""
        cfg = self.cfg
        shifts = [cfg.lr_shift_out] + [s + cfg.eligibility_shift for s in cfg.lr_shift_hidden]
        return min(shifts), max(shifts) + LR_EXTRA_MAX


def _check(cfg: Config) -> None:
    """Refuse configurations the RTL does not implement, naming the field, the value and the limit."""
    problems = []
    banks = cfg.lanes * cfg.cores
    if cfg.eligibility != "factored":
        problems.append(f"eligibility = {cfg.eligibility!r}; the RTL implements 'factored'")
    for l, n in enumerate(cfg.hidden):
        if n % banks:
            problems.append(f"hidden[{l}] = {n} is not a multiple of lanes × cores = {cfg.lanes} × {cfg.cores} "
                            f"= {banks} (every bank holds the same number of neurons of a layer)")
    shifts = [cfg.lr_shift_out] + [s + cfg.eligibility_shift for s in cfg.lr_shift_hidden]
    largest = max(shifts) + LR_EXTRA_MAX
    if largest > 32:
        problems.append(f"learning-rate shifts up to {largest} (lr_shift + eligibility shift + {LR_EXTRA_MAX} of "
                        f"decay) exceed the 32 random bits of the generator; lower lr_shift_out or lr_shift_hidden")
    if problems:
        raise ValueError("configuration not supported by the RTL: " + "; ".join(problems))


@functools.lru_cache(maxsize=64)
def hw_params(cfg: Config) -> HwParams:
    """The :class:`HwParams` of ``cfg`` (raises ``ValueError`` for configurations the RTL refuses)."""
    if not isinstance(cfg, Config):
        raise TypeError(f"cfg must be a modsnn Config, not {cfg!r}")
    _check(cfg)
    B = cfg.lanes * cfg.cores
    T, C, K = cfg.timesteps, cfg.n_classes, cfg.mod_levels
    routes = tuple(lane_routes(small_world_mask(cfg.n_readout, n, cfg.readout_density, cfg.rewire_beta, cfg.seed, l),
                               B) for l, n in enumerate(cfg.hidden))
    fwd_bits = cfg.weight_bits - cfg.weight_frac
    fan_in = max([cfg.layer_inputs(l) + n for l, n in enumerate(cfg.hidden)] + [sum(cfg.hidden)])
    n_out_pad = _ceil_div(cfg.n_readout, B) * B
    n_in_pad = _ceil_div(cfg.n_inputs, B) * B
    xsum_bits = (T * cfg.x_max).bit_length()
    signal = C * K
    gate = signal * T
    product = max(gate * T * cfg.x_max, K * T * cfg.x_max)
    return HwParams(
        cfg=cfg, banks=B, words=tuple(n // B for n in cfg.hidden), readout_words=n_out_pad // B,
        input_words=n_in_pad // B, routes=routes,
        neuron_bits=bits_for(max(n_in_pad, n_out_pad, *cfg.hidden)),
        acc_bits=fwd_bits + fan_in.bit_length() + 1,
        forward_weight_bits=fwd_bits,
        h_bits=T.bit_length(), xsum_bits=xsum_bits,
        count_bits=(cfg.pop * T).bit_length(),
        level_bits=K.bit_length() + 1,
        signal_bits=signal.bit_length() + 1,
        gate_bits=gate.bit_length() + 1,
        product_bits=product.bit_length() + 1,
        label_bits=bits_for(C),
        step_bits=bits_for(T),
        cycle_bits=min(32, max_sample_cycles(cfg).total.bit_length()),
    )


def rejected(component: object, error: Exception) -> Exception:
    """Mark a component whose constructor rejected its parameters as intentionally unused
    (Amaranth warns about elaboratables that are never elaborated), and return ``error``."""
    component._MustUse__silence = True  # type: ignore[attr-defined]
    return error


def checked_params(component: object, cfg: Config) -> HwParams:
    """:func:`hw_params` of ``cfg`` for ``component``'s constructor: on a bad configuration the
    component is marked rejected and the error (naming the field and the limit) propagates."""
    try:
        return hw_params(cfg)
    except (TypeError, ValueError) as error:
        raise rejected(component, error) from None
