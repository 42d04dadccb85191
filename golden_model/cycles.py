"""Per-phase cycle-count model of the accelerator, fed by the events the golden model saw.

The RTL (:mod:`modsnn.hw.top`) runs the phases of a sample one after the other, each starting in
the cycle the previous one is done, and every phase's length is a closed formula of the events,
which the golden model knows exactly. Symbols: ``B = lanes × cores`` banks; a population of ``n``
neurons occupies ``q = ⌈n / B⌉`` words; ``W_l[j]`` the readout routing words of hidden neuron
``j`` of layer ``l`` (:func:`~modsnn.golden_model.topology.lane_routes` with ``B`` banks);
``sw(s) = Σ_words max(1, spikes in the word)`` for a spike vector ``s`` laid out in words of ``B``;
``run(e) = run_overhead + Σ_e max(1, words of e)`` for a run of events ``e``, or ``empty_run``
when it has none; the constants are those of :class:`CycleCosts`.

============  =====================================================================================
phase         cycles of one sample
============  =====================================================================================
sweep         clear ``max(Σ_l q_l + q_out, q_in) + clear_overhead``; per step and population
              ``sweep_overhead + sw(spikes)`` (hidden layers and the readout); ``finish`` (1)
integration   per step: ``max(encode_overhead + sw(input spikes), run(REC_0))`` (the encoder and the
              recurrent events of layer 0 overlap), ``run(FF_0)``, ``run(OUT_{l−1}, REC_l, FF_l)``
              for ``l ≥ 1``, ``run(OUT_{D−1})``; dense events have ``q_l`` words, readout events
              ``W_l[j]``
decide        ``C + decide_overhead``
plasticity    (training, some ``m_c ≠ 0``) ``learn_overhead + 3·D``; per layer ``l``:
              readout keys ``q_out + key_gap``; readout pass ``walk_overhead + r·Σ_j c_j`` with
              ``c_j = max(1, W_l[j])`` if ``X_j ≠ 0`` else 1; when hidden layers learn: keys
              ``3·q_l + key_gap``, signs ``C·q_l + sign_overhead``, hidden pass ``walk_overhead +
              r·Σ_a (n_{l−1} + n_l if a row of group a has L_i·H_i ≠ 0 else 1)``; ``r = 1`` with
              dual-port weight memories, ``r = 2`` with single-port ones (``weight_ports = 1``: a
              weight is read and written in different cycles)
============  =====================================================================================

Nothing depends on how the ``B`` banks are split into cores and lanes, only on ``B``. The cocotb
top-level test holds the RTL to this model with exact equality, so a count measured in simulation
can be projected to sizes and devices that were not simulated.
"""

from __future__ import annotations

import dataclasses
import functools
from types import SimpleNamespace
from typing import cast

import numpy as np

from .config import Config
from .network import ForwardResult, LearnReport
from .topology import LaneRoutes, lane_routes, small_world_mask

__all__ = ["CycleCosts", "PhaseCycles", "Projection", "bank_routes", "max_sample_cycles", "project", "sample_cycles"]


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


@dataclasses.dataclass(frozen=True)
class CycleCosts:
    """Fixed overheads of the RTL's units, in clock cycles (see each unit's docstring)."""

    clear_overhead: int = 1        # sequencer: the clear phase's hand-over
    encode_overhead: int = 6       # encoder: step → first word in the serializer, and done
    run_overhead: int = 12         # dispatcher: start registered (1), fetch (5), hand-over (1), drain (5)
    empty_run: int = 3             # dispatcher: start, start registered, and the look at the (live) list lengths
    sweep_overhead: int = 7        # sweeper: issue (1), core and bank pipeline (5), serializer (1)
    decide_overhead: int = 5       # modulator: the last count lands (2), the walk's pipeline (3)
    finish: int = 1
    learn_overhead: int = 28       # learner: prefix keys (2 result latencies, 3 jobs, hand-overs), done
    key_gap: int = 9               # row keys written before they are read
    walk_overhead: int = 21        # walker → X read → FIFO → issuer (6), drain to the last write (15)
    sign_overhead: int = 13        # the last gate bit back at the learner

    @classmethod
    def for_config(cls, cfg: Config) -> CycleCosts:
        """The costs of ``cfg``'s RTL. The defaults are those of a plasticity hash with 6 registers;
        each register fewer (``hash_stages``, :class:`modsnn.hw.bank.JobStages`) shortens the
        result latency (2 per pass), the key gap, the drain and the gate latency by one cycle:
        ``learn_overhead = 2h + 16``, ``key_gap = h + 3``, ``walk_overhead = h + 15``,
        ``sign_overhead = h + 7``."""
        h = cfg.hash_stages
        return cls(learn_overhead=2 * h + 16, key_gap=h + 3, walk_overhead=h + 15, sign_overhead=h + 7)


