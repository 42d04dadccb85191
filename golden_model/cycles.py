"""Per-phase cycle-count model of the accelerator, fed by the events the golden model saw.

The RTL (:mod:`modsnn.hw.top`) runs every phase to completion before the next, and every unit's
cost is a function of the spikes and of the gated rows, which the golden model knows exactly,
so the count of each phase is a closed formula. With ``L = lanes`` synapse lanes, ``n`` hidden
neurons, ``K = ceil(n / L)`` words per dense column, ``words[j]`` the readout routing words of
hidden neuron ``j`` (:class:`~modsnn.golden_model.topology.LaneRoutes`) and the constants of
:class:`CycleCosts`:

============  =====================================================================================
phase         cycles of one sample
============  =====================================================================================
integration   every input spike and every hidden spike of ``t−1`` (recurrent): ``K + event_overhead``;
              every hidden spike ``j`` (to the readout): ``words[j] + event_overhead``; plus
              ``replay_overhead`` per step (the replay phase's control).
sweep         clear ``max(n_in, n, n_out) + clear_overhead``; per step the encoder
              ``n_in + encode_overhead``, the hidden core ``n + hidden_overhead``, the readout
              ``n_out + readout_overhead``; the decision ``C + decide_overhead``.
plasticity    (training, some ``m_c ≠ 0``) ``learn_overhead``; readout pass: per hidden neuron
              ``source_overhead`` plus ``words[j]`` when ``X_j ≠ 0``; hidden pass: per group of
              ``L`` rows ``L + C + group_overhead`` plus ``n_in + n`` when a row of the group is
              gated (``L_i·H_i ≠ 0``). With every ``m_c = 0``: ``idle_learn_overhead``.
============  =====================================================================================

``cores > 1`` (not in the RTL yet) is projected by slicing every hidden layer into ``cores``
contiguous slices working in parallel: ``n`` becomes ``ceil(n / cores)`` in the dense costs and
the busiest slice sets the hidden plasticity time. The constants are the RTL's; the cocotb
top-level test holds the RTL to this model with exact equality, so a count measured in
simulation can be projected to sizes and devices that were not simulated.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from .config import Config
from .network import ForwardResult, LearnReport
from .topology import readout_routes

__all__ = ["CycleCosts", "PhaseCycles", "Projection", "project", "sample_cycles"]


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


@dataclasses.dataclass(frozen=True)
class CycleCosts:
    """Fixed overheads of the RTL's pipelines and controller, in clock cycles."""

    event_overhead: int = 1        # router: the accept cycle of an event
    sweep_latency: int = 2         # neuron core: read + write pipeline of a sweep
    replay_overhead: int = 2       # per step: replay phase control
    clear_overhead: int = 1
    encode_overhead: int = 2
    hidden_overhead: int = 3
    readout_overhead: int = 2
    decide_overhead: int = 1
    learn_overhead: int = 9        # strobe, 6 prefix-key hash passes, hand-back
    idle_learn_overhead: int = 3
    source_overhead: int = 2       # readout pass: read X_j and the routing pointer
    group_overhead: int = 5        # hidden pass: H read latency, 3 row keys, gate


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


def sample_cycles(cfg: Config, fwd: ForwardResult, batch_index: int = 0, report: LearnReport | None = None,
                  costs: CycleCosts = CycleCosts()) -> PhaseCycles:
    """Cycles of one sample (``batch_index`` of ``fwd``); plasticity when ``report`` is given."""
    T, L, cores, C = cfg.timesteps, cfg.lanes, cfg.cores, cfg.n_classes
    integration = T * costs.replay_overhead
    sweep = (max(cfg.n_inputs, cfg.n_readout, *cfg.hidden) + costs.clear_overhead
             + T * (cfg.n_inputs + costs.encode_overhead + cfg.n_readout + costs.readout_overhead)
             + C + costs.decide_overhead)
    pre_events = fwd.input_spikes[:, batch_index].sum(axis=1)            # (T,)
    for layer, n in enumerate(cfg.hidden):
        dense = _ceil_div(_ceil_div(n, cores), L) + costs.event_overhead
        own = fwd.spikes[layer][:, batch_index]                           # (T, n)
        own_events = own.sum(axis=1)
        integration += int(pre_events.sum() + own_events[:-1].sum()) * dense
        words = readout_routes(cfg, layer).words
        integration += int((own.astype(np.int64) @ (words + costs.event_overhead)).sum())
        sweep += T * (_ceil_div(n, cores) + costs.hidden_overhead)
        pre_events = own_events
    plasticity = 0
    if report is not None:
        if not np.any(report.modulation):
            return PhaseCycles(integration, sweep, costs.idle_learn_overhead)
        plasticity = costs.learn_overhead
        for layer, n in enumerate(cfg.hidden):
            words = readout_routes(cfg, layer).words
            active = np.asarray(fwd.X[layer][batch_index]) != 0
            plasticity += n * costs.source_overhead + int(words[active].sum())
            if not cfg.learn_hidden:
                continue
            slice_size = _ceil_div(n, cores)
            groups = _ceil_div(slice_size, L)
            rows = report.hidden_rows[layer]
            gated = np.unique(np.stack([rows // slice_size, (rows % slice_size) // L]), axis=1) \
                if rows.size else np.zeros((2, 0), np.int64)
            busiest = int(np.bincount(gated[0], minlength=cores).max()) if gated.size else 0
            plasticity += groups * (L + C + costs.group_overhead) + busiest * (cfg.layer_inputs(layer) + n)
    return PhaseCycles(integration, sweep, plasticity)


@dataclasses.dataclass(frozen=True)
class Projection:
    """Accelerator throughput of a configuration, projected from the cycle model."""

    config: str
    lanes: int
    samples: int
    cycles_per_sample: PhaseCycles                # mean, training
    synaptic_ops_per_sample: float                # accumulations + plasticity read-modify-writes

    @property
    def ops_per_cycle(self) -> float:
        return self.synaptic_ops_per_sample / max(1, self.cycles_per_sample.total)

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
    ops = 0
    for i in range(samples):
        fwd, report = net.train_step(data_x[i], int(data_y[i]))
        total = total + sample_cycles(cfg, fwd, report=report)
        pre = int(fwd.input_spikes[:, 0].sum())
        modulated = np.tile(report.modulation, cfg.pop) != 0
        for layer, n in enumerate(cfg.hidden):
            own = fwd.spikes[layer][:, 0]
            mask = net.masks[layer]
            ops += (pre + int(own[:-1].sum())) * n + int(own.sum(axis=0) @ mask.sum(axis=0))
            ops += int(mask[modulated][:, np.asarray(fwd.X[layer][0]) != 0].sum())
            ops += report.hidden_rows[layer].size * (cfg.layer_inputs(layer) + n - 1)
            pre = int(own.sum())
    mean = PhaseCycles(total.integration // samples, total.sweep // samples, total.plasticity // samples)
    return Projection(cfg.name, cfg.lanes, samples, mean, ops / samples)
