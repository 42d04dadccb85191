"""The bit-exact integer network and learning rule, with its float64 twin.

This module *is* the specification of the accelerator. Every quantity has a width, a rounding
rule and an overflow rule; all are listed here and in ``docs/algorithm.md``. Symbols: layer ``l``
has ``n_l`` neurons; ``T`` steps per sample; ``C`` classes, ``P`` neurons per class population.

**Input encoding** (8-bit intensity ``u``): ``a ← a + u``; spike and ``a ← a − 256`` when
``a ≥ 256`` (``a`` starts at 0 each sample). Deterministic rate code.

**Hidden layer** ``l`` at step ``t`` (forward weight ``w̃ = w >> weight_frac``, floor)::

    I_i  = Σ_j w̃ff_ij s_j(t) + Σ_k w̃rec_ik s_k(t−1)         exact (wide accumulator)
    v_i ← clamp(v_i − (v_i >> leak_shift) + I_i, v_min, v_max)       saturate, membrane_bits
    h_i  = [lo ≤ v_i < hi]                   boxcar, lo = θ·lo_q4 >> 2, hi = θ·hi_q4 >> 2
    s_i  = [v_i ≥ θ];  v_i ← v_i − θ·s_i     reset by subtraction
    x_i ← min(x_i − ceil(x_i / 2^trace_shift) + A·s_i, x_max)       saturate, trace_bits

Sums over the sample: ``H_i = Σ_t h_i(t)`` (≤ T), ``X_i = Σ_t x_i(t)`` (≤ T·x_max). Input
neurons have the same trace. **Readout** neurons are LIF neurons with threshold
``readout_threshold`` fed by ``Σ_l Σ_j M^l_kj w̃out^l_kj s^l_j(t)`` (``M`` the small-world mask).

**Decision**: ``n_c = Σ_{k: k mod C = c} Σ_t s_k(t)``; prediction ``argmax_c n_c``, ties to the
lowest class index.

**Teaching and modulation** (label ``y``, ``R = round(ρ·P·T)``)::

    e_c = R·[c = y] − n_c                                  exact integer
    (teaching = "margin": e_c = 0 for c ≠ y with n_c + margin ≤ n_y — only competitors learn)
    m_c = clamp((e_c + 2^(mod_shift−1)) >> mod_shift, −K, K)     round half up, K = mod_levels
    L_i = Σ_c B_ic m_c       B_ic = ±1 fixed feedback signs from rng stream FEEDBACK

**Three-factor update** (stochastic rounding ``SR(v, s) = (v + r) >> s``, ``r`` from
:mod:`.rng`, keyed by ``(seed, stream, sample counter, layer, row, column)``; every result
saturates at ``±(2^(weight_bits−1) − 1)``)::

    readout   Δw_kj = SR(m_{c(k)} · X_j, lr_out)                         where M_kj = 1
    hidden    Δw_ij = SR(L_i · E_ij, lr_hidden + eshift)
      factored  E_ij = H_i · X_j,  eshift = ceil(log2 T)   (≈ the synaptic value times T)
      synaptic  E_ij = Σ_t h_i(t) · x_j(t)                 (recurrent: x_k(t−1)), eshift = 0

Factored mode uses ``X_k`` for recurrent synapses too (the one-step delay is not modelled).
Updates touch only rows whose factor is non-zero (``m_{c(k)} ≠ 0``; ``L_i·H_i ≠ 0``): gating.
Learning rates halve (shift + 1) every ``lr_decay_epochs`` epochs when that is non-zero.

**Float twin** (``model="float"``): same structure in float64, weights in forward units, no
rounding of weights, membranes or traces: ``v − v/2^k``, ``x − x/2^k`` and
``Δw = m·X / 2^(lr + weight_frac)``, saturating at ``±w_max / 2^weight_frac``. The modulatory
levels ``m_c`` stay the same discrete levels (they are spike counts of the modulatory
population, part of the algorithm, not a quantisation of it). The integer forward weight
``floor(w / 2^f)`` is on average ``(1 − 2^−f)/2`` LSB below ``w / 2^f``; this offset acts as
inhibition proportional to input activity and is part of the network, so the twin uses the mean
``w / 2^f − (1 − 2^−f)/2`` (only the rounding noise is removed).

Exactness: integer products are carried out in float64 BLAS; every partial sum is bounded by
``fan-in · 2^(weight_bits − weight_frac − 1) < 2^53`` (checked by :class:`~.config.Config`).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import numpy.typing as npt

from .config import Config
from .rng import Stream, element_words, hash32, key_int, row_keys, signs, stochastic_round, uniform_int
from .topology import RoutingTable, routing_table, small_world_mask

__all__ = ["ForwardResult", "LearnReport", "Network"]

FArray = npt.NDArray[np.float64]
IArray = npt.NDArray[np.int64]
Array = npt.NDArray[Any]


@dataclasses.dataclass
class ForwardResult:
    """What one forward pass over a batch saw.

    ``spikes[l]`` is ``(T, B, n_l)`` (bool) for every hidden layer; ``readout_spikes`` is
    ``(T, B, n_out)``; ``H``, ``X`` the per-neuron sums ``(B, n)`` (``X_in`` for the inputs);
    ``h_steps``/``x_steps`` the per-step values, kept only in synaptic mode; ``counts`` the class
    counts ``(B, C)``; ``membrane``/``trace`` the final states.
    """

    input_spikes: Array
    spikes: list[Array]
    readout_spikes: Array
    H: list[Array]
    X: list[Array]
    X_in: Array
    counts: Array
    prediction: IArray
    membrane: list[Array]
    trace: list[Array]
    readout_membrane: Array
    h_steps: list[Array] | None = None
    x_steps: list[Array] | None = None
    x_in_steps: Array | None = None


@dataclasses.dataclass
class LearnReport:
    """The modulatory signals of one update and the rows it touched (for the cycle model)."""

    error: IArray
    modulation: Array
    learning_signal: list[Array]
    readout_rows: IArray
    hidden_rows: list[IArray]


class Network:
    """The modsnn network of a :class:`Config`, integer (``model="int"``) or float64 twin.

    Parameters are ``ff[l]`` (``n_l × n_pre``), ``rec[l]`` (``n_l × n_l``) and ``out[l]``
    (``n_out × n_l``, zero where the mask is 0). Integer weights are in storage units; float
    weights in forward units.
    """

    def __init__(self, cfg: Config, model: str = "int") -> None:
        if model not in ("int", "float"):
            raise ValueError(f"model must be 'int' or 'float', not {model!r}")
        self.cfg = cfg
        self.model = model
        self.exact = model == "int"
        self.masks = [small_world_mask(cfg.n_readout, n, cfg.readout_density, cfg.rewire_beta,
                                       cfg.seed, layer) for layer, n in enumerate(cfg.hidden)]
        self.tables: list[RoutingTable] = [routing_table(m) for m in self.masks]
        self.feedback = [signs(cfg.seed, Stream.FEEDBACK, layer, n, cfg.n_classes)
                         for layer, n in enumerate(cfg.hidden)]
        self.ff, self.rec, self.out = self._initial_weights()
        self.updates = 0  # sample counter: the "sample" word of the rounding keys
        self._encoder = _encoder_tables(cfg, self.exact)
        self._pattern_tables = _pattern_tables(cfg) if self.exact else None
        self._class_of = np.arange(cfg.n_readout) % cfg.n_classes   # class of readout neuron k
        self._mask_full = [bool(m.all()) for m in self.masks]
        self._refresh_forward_weights()

    # ------------------------------------------------------------------ weights
    def _initial_weights(self) -> tuple[list[Array], list[Array], list[Array]]:
        cfg = self.cfg
        scale = 1 << cfg.weight_frac

        def draw(stream: Stream, layer: int, rows: int, cols: int, bound: int) -> Array:
            words = element_words(row_keys(cfg.seed, stream, 0, layer, np.arange(rows)), np.arange(cols))
            # Uniform on [-bound·2^frac - half, bound·2^frac + half] in storage units, symmetric
            # about 0 so the forward weights are unbiased.
            b = bound * scale + scale // 2
            w = uniform_int(words, -b, b) if bound > 0 else np.zeros((rows, cols), np.int64)
            w = np.clip(w, -cfg.w_max, cfg.w_max)
            return w if self.exact else w.astype(np.float64) / scale

        ff, rec, out = [], [], []
        for layer, n in enumerate(cfg.hidden):
            ff.append(draw(Stream.INIT_FF, layer, n, cfg.layer_inputs(layer), cfg.init_ff[layer]))
            rec_w = draw(Stream.INIT_REC, layer, n, n, cfg.init_rec[layer])
            np.fill_diagonal(rec_w, 0)  # no self-connection
            rec.append(rec_w)
            o = draw(Stream.INIT_OUT, layer, cfg.n_readout, n, cfg.init_out)
            out.append(np.where(self.masks[layer], o, 0 if self.exact else 0.0))
        return ff, rec, out

    def forward_weights(self, w: Array) -> FArray:
        """Weights as the forward pass uses them: ``w >> weight_frac`` (integer, exact), or its
        mean for the float twin, ``w − (1 − 2^−weight_frac) / 2`` (in forward units)."""
        if self.exact:
            return (w >> self.cfg.weight_frac).astype(np.float64)
        return w - self.floor_bias

    @property
    def floor_bias(self) -> float:
        """Mean of ``w/2^f − floor(w/2^f)`` over the ``2^f`` storage values: ``(1 − 2^−f) / 2``."""
        f = self.cfg.weight_frac
        return (1 - 2.0**-f) / 2

    @property
    def state_dtype(self) -> Any:
        """Floating type carrying the integer state: float32 when every value is provably below
        2^24 in magnitude, else float64 (always below 2^53, checked by the configuration)."""
        if not self.exact:
            return np.float64
        return np.float32 if self._state_bound() < 2**24 else np.float64

    def _state_bound(self) -> int:
        """Bound on every integer membrane, current and partial sum: ``2^(membrane_bits−1) +
        fan-in · 2^(weight_bits − weight_frac − 1)``, fan-in the largest of any neuron."""
        cfg = self.cfg
        fan_in = max(max(cfg.layer_inputs(i) + cfg.hidden[i] for i in range(cfg.n_hidden_layers)),
                     sum(cfg.hidden))
        return (1 << (cfg.membrane_bits - 1)) + fan_in * ((cfg.w_max >> cfg.weight_frac) + 1)

    def _refresh_forward_weights(self) -> None:
        """Rebuild the forward-weight caches (kept in step by :meth:`_apply`).

        ``_fwd_ff[l]`` is ``(n_l, n_pre)``. ``_fwd_post[l]`` is ``(n_l, n_l + n_out)``: row ``j``
        holds everything a spike of hidden neuron ``j`` reaches, its recurrent fan-out
        (``[:, :n_l]``, the transposed recurrent weights, diagonal 0) and its readout fan-out
        (``[:, n_l:]``, the transposed masked readout weights), so one product per step feeds both.
        """
        dt = self.state_dtype
        self._fwd_ff = [np.ascontiguousarray(self.forward_weights(w), dtype=dt) for w in self.ff]
        self._fwd_post = []
        for w_rec, w_out, mask in zip(self.rec, self.out, self.masks, strict=True):
            n = w_rec.shape[0]
            post = np.empty((n, n + self.cfg.n_readout), dt)
            rec = self.forward_weights(w_rec)
            np.fill_diagonal(rec, 0)                         # no self-connection
            post[:, :n] = rec.T
            post[:, n:] = np.where(mask, self.forward_weights(w_out), 0).T
            self._fwd_post.append(post)

    def _fwd_rec_t(self, layer: int) -> Array:
        """Transposed recurrent forward weights of ``layer`` (a view into ``_fwd_post``)."""
        return self._fwd_post[layer][:, :self.cfg.hidden[layer]]

    def _fwd_out_t(self, layer: int) -> Array:
        """Transposed masked readout forward weights of ``layer`` (a view into ``_fwd_post``)."""
        return self._fwd_post[layer][:, self.cfg.hidden[layer]:]

    def state_dict(self) -> dict[str, Array]:
        d: dict[str, Array] = {"updates": np.asarray(self.updates, np.int64)}
        for layer in range(self.cfg.n_hidden_layers):
            d[f"ff{layer}"] = self.ff[layer]
            d[f"rec{layer}"] = self.rec[layer]
            d[f"out{layer}"] = self.out[layer]
        return d

    def load_state_dict(self, d: dict[str, Array]) -> None:
        dtype = np.int64 if self.exact else np.float64
        for layer in range(self.cfg.n_hidden_layers):
            for name, target in (("ff", self.ff), ("rec", self.rec), ("out", self.out)):
                arr = np.asarray(d[f"{name}{layer}"])
                if arr.shape != target[layer].shape:
                    raise ValueError(f"weights {name}{layer} have shape {arr.shape}, the configuration "
                                     f"needs {target[layer].shape}")
                target[layer] = np.ascontiguousarray(arr, dtype=dtype)
        self.updates = int(d["updates"])
        self._refresh_forward_weights()

    # ------------------------------------------------------------------ forward
    def encode(self, u: Array) -> tuple[Array, Array, Array]:
        """Input spikes ``(T, B, n_in)``, trace sums ``(B, n_in)`` and traces ``(T, B, n_in)``."""
        spikes_tab, xsum_tab, x_tab = self._encoder
        u = np.asarray(u)
        if u.ndim != 2 or u.shape[1] != self.cfg.n_inputs:
            raise ValueError(f"input must have shape (batch, {self.cfg.n_inputs}), not {u.shape}")
        if u.dtype != np.uint8:
            if np.any(u < 0) or np.any(u > 255):
                raise ValueError("input intensities must be integers in [0, 255]")
            u = u.astype(np.uint8)
        return spikes_tab[:, u], xsum_tab[u], x_tab[:, u]

    def forward(self, u: Array, *, keep_steps: bool | None = None, learning: bool = True) -> ForwardResult:
        """Run ``T`` steps for a batch of 8-bit inputs ``u`` ``(B, n_in)``.

        With ``learning=False`` (inference) the eligibility quantities are not computed:
        ``H``, ``X``, ``trace`` are empty lists and ``X_in`` is empty.
        """
        cfg = self.cfg
        if keep_steps is None:
            keep_steps = cfg.eligibility == "synaptic"
        s_in, x_in_sum, x_in_steps = self.encode(u)
        pre = s_in
        spikes: list[Array] = []
        Hs: list[Array] = []
        Xs: list[Array] = []
        vs: list[Array] = []
        xs: list[Array] = []
        h_steps: list[Array] = []
        x_steps: list[Array] = []
        last = cfg.n_hidden_layers - 1
        readout_in: Array | None = None      # readout current from the layers before the last
        R = v_out = None
        for layer in range(cfg.n_hidden_layers):
            if self.exact and layer == last and s_in.shape[1] == 1:     # one sample: the fused loop
                S, V, v, R, v_out = self._lif_and_readout(pre, layer, readout_in, keep_membranes=learning)
            else:
                S, V, v = self._lif(pre, self._fwd_ff[layer], self._fwd_rec_t(layer), cfg.threshold[layer],
                                    keep_membranes=learning)
                if self.exact and s_in.shape[1] == 1:
                    current = S.astype(self.state_dtype) @ self._fwd_out_t(layer)
                    readout_in = current if readout_in is None else readout_in + current
            spikes.append(S)
            vs.append(v)
            pre = S
            if not learning:
                continue
            assert V is not None
            lo, hi = cfg.boxcar(layer)
            h: Array = (V >= lo) & (V < hi)
            x_final, X, x_hist = self._traces(S, keep_steps)
            Hs.append(h.sum(axis=0, dtype=np.int64))
            Xs.append(X)
            xs.append(x_final)
            if keep_steps:
                assert x_hist is not None
                h_steps.append(h.astype(np.int64))
                x_steps.append(x_hist)
        if R is None or v_out is None:                              # batches and the float twin
            R, _, v_out = self._lif(None, None, None, cfg.readout_threshold, readout_from=spikes,
                                    keep_membranes=False)
        B = R.shape[1]
        counts = R.sum(axis=0).reshape(B, cfg.pop, cfg.n_classes).sum(axis=1).astype(np.int64)
        prediction = np.argmax(counts, axis=1).astype(np.int64)        # ties → lowest index
        return ForwardResult(
            input_spikes=s_in, spikes=spikes, readout_spikes=R, H=Hs, X=Xs, X_in=x_in_sum,
            counts=counts, prediction=prediction, membrane=vs, trace=xs, readout_membrane=v_out,
            h_steps=h_steps if keep_steps else None, x_steps=x_steps if keep_steps else None,
            x_in_steps=x_in_steps if keep_steps else None)

    def _lif(self, pre: Array | None, w_ff: FArray | None, w_rec_t: FArray | None, theta: int,
             readout_from: list[Array] | None = None, keep_membranes: bool = True
             ) -> tuple[Array, Array | None, Array]:
        """LIF dynamics over ``T`` steps: spikes ``(T, B, n)``, pre-reset membranes, final membrane.

        The integer model carries its integer state in floating point (``self.state_dtype``):
        every value is an integer bounded by ``2^(membrane_bits−1) + fan-in·2^(weight_bits −
        weight_frac − 1)``, which :meth:`_state_dtype` checks against the exact range of the
        type (2^24 for float32, 2^53 for float64), so ``v − floor(v / 2^k)`` and every product
        are exact. The float twin runs the same kernel without the ``floor``.
        """
        cfg = self.cfg
        exact = self.exact
        dt = self.state_dtype
        if readout_from is not None:
            i_ff = sum(S.astype(dt) @ self._fwd_out_t(layer) for layer, S in enumerate(readout_from))
        else:
            assert pre is not None and w_ff is not None
            i_ff = pre.astype(dt) @ w_ff.T
        i_ff = np.asarray(i_ff)
        T, B, n = i_ff.shape
        leak_f = dt(2.0 ** -cfg.leak_shift)
        v_min, v_max = dt(cfg.v_min), dt(cfg.v_max)
        theta_f = dt(theta)
        S = np.zeros((T, B, n), bool)
        V = np.empty((T, B, n), dt) if keep_membranes else None
        v = np.zeros((B, n), dt)
        decay = np.empty((B, n), dt)
        for t in range(T):
            np.multiply(v, leak_f, out=decay)
            if exact:
                np.floor(decay, out=decay)                   # v >> leak_shift
            v -= decay
            v += i_ff[t]
            if w_rec_t is not None and t > 0:
                if B == 1:
                    idx = np.flatnonzero(S[t - 1, 0])
                    if idx.size:
                        v += w_rec_t[idx].sum(axis=0)
                else:
                    v += S[t - 1].astype(dt) @ w_rec_t
            v.clip(v_min, v_max, out=v)                      # saturate at membrane_bits
            if V is not None:
                V[t] = v
            np.greater_equal(v, theta_f, out=S[t])
            np.copyto(decay, S[t])                           # reset by subtraction
            decay *= theta_f
            v -= decay
        return S, V, (v.astype(np.int64) if exact else v)

    def _lif_and_readout(self, pre: Array, layer: int, readout_in: Array | None, keep_membranes: bool
                         ) -> tuple[Array, Array | None, IArray, Array, IArray]:
        """The last hidden layer and the readout of one sample in one loop of ``T + 1`` steps
        (integer model, batch of 1).

        Loop step ``g`` advances hidden step ``g`` and readout step ``g − 1`` side by side in one
        state vector ``[v_hidden | v_readout]``: both are fed by the hidden spikes of step
        ``g − 1`` through their rows of ``_fwd_post[layer]`` (recurrent and readout fan-out),
        plus the feed-forward current of step ``g`` and the readout current ``readout_in`` of the
        earlier layers at step ``g − 1``. Every operation is :meth:`_lif`'s, element by element
        (same leak, clamp, threshold and reset by subtraction; the readout at step −1 and the
        hidden layer at step ``T`` are idle and discarded), and every sum is of integers below the
        bound of :attr:`state_dtype`, exact in any order, so the result equals running the hidden
        layer and then the readout. The leak ``v − floor(v / 2^k)`` is computed as
        ``ceil(v · (1 − 2^−k))`` (equal for integer ``v``) when :attr:`_leak_product_exact` says
        that product is exact in the state type. Returns hidden spikes ``(T, 1, n)``, pre-reset
        membranes, final hidden membrane, readout spikes ``(T, 1, n_out)``, final readout membrane.
        """
        cfg = self.cfg
        dt = self.state_dtype
        post = self._fwd_post[layer]
        n, width = post.shape
        T = pre.shape[0]
        ext = np.zeros((T + 1, width), dt)
        w_ff = self._fwd_ff[layer]
        pre1 = pre[:, 0]
        active = np.flatnonzero(pre1.any(axis=0))             # inputs that spike at all
        if 2 * active.size < pre1.shape[1]:                   # silent inputs add nothing: skip their columns
            ext[:T, :n] = np.asarray(pre1[:, active], dtype=dt) @ w_ff[:, active].T
        else:
            ext[:T, :n] = np.asarray(pre1, dtype=dt) @ w_ff.T
        if readout_in is not None:
            ext[1:, n:] = readout_in[:, 0]
        theta = np.empty(width, dt)
        theta[:n] = cfg.threshold[layer]
        theta[n:] = cfg.readout_threshold
        leak_f = dt(2.0 ** -cfg.leak_shift)
        keep_f = dt(1 - 2.0 ** -cfg.leak_shift)
        fast_leak = self._leak_product_exact
        v_min, v_max = dt(cfg.v_min), dt(cfg.v_max)
        S = np.zeros((T + 1, width), bool)
        V = np.empty((T + 1, width), dt) if keep_membranes else None
        v = np.zeros(width, dt)
        decay = np.empty(width, dt)
        v_hidden = np.zeros(n, np.int64)
        for g in range(T + 1):
            if fast_leak:
                v *= keep_f
                np.ceil(v, out=v)                            # v − (v >> leak_shift)
            else:
                np.multiply(v, leak_f, out=decay)
                np.floor(decay, out=decay)                   # v >> leak_shift
                v -= decay
            v += ext[g]
            if g:                                            # add the rows of the neurons that spiked
                spiking = np.flatnonzero(S[g - 1, :n])
                if spiking.size:
                    v += post[spiking].sum(axis=0)
            v.clip(v_min, v_max, out=v)                      # saturate at membrane_bits
            if V is not None:
                V[g] = v
            s = S[g]
            np.greater_equal(v, theta, out=s)
            np.copyto(decay, s)                              # reset by subtraction
            decay *= theta
            v -= decay
            if g == T - 1:
                v_hidden = v[:n].astype(np.int64)
        return (np.ascontiguousarray(S[:T, None, :n]), None if V is None else V[:T, None, :n], v_hidden[None],
                np.ascontiguousarray(S[1:, None, n:]), v[None, n:].astype(np.int64))

    @property
    def _leak_product_exact(self) -> bool:
        """Whether ``v · (2^k − 1)`` is exact in :attr:`state_dtype` for every reachable ``v``
        (its bound times ``2^leak_shift − 1`` below 2^24 for float32, 2^53 for float64), so that
        ``v · (1 − 2^−k)`` is exact too."""
        mantissa = 24 if self.state_dtype == np.float32 else 53
        return self._state_bound() * ((1 << self.cfg.leak_shift) - 1) < 2**mantissa

    def _traces(self, S: Array, keep_steps: bool) -> tuple[Array, Array, Array | None]:
        """Final trace, trace sum ``X`` and (optionally) per-step traces of spike trains ``S``.

        The trace of a neuron depends only on its own spike train, so for ``T ≤ 20`` the integer
        model looks ``X`` and the final trace up in tables indexed by the spike pattern.
        """
        cfg = self.cfg
        if self._pattern_tables is not None and not keep_steps:
            packed = np.packbits(S, axis=0, bitorder="little").astype(np.int64)
            pattern = packed[0]
            for byte in range(1, packed.shape[0]):
                pattern = pattern | (packed[byte] << (8 * byte))
            x_sum_tab, x_last_tab = self._pattern_tables
            return x_last_tab[pattern], x_sum_tab[pattern], None
        T = S.shape[0]
        x: Array = np.zeros(S.shape[1:], np.int64 if self.exact else np.float64)
        X: Array = np.zeros_like(x)
        hist = np.zeros(S.shape, x.dtype) if keep_steps else None
        for t in range(T):
            x = _trace_step(cfg, x, S[t], self.exact)
            X = X + x
            if hist is not None:
                hist[t] = x
        return x, X, hist

    def predict(self, U: Array, batch: int = 512) -> IArray:
        """Predictions for many samples, ``batch`` at a time (results do not depend on ``batch``)."""
        out = [self.forward(U[i:i + batch], keep_steps=False, learning=False).prediction
               for i in range(0, len(U), batch)]
        return np.concatenate(out) if out else np.zeros(0, np.int64)

    # ------------------------------------------------------------------ learning
    def modulation(self, counts: Array, label: int) -> tuple[IArray, Array]:
        """Error ``e_c`` and modulatory levels ``m_c`` for one sample."""
        cfg = self.cfg
        if not 0 <= label < cfg.n_classes:
            raise ValueError(f"label must be in [0, {cfg.n_classes - 1}], not {label!r}")
        n = np.asarray(counts, np.int64)
        e = -n.copy()
        if cfg.teaching == "margin":   # only competitors within the margin of the label are taught
            e[n + cfg.teach_margin <= n[label]] = 0
        e[label] = cfg.target_count - n[label]
        K = cfg.mod_levels
        if self.exact:
            half = (1 << (cfg.mod_shift - 1)) if cfg.mod_shift > 0 else 0
            m: Array = np.minimum(np.maximum((e + half) >> cfg.mod_shift, -K), K)
        else:  # the levels of the modulatory population are discrete in the twin too
            m = np.minimum(np.maximum(np.floor(e / 2.0**cfg.mod_shift + 0.5), -K), K)
        return e, m

    def learn(self, fwd: ForwardResult, label: int, lr_extra: int = 0) -> LearnReport:
        """Apply the three-factor update for the single sample of ``fwd`` (batch of 1)."""
        cfg = self.cfg
        if fwd.counts.shape[0] != 1:
            raise ValueError(f"learn() takes a forward pass of one sample, not {fwd.counts.shape[0]}")
        e, m = self.modulation(fwd.counts[0], label)
        sample = self.updates
        updates: list[_Update] = []
        # ---- readout: Δw_kj = SR(m_c(k) · X_j, lr_out), masked
        m_k = m[self._class_of]                                        # m of class k mod C
        out_rows = np.flatnonzero(m_k)
        shift_out = cfg.lr_shift_out + lr_extra
        for layer in range(cfg.n_hidden_layers):
            X = fwd.X[layer][0]
            cols = np.flatnonzero(X)
            if out_rows.size and cols.size:
                V = m_k[out_rows, None] * X[None, cols]
                updates.append(_Update("out", layer, out_rows, cols, V, Stream.ROUND_OUT, shift_out))
        # ---- hidden: broadcast alignment L_i = Σ_c B_ic m_c, Δw_ij = SR(L_i E_ij, lr + eshift)
        signals, hidden_rows = [], []
        for layer in range(cfg.n_hidden_layers):
            L = self.feedback[layer] @ m
            signals.append(L)
            if not cfg.learn_hidden:
                hidden_rows.append(np.zeros(0, np.int64))
                continue
            H = fwd.H[layer][0]
            rows = np.flatnonzero((L != 0) & (H != 0))
            hidden_rows.append(rows)
            if rows.size == 0:
                continue
            shift = cfg.lr_shift_hidden[layer] + cfg.eligibility_shift + lr_extra
            X_pre = fwd.X_in[0] if layer == 0 else fwd.X[layer - 1][0]
            X_own = fwd.X[layer][0]
            if cfg.eligibility == "factored":
                G = L[rows] * H[rows]
                for kind, Xp, stream in (("ff", X_pre, Stream.ROUND_FF), ("rec", X_own, Stream.ROUND_REC)):
                    cols = np.flatnonzero(Xp)
                    if cols.size:
                        updates.append(_Update(kind, layer, rows, cols, G[:, None] * Xp[None, cols], stream, shift))
            else:
                assert fwd.h_steps is not None and fwd.x_steps is not None and fwd.x_in_steps is not None
                h = fwd.h_steps[layer][:, 0, rows]                     # (T, r)
                xp = fwd.x_in_steps[:, 0] if layer == 0 else fwd.x_steps[layer - 1][:, 0]
                xo = fwd.x_steps[layer][:, 0]
                xo_prev = np.concatenate([np.zeros_like(xo[:1]), xo[:-1]], axis=0)
                for kind, xpre, stream in (("ff", xp, Stream.ROUND_FF), ("rec", xo_prev, Stream.ROUND_REC)):
                    cols = np.flatnonzero(xpre.sum(axis=0))
                    if cols.size:
                        E = h.T.astype(np.float64) @ xpre[:, cols].astype(np.float64)   # exact, < 2^53
                        if self.exact:
                            E = E.astype(np.int64)
                        updates.append(_Update(kind, layer, rows, cols, L[rows, None] * E, stream, shift))
        self._apply(updates, sample)
        self.updates += 1
        return LearnReport(error=e, modulation=m, learning_signal=signals, readout_rows=out_rows,
                           hidden_rows=hidden_rows)

    def _apply(self, updates: list[_Update], sample: int) -> None:
        """``W[rows, cols] ← sat(W + SR(V, shift))`` for every update of one sample, where the
        synapse exists (readout: inside the mask; recurrent: off the diagonal).

        Synapses outside the mask or on the diagonal are left out before any work (their weight
        stays 0), so every update becomes a flat list of synapses. All rounding words of the
        sample come from two hash passes, one over the row keys ``key(seed, stream, sample,
        layer, i)`` of every update and one over the element words ``H(rowkey_i ^ j)``: the
        same words, synapse by synapse, as :func:`~.rng.row_keys` and :func:`~.rng.element_words`.
        """
        cfg = self.cfg
        weights = {"ff": self.ff, "rec": self.rec, "out": self.out}
        flat: list[tuple[_Update, IArray, IArray, Array, Array | None]] = []
        for u in updates:
            W = weights[u.kind][u.layer]
            if not W.flags.c_contiguous:
                W = weights[u.kind][u.layer] = np.ascontiguousarray(W)
            n_cols = W.shape[1]
            index = u.rows[:, None] * n_cols + u.cols[None, :]         # into W, flattened
            if u.kind == "ff":
                cache_index = index
            else:                                                      # into _fwd_post (transposed)
                width = self._fwd_post[u.layer].shape[1]
                offset = 0 if u.kind == "rec" else cfg.hidden[u.layer]
                cache_index = u.cols[None, :] * width + (u.rows[:, None] + offset)
            keep: Array | None = None
            if u.kind == "rec":
                keep = u.rows[:, None] != u.cols[None, :]
            elif u.kind == "out" and not self._mask_full[u.layer]:
                keep = self.masks[u.layer].reshape(-1)[index]
            element: Array | None = None
            if self.exact:
                element = _word_grid(u.rows, u.cols)                   # (i, j), row keys xor-ed in later
            if keep is not None:
                index, cache_index, V = index[keep], cache_index[keep], u.V[keep]
                element = element[keep] if element is not None else None
            else:
                index, cache_index, V = index.ravel(), cache_index.ravel(), u.V.ravel()
                element = element.ravel() if element is not None else None
            flat.append((u, index, cache_index, V, element))
        if not flat:
            return
        words: list[Array] = []
        if self.exact:
            prefixes = [np.uint32(key_int(cfg.seed, int(u.stream), sample & 0xFFFF_FFFF, u.layer))
                        for u, *_ in flat]
            keys = hash32(np.concatenate([p ^ u.rows.astype(np.uint32) for p, (u, *_) in
                                          zip(prefixes, flat, strict=True)]))
            grids = []
            start = 0
            for u, _, _, _, element in flat:
                assert element is not None
                row_key = keys[start:start + u.rows.size]
                start += u.rows.size
                grids.append(row_key[element >> 32] ^ (element & 0xFFFF_FFFF).astype(np.uint32))
            sizes = np.cumsum([g.size for g in grids])[:-1]
            words = np.split(hash32(np.concatenate(grids)), sizes)
        for n, (u, index, cache_index, V, _) in enumerate(flat):
            W = weights[u.kind][u.layer]
            cache = self._fwd_ff[u.layer] if u.kind == "ff" else self._fwd_post[u.layer]
            W_flat, cache_flat = W.reshape(-1), cache.reshape(-1)
            if self.exact:
                delta = stochastic_round(V.astype(np.int64), words[n], u.shift)
                new = np.minimum(np.maximum(W_flat[index] + delta, -cfg.w_max), cfg.w_max)
            else:
                delta_f = V / 2.0 ** (u.shift + cfg.weight_frac)
                bound = cfg.w_max / 2.0**cfg.weight_frac
                new = np.minimum(np.maximum(W_flat[index] + delta_f, -bound), bound)
            W_flat[index] = new
            cache_flat[cache_index] = self.forward_weights(new)

    def train_step(self, u: Array, label: int, lr_extra: int = 0) -> tuple[ForwardResult, LearnReport]:
        """Forward one sample ``u`` ``(n_in,)`` and learn from ``label``."""
        fwd = self.forward(np.asarray(u).reshape(1, -1))
        return fwd, self.learn(fwd, int(label), lr_extra)


@dataclasses.dataclass(frozen=True)
class _Update:
    """One block of a weight update: ``Δw[rows × cols] = SR(V, shift)`` of matrix ``kind``."""

    kind: str                 # "ff", "rec" or "out"
    layer: int
    rows: IArray
    cols: IArray
    V: Array                  # (rows, cols): the product to round, m·X or L·E
    stream: Stream
    shift: int


def _word_grid(rows: IArray, cols: IArray) -> IArray:
    """``(i << 32) | j`` for the grid ``rows × cols``: row position ``i`` and column word ``j``."""
    return (np.arange(rows.size, dtype=np.int64)[:, None] << 32) | cols[None, :]


def _encoder_tables(cfg: Config, exact: bool) -> tuple[Array, Array, Array]:
    """Per-intensity spike trains ``(T, 256)``, trace sums ``(256,)`` and traces ``(T, 256)``.

    The encoder is deterministic, so each of the 256 intensities has one spike train and one
    input-trace history; the forward pass looks them up.
    """
    T = cfg.timesteps
    u = np.arange(256, dtype=np.int64)
    acc = np.zeros(256, np.int64)
    spikes = np.zeros((256, T), bool)
    traces = np.zeros((256, T), np.int64 if exact else np.float64)
    x = np.zeros(256, np.int64 if exact else np.float64)
    for t in range(T):
        acc = acc + u
        s = acc >= 256
        acc = acc - 256 * s
        spikes[:, t] = s
        x = _trace_step(cfg, x, s, exact)
        traces[:, t] = x
    return np.ascontiguousarray(spikes.T), traces.sum(axis=1), np.ascontiguousarray(traces.T)


def _trace_step(cfg: Config, x: Array, s: Array, exact: bool) -> Array:
    """``x ← min(x − ceil(x / 2^k) + A·s, x_max)`` (float twin: ``x − x / 2^k``)."""
    if exact:
        x = x - ((x + ((1 << cfg.trace_shift) - 1)) >> cfg.trace_shift) + cfg.trace_amp * s
    else:
        x = x - x * 2.0**-cfg.trace_shift + cfg.trace_amp * s
    return np.minimum(x, cfg.x_max)


def _pattern_tables(cfg: Config) -> tuple[IArray, IArray] | None:
    """Trace sum and final trace for every spike pattern of ``T ≤ 20`` steps (bit ``t`` = step ``t``)."""
    T = cfg.timesteps
    if T > 20:
        return None
    patterns = np.arange(1 << T, dtype=np.int64)
    x = np.zeros(patterns.size, np.int64)
    total = np.zeros(patterns.size, np.int64)
    for t in range(T):
        x = _trace_step(cfg, x, (patterns >> t) & 1, True)
        total += x
    return total, x