@dataclasses.dataclass(frozen=True)
class PhaseCycles:
    integration: int
    sweep: int
    plasticity: int

    @property
    def total(self) -> int:
        return self.integration + self.sweep + self.plasticity

    def __add__(self, other: PhaseCycles) -> PhaseCycles:
        return PhaseCycles(self.integration + other.integration, self.sweep + other.sweep,
                           self.plasticity + other.plasticity)


@functools.lru_cache(maxsize=64)
def bank_routes(cfg: Config, layer: int) -> LaneRoutes:
    """The readout routing image of hidden layer ``layer`` for ``lanes × cores`` banks."""
    mask = small_world_mask(cfg.n_readout, cfg.hidden[layer], cfg.readout_density, cfg.rewire_beta, cfg.seed, layer)
    return lane_routes(mask, cfg.lanes * cfg.cores)


def _sweep_words(spikes: np.ndarray, banks: int) -> np.ndarray:
    """``Σ_words max(1, spikes in the word)`` per step, for ``spikes`` ``(T, n)``."""
    T, n = spikes.shape
    q = _ceil_div(n, banks)
    padded = np.zeros((T, q * banks), np.int64)
    padded[:, :n] = spikes
    return np.maximum(padded.reshape(T, q, banks).sum(axis=2), 1).sum(axis=1)


def _run(events: int, words: int, costs: CycleCosts) -> int:
    return costs.run_overhead + words if events else costs.empty_run


