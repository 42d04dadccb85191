"""Per-phase cycle-count model of the accelerator, fed by the events the golden model saw.

The hardware is event driven; its cycle count is a function of the spikes and of the gated rows
of the plasticity phase, which the golden model knows exactly. With ``lanes`` parallel synapse
lanes and ``cores`` neuron cores (each hidden layer split into ``cores`` contiguous slices of
``ceil(n_l / cores)`` neurons, all slices working in parallel):

==================  ===============================================================================
phase               cycles
==================  ===============================================================================
integration         per step ``t`` and hidden layer ``l``: every event (a spike of layer ``l−1``
                    (or input) at ``t``, or of layer ``l`` at ``t−1``) costs
                    ``ceil(ceil(n_l / cores) / lanes) + event_overhead``; every hidden spike at
                    ``t`` fans out to the readout at ``ceil(fanout_j / lanes) + event_overhead``.
neuron sweep        per step and layer: ``ceil(n_l / cores) + sweep_latency``; readout:
                    ``n_out + sweep_latency``.
plasticity          ``n_classes + mod_overhead`` for the modulatory signals; every gated readout
                    row ``k``: ``ceil(fanin_k / lanes) + row_overhead`` (per hidden layer); every
                    gated hidden row ``i``: ``ceil(n_pre / lanes) + ceil(n_l / lanes) +
                    2·row_overhead``, slices in parallel (the busiest core sets the time).
==================  ===============================================================================

The constants in :class:`CycleCosts` describe the RTL's pipelines; the RTL is held to this model
by the cocotb tests, so a count measured in simulation can be projected to other sizes and
devices without running them.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from .config import Config
from .network import ForwardResult, LearnReport
from .topology import RoutingTable

__all__ = ["CycleCosts", "PhaseCycles", "sample_cycles"]


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


@dataclasses.dataclass(frozen=True)
class CycleCosts:
    """Fixed overheads of the RTL pipelines, in clock cycles."""

    event_overhead: int = 1
    sweep_latency: int = 2
    row_overhead: int = 2
    mod_overhead: int = 2


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


def sample_cycles(cfg: Config, tables: list[RoutingTable], fwd: ForwardResult, batch_index: int = 0,
                  report: LearnReport | None = None, costs: CycleCosts = CycleCosts()) -> PhaseCycles:
    """Cycles of one sample (``batch_index`` of ``fwd``), plasticity included when ``report`` is given."""
    T, lanes, cores = cfg.timesteps, cfg.lanes, cfg.cores
    integration = sweep = 0
    pre_events = fwd.input_spikes[:, batch_index].sum(axis=1)            # (T,)
    for layer, n in enumerate(cfg.hidden):
        per_event = _ceil_div(_ceil_div(n, cores), lanes) + costs.event_overhead
        own = fwd.spikes[layer][:, batch_index]                           # (T, n)
        own_events = own.sum(axis=1)
        rec_events = np.concatenate([[0], own_events[:-1]])
        integration += int((pre_events + rec_events).sum()) * per_event
        fan = tables[layer].fanout()
        readout_cost = -(-fan // lanes) + costs.event_overhead           # per source j
        integration += int((own.astype(np.int64) @ readout_cost).sum())
        sweep += T * (_ceil_div(n, cores) + costs.sweep_latency)
        pre_events = own_events
    sweep += T * (cfg.n_readout + costs.sweep_latency)
    plasticity = 0
    if report is not None:
        plasticity += cfg.n_classes + costs.mod_overhead
        for table in tables:
            fanin = table.fanin()[report.readout_rows]
            plasticity += int((-(-fanin // lanes) + costs.row_overhead).sum())
        for layer, rows in enumerate(report.hidden_rows):
            n = cfg.hidden[layer]
            per_row = (_ceil_div(cfg.layer_inputs(layer), lanes) + _ceil_div(n, lanes)
                       + 2 * costs.row_overhead)
            slice_size = _ceil_div(n, cores)
            busiest = int(np.bincount(rows // slice_size, minlength=cores).max()) if rows.size else 0
            plasticity += busiest * per_row
    return PhaseCycles(integration, sweep, plasticity)
