"""The per-phase cycle model, checked against hand counts and its scaling with lanes and cores."""

from __future__ import annotations

import numpy as np

from modsnn.golden_model.config import Config
from modsnn.golden_model.cycles import CycleCosts, sample_cycles
from modsnn.golden_model.data import load_dataset
from modsnn.golden_model.network import Network


def test_hand_counted_sample() -> None:
    cfg = Config(n_inputs=2, hidden=(4,), n_classes=2, pop=1, timesteps=2, threshold=(1,), readout_threshold=1000,
                 init_ff=(0,), init_rec=(0,), init_out=0, readout_density=0.5, rewire_beta=0.0,
                 target_rate=1.0, mod_shift=0)
    net = Network(cfg)
    net._fwd_ff[0][:] = 5.0          # every hidden neuron fires whenever an input does
    fwd = net.forward(np.array([[255, 128]], np.uint8))
    s_in = fwd.input_spikes[:, 0].sum(axis=1).tolist()
    hid = fwd.spikes[0][:, 0].sum(axis=1).tolist()
    assert s_in == [0, 2] and hid == [0, 4]                  # encoder: 255 and 128 both spike at t = 1
    c = CycleCosts()
    # integration: per event ceil(4/1)+1 = 5 cycles; events: t0: 0, t1: 2 input + 0 recurrent;
    # readout fan-out: 4 hidden spikes at t1, each to 1 readout neuron (density 0.5 of 2): 1+1 cycles.
    integration = 2 * 5 + 4 * (1 + c.event_overhead)
    sweep = 2 * (4 + c.sweep_latency) + 2 * (2 + c.sweep_latency)
    got = sample_cycles(cfg, net.tables, fwd)
    assert (got.integration, got.sweep, got.plasticity) == (integration, sweep, 0)
    report = net.learn(fwd, 0)
    # m = [R - 0, 0] = [2, 0]: readout row 0 (fan-in 2) and every hidden row (H ≥ 1: v = 0 is in
    # the boxcar [0, 1)) are gated on; a hidden row sweeps 2 inputs and 4 recurrent weights.
    assert report.modulation.tolist() == [2, 0]
    assert report.readout_rows.tolist() == [0] and report.hidden_rows[0].size == 4
    plasticity = cfg.n_classes + c.mod_overhead + (2 + c.row_overhead) + 4 * (2 + 4 + 2 * c.row_overhead)
    assert sample_cycles(cfg, net.tables, fwd, report=report).plasticity == plasticity


def test_lanes_and_cores_reduce_cycles_not_results() -> None:
    data = load_dataset("digits", "train")
    base = Config(hidden=(64,), threshold=(32,), readout_threshold=32)
    totals = {}
    for lanes, cores in ((1, 1), (4, 1), (4, 4)):
        cfg = base.replace(lanes=lanes, cores=cores)
        net = Network(cfg)
        fwd, report = net.train_step(data.x[0], int(data.y[0]))
        totals[(lanes, cores)] = sample_cycles(cfg, net.tables, fwd, report=report)
    assert totals[(4, 1)].integration < totals[(1, 1)].integration
    assert totals[(4, 1)].plasticity < totals[(1, 1)].plasticity
    assert totals[(4, 4)].sweep < totals[(4, 1)].sweep
    assert totals[(4, 4)].total < totals[(4, 1)].total < totals[(1, 1)].total
