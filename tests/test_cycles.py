"""The per-phase cycle model, checked against hand counts and its scaling with banks."""

from __future__ import annotations

import numpy as np

from modsnn.golden_model.config import Config, load_config
from modsnn.golden_model.cycles import CycleCosts, bank_routes, max_sample_cycles, project, sample_cycles
from modsnn.golden_model.data import load_dataset
from modsnn.golden_model.network import Network


def test_hand_counted_sample() -> None:
    cfg = Config(n_inputs=2, hidden=(4,), n_classes=2, pop=1, timesteps=2, threshold=(1,), readout_threshold=1000,
                 init_ff=(0,), init_rec=(0,), init_out=0, readout_density=0.5, rewire_beta=0.0,
                 target_rate=1.0, mod_shift=0)
    net = Network(cfg)
    net._fwd_ff[0][:] = 5.0          # every hidden neuron fires whenever an input does
    fwd = net.forward(np.array([[255, 128]], np.uint8))
    assert fwd.input_spikes[:, 0].sum(axis=1).tolist() == [0, 2]       # encoder: both spike at t = 1
    assert fwd.spikes[0][:, 0].sum(axis=1).tolist() == [0, 4]
    assert bank_routes(cfg, 0).words.tolist() == [1, 1, 1, 1]          # readout density 0.5: one target each
    c = CycleCosts()
    # sweep: clear max(4 hidden + 2 readout words, 2 input words); per step the hidden sweep (4 words,
    # at most one spike each: 4), the readout sweep (2 words), their overheads; decide; finish.
    sweep = (c.clear_overhead + 6 + c.finish + 2 * (4 + 2) + 2 * 2 * c.sweep_overhead
             + 2 + c.decide_overhead)
    # integration: t0: the encoder's 2 words outlast the empty REC_0 run, then empty FF_0 and OUT_0
    # runs; t1: encoder again, FF_0 = 2 events × 4 words, OUT_0 = 4 events × 1 word.
    integration = (c.encode_overhead + 2 + 2 * c.empty_run) + (c.encode_overhead + 2 + (c.run_overhead + 8)
                                                               + (c.run_overhead + 4))
    got = sample_cycles(cfg, fwd)
    assert (got.integration, got.sweep, got.plasticity) == (integration, sweep, 0)
    report = net.learn(fwd, 0)
    # m = [R − 0, 0] = [2, 0]: readout keys (2 words), readout pass over 4 sources (X_j > 0, 1 word
    # each); every row is gated (H = 1: v = 0 sits in the boxcar [0, 1) at t = 0) so 4 groups of 1
    # row each sweep 2 FF + 4 REC columns, after 3·4 row keys and 2·4 sign jobs.
    assert report.modulation.tolist() == [2, 0] and report.hidden_rows[0].size == 4
    plasticity = (c.learn_overhead + 3 + 2 + c.key_gap + c.walk_overhead + 4
                  + 3 * 4 + c.key_gap + 2 * 4 + c.sign_overhead + c.walk_overhead + 4 * (2 + 4))
    assert sample_cycles(cfg, fwd, report=report).plasticity == plasticity


def test_only_the_bank_count_matters() -> None:
    """lanes × cores = B sets the cycles; how B is split into cores and lanes does not."""
    data = load_dataset("digits", "train")
    base = load_config("tiny", ["hidden=[64]", "threshold=[32]"])
    totals = {}
    for lanes, cores in ((1, 1), (4, 1), (2, 2), (1, 4), (8, 1)):
        cfg = base.replace(lanes=lanes, cores=cores)
        net = Network(cfg)
        fwd, report = net.train_step(data.x[0], int(data.y[0]))
        totals[(lanes, cores)] = sample_cycles(cfg, fwd, report=report)
    assert totals[(4, 1)] == totals[(2, 2)] == totals[(1, 4)]
    assert totals[(8, 1)].integration < totals[(4, 1)].integration < totals[(1, 1)].integration
    assert totals[(8, 1)].plasticity < totals[(4, 1)].plasticity < totals[(1, 1)].plasticity


def test_projection_ops_do_not_depend_on_banks() -> None:
    data = load_dataset("digits", "train")
    one = project(load_config("tiny"), data.x, data.y, samples=5)
    four = project(load_config("tiny", ["lanes=2", "cores=2"]), data.x, data.y, samples=5)
    assert one.synaptic_ops_per_sample == four.synaptic_ops_per_sample > 0
    assert four.cycles_per_sample.total < one.cycles_per_sample.total
    assert 0 < one.ops_per_cycle <= 1.0 < four.ops_per_cycle <= 4.0
    # the integration phase does the accumulations, at most one per bank and cycle, denser than the sample
    assert one.integration_ops_per_sample == four.integration_ops_per_sample > 0
    assert one.ops_per_cycle < one.integration_ops_per_cycle <= 1.0
    assert four.ops_per_cycle < four.integration_ops_per_cycle <= 4.0
    assert 0 < four.inference_cycles < four.cycles_per_sample.total


def test_costs_follow_the_hash_registers() -> None:
    """The defaults are the six-register hash's; each register fewer takes one cycle off every wait
    on a job's result (two per pass on the prefix keys)."""
    assert CycleCosts.for_config(Config()) == CycleCosts()
    two = CycleCosts.for_config(Config(hash_stages=2))
    assert (two.learn_overhead, two.key_gap, two.walk_overhead, two.sign_overhead) == (20, 5, 17, 9)


def test_max_sample_cycles_bounds_every_sample() -> None:
    """The bound behind the RTL's cycle-counter width holds for real samples (bright inputs, a
    hot network: thresholds of 1) and is reached by the all-spiking sample it is computed from."""
    data = load_dataset("digits", "train")
    for sets in ([], ["threshold=[1]", "readout_threshold=1", "lanes=2"]):
        cfg = load_config("tiny", sets)
        bound = max_sample_cycles(cfg)
        net = Network(cfg)
        for n in range(4):
            fwd, report = net.train_step(np.full_like(data.x[n], 255) if n == 3 else data.x[n], int(data.y[n]))
            got = sample_cycles(cfg, fwd, report=report)
            assert got.integration <= bound.integration and got.sweep <= bound.sweep
            assert got.plasticity <= bound.plasticity and got.total <= bound.total
    cfg = load_config("tiny")
    T, B = cfg.timesteps, cfg.lanes * cfg.cores
    q = cfg.hidden[0] // B
    # every step after the first plays n_in FF events and n_hidden REC events of q words each
    assert max_sample_cycles(cfg).integration >= (T - 1) * (cfg.n_inputs + cfg.hidden[0]) * q
    from modsnn.hw.params import hw_params
    assert hw_params(cfg).cycle_bits == max_sample_cycles(cfg).total.bit_length() < 32