def sample_cycles(cfg: Config, fwd: ForwardResult, batch_index: int = 0, report: LearnReport | None = None,
                  costs: CycleCosts | None = None) -> PhaseCycles:
    """Cycles of one sample (``batch_index`` of ``fwd``); plasticity when ``report`` is given
    (``costs``: :meth:`CycleCosts.for_config` of ``cfg`` unless given)."""
    costs = costs or CycleCosts.for_config(cfg)
    T, C, D = cfg.timesteps, cfg.n_classes, cfg.n_hidden_layers
    B = cfg.lanes * cfg.cores
    q = [_ceil_div(n, B) for n in cfg.hidden]
    q_out, q_in = _ceil_div(cfg.n_readout, B), _ceil_div(cfg.n_inputs, B)
    s_in = fwd.input_spikes[:, batch_index].astype(np.int64)                       # (T, n_in)
    hidden = [fwd.spikes[l][:, batch_index].astype(np.int64) for l in range(D)]    # (T, n_l)
    out_words = [np.maximum(bank_routes(cfg, l).words, 1) for l in range(D)]
    count = [h.sum(axis=1) for h in hidden]                                         # spikes per step
    previous = [np.concatenate([[0], c[:-1]]) for c in count]                       # at t − 1
    out_cost = [hidden[l] @ out_words[l] for l in range(D)]                         # Σ max(1, W) per step
    sweep = costs.clear_overhead + max(sum(q) + q_out, q_in) + costs.finish
    sweep += int(sum(_sweep_words(h, B).sum() for h in hidden)) + T * (D + 1) * costs.sweep_overhead
    sweep += int(_sweep_words(fwd.readout_spikes[:, batch_index].astype(np.int64), B).sum())
    encode = costs.encode_overhead + _sweep_words(s_in, B)
    integration = 0
    for t in range(T):
        integration += max(int(encode[t]), _run(previous[0][t], previous[0][t] * q[0], costs))
        integration += _run(s_in[t].sum(), s_in[t].sum() * q[0], costs)
        for l in range(1, D):
            events = count[l - 1][t] + previous[l][t] + count[l - 1][t]
            integration += _run(events, out_cost[l - 1][t] + (previous[l][t] + count[l - 1][t]) * q[l], costs)
        integration += _run(count[D - 1][t], out_cost[D - 1][t], costs)
    sweep += C + costs.decide_overhead
    plasticity = 0
    if report is not None and np.any(report.modulation):
        r = 3 - cfg.weight_ports                                              # cycles per weight update slot
        plasticity = costs.learn_overhead + 3 * D
        for l in range(D):
            X = np.asarray(fwd.X[l][batch_index])
            walk = costs.walk_overhead
            plasticity += q_out + costs.key_gap + walk + r * int(np.where(X != 0, out_words[l], 1).sum())
            if not cfg.learn_hidden:
                continue
            gated = np.unique(np.asarray(report.hidden_rows[l]) // B).size
            plasticity += 3 * q[l] + costs.key_gap + C * q[l] + costs.sign_overhead + walk
            plasticity += r * (gated * (cfg.layer_inputs(l) + cfg.hidden[l]) + (q[l] - gated))
    return PhaseCycles(int(integration), int(sweep), int(plasticity))


@functools.lru_cache(maxsize=64)
def max_sample_cycles(cfg: Config) -> PhaseCycles:
    """An upper bound on the cycles of any training sample of ``cfg``: :func:`sample_cycles` with
    every input, hidden and readout neuron spiking at every step, every trace sum ``X`` non-zero,
    every hidden row gated and the modulation on. Every term of the model grows with these (a run
    with events costs ``run_overhead + words ≥ empty_run``, a word ``max(1, spikes)``), so no
    sample takes longer; the RTL's cycle counters are as wide as this bound needs."""
    T = cfg.timesteps

    def spiking(n: int) -> np.ndarray:
        return np.ones((T, 1, n), dtype=bool)
    fwd = SimpleNamespace(input_spikes=spiking(cfg.n_inputs), spikes=[spiking(n) for n in cfg.hidden],
                          readout_spikes=spiking(cfg.n_readout), X=[np.ones((1, n), np.int64) for n in cfg.hidden])
    report = SimpleNamespace(modulation=np.ones(cfg.n_classes, np.int64),
                             hidden_rows=[np.arange(n) for n in cfg.hidden])
    return sample_cycles(cfg, cast(ForwardResult, fwd), 0, cast(LearnReport, report))


@dataclasses.dataclass(frozen=True)
class Projection:
    """Accelerator throughput of a configuration, projected from the cycle model."""

    config: str
    lanes: int
    samples: int
    cycles_per_sample: PhaseCycles                # mean, training
    synaptic_ops_per_sample: float                # accumulations + plasticity read-modify-writes
    cores: int = 1
    inference_cycles: float = 0.0                 # mean, inference
    integration_ops_per_sample: float = 0.0       # the accumulations alone (the integration phase's work)

    @property
    def banks(self) -> int:
        return self.lanes * self.cores

    @property
    def ops_per_cycle(self) -> float:
        return self.synaptic_ops_per_sample / max(1, self.cycles_per_sample.total)

    @property
    def integration_ops_per_cycle(self) -> float:
        """Synaptic accumulations per clock during the integration phase (of the ``banks`` peak)."""
        return self.integration_ops_per_sample / max(1, self.cycles_per_sample.integration)

    def samples_per_second(self, fmax_hz: float) -> float:
        return fmax_hz / max(1, self.cycles_per_sample.total)


def project(cfg: Config, data_x: np.ndarray, data_y: np.ndarray, samples: int = 50) -> Projection:
    """Train the golden model on ``samples`` samples and average the RTL's cycles and synaptic
    operations per training sample (the events a real run produces, not a synthetic guess).

    Synaptic operations: every accumulation of a weight into a membrane current (input and
    recurrent events × ``n``, hidden spikes × their readout fan-out) and every plasticity
    read-modify-write of a gated-on synapse."""
    from .network import Network

    net = Network(cfg)
    total = PhaseCycles(0, 0, 0)
    inference = 0
    ops = accumulations = 0
    for i in range(samples):
        fwd, report = net.train_step(data_x[i], int(data_y[i]))
        total = total + sample_cycles(cfg, fwd, report=report)
        inference += sample_cycles(cfg, fwd).total
        pre = int(fwd.input_spikes[:, 0].sum())
        modulated = np.tile(report.modulation, cfg.pop) != 0
        for layer, n in enumerate(cfg.hidden):
            own = fwd.spikes[layer][:, 0]
            mask = net.masks[layer]
            accumulated = (pre + int(own[:-1].sum())) * n + int(own.sum(axis=0) @ mask.sum(axis=0))
            ops += accumulated
            accumulations += accumulated
            ops += int(mask[modulated][:, np.asarray(fwd.X[layer][0]) != 0].sum())
            ops += report.hidden_rows[layer].size * (cfg.layer_inputs(layer) + n - 1)
            pre = int(own.sum())
    mean = PhaseCycles(total.integration // samples, total.sweep // samples, total.plasticity // samples)
    return Projection(cfg.name, cfg.lanes, samples, mean, ops / samples, cfg.cores, inference / samples,
                      accumulations / samples)
