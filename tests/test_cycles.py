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
    n_in, n, n_out, C, T = 2, 4, 2, 2, 2
    # readout density 0.5: 2 synapses per readout neuron, 4 routing words in all, one per source.
    assert net.tables[0].nnz == 4
    # integration: 2 input events at t1, each fanning out to 4 hidden neurons (4 + 1 cycles); the 4
    # hidden spikes at t1 each reach their readout words (words + 1); the replay phase per step.
    integration = 2 * (n + c.event_overhead) + (4 + 4 * c.event_overhead) + T * c.replay_overhead
    sweep = (max(n_in, n, n_out) + c.clear_overhead + C + c.decide_overhead
             + T * (n_in + c.encode_overhead + n + c.hidden_overhead + n_out + c.readout_overhead))
    got = sample_cycles(cfg, fwd)
    assert (got.integration, got.sweep, got.plasticity) == (integration, sweep, 0)
    report = net.learn(fwd, 0)
    # m = [R - 0, 0] = [2, 0]: readout pass over the 4 sources (all with X > 0, 1 word each);
    # every hidden row is gated on (H ≥ 1: v = 0 is in the boxcar [0, 1)): 4 groups of 1 row, each
    # sweeping 2 feed-forward and 4 recurrent words.
    assert report.modulation.tolist() == [2, 0]
    assert report.hidden_rows[0].size == 4
    plasticity = (c.learn_overhead + n * c.source_overhead + 4
                  + n * (1 + C + c.group_overhead) + 4 * (n_in + n))
    assert sample_cycles(cfg, fwd, report=report).plasticity == plasticity


def test_lanes_and_cores_reduce_cycles_not_results() -> None:
    data = load_dataset("digits", "train")
    base = Config(hidden=(64,), threshold=(32,), readout_threshold=32)
    totals = {}
    for lanes, cores in ((1, 1), (4, 1), (4, 4)):
        cfg = base.replace(lanes=lanes, cores=cores)
        net = Network(cfg)
        fwd, report = net.train_step(data.x[0], int(data.y[0]))
        totals[(lanes, cores)] = sample_cycles(cfg, fwd, report=report)
    assert totals[(4, 1)].integration < totals[(1, 1)].integration
    assert totals[(4, 1)].plasticity < totals[(1, 1)].plasticity
    assert totals[(4, 4)].sweep < totals[(4, 1)].sweep
    assert totals[(4, 4)].total < totals[(4, 1)].total < totals[(1, 1)].total


def test_projection_ops_do_not_depend_on_lanes() -> None:
    from modsnn.golden_model.config import load_config
    from modsnn.golden_model.cycles import project

    data = load_dataset("digits", "train")
    one = project(load_config("tiny"), data.x, data.y, samples=5)
    four = project(load_config("tiny", ["lanes=4"]), data.x, data.y, samples=5)
    assert one.synaptic_ops_per_sample == four.synaptic_ops_per_sample > 0
    assert four.cycles_per_sample.total < one.cycles_per_sample.total
    assert 0 < one.ops_per_cycle <= 1.0 < four.ops_per_cycle <= 4.0
