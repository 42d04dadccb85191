"""The golden model against an independent, loop-per-neuron reference of the whole algorithm.

``Reference`` (:mod:`modsnn.golden_model.reference`) is written from the equations of
``docs/algorithm.md`` and the docstring of ``golden_model/network.py`` only: plain Python integers,
one neuron and one synapse at a time, every step in order, every layer, both eligibility modes,
both teaching modes. It shares nothing with :class:`~modsnn.golden_model.network.Network` but the
starting weights, the small-world masks and the pure-Python hash (``rng.hash32_int``), so a bug
in the vectorised model (a layer wired to the wrong presynaptic trace, a recurrent delay off by one
step, a missing diagonal mask, a shift applied twice) makes these comparisons fail.
"""

from __future__ import annotations

import numpy as np
import pytest

from modsnn.golden_model.config import load_config
from modsnn.golden_model.data import load_dataset
from modsnn.golden_model.network import Network
from modsnn.golden_model.reference import Reference

CONFIGS = {
    "two-layer factored": ["hidden=[12, 8]", "threshold=[32, 20]", "init_ff=[16, 16]", "init_rec=[4, 4]",
                           "lr_shift_hidden=[7, 6]", "lr_shift_out=5", "readout_density=0.5"],
    "two-layer synaptic": ["hidden=[10, 6]", "threshold=[32, 16]", "init_ff=[16, 20]", "init_rec=[6, 4]",
                           "lr_shift_hidden=[4, 4]", "lr_shift_out=5", "eligibility='synaptic'"],
    "three-layer margin": ["hidden=[8, 8, 6]", "threshold=[24, 16, 16]", "init_ff=[16, 16, 16]", "init_rec=[4, 4, 4]",
                           "lr_shift_hidden=[6, 6, 6]", "lr_shift_out=4", "teaching='margin'", "teach_margin=2",
                           "readout_density=0.4", "mod_shift=0", "mod_levels=3"],
}


@pytest.mark.parametrize("name", CONFIGS)
def test_network_matches_the_loop_reference(name: str) -> None:
    cfg = load_config("tiny", CONFIGS[name])
    data = load_dataset("digits", "train")
    net = Network(cfg)
    ref = Reference(cfg, net)
    touched = {f"{kind}{l}": 0 for kind in ("ff", "rec", "out") for l in range(cfg.n_hidden_layers)}
    for index in range(4):
        u, label = data.x[index], int(data.y[index])
        want = ref.forward([int(v) for v in u])
        ref.run_readout(want)
        fwd = net.forward(u.reshape(1, -1))
        for l in range(cfg.n_hidden_layers):
            np.testing.assert_array_equal(fwd.spikes[l][:, 0].astype(int), np.array(want["spikes"][l]),
                                          err_msg=f"{name}: layer {l} spikes")
            np.testing.assert_array_equal(fwd.H[l][0], want["H"][l], err_msg=f"{name}: layer {l} H")
            np.testing.assert_array_equal(fwd.X[l][0], want["X"][l], err_msg=f"{name}: layer {l} X")
            np.testing.assert_array_equal(fwd.membrane[l][0], want["v"][l], err_msg=f"{name}: layer {l} v")
            np.testing.assert_array_equal(fwd.trace[l][0], want["x"][l], err_msg=f"{name}: layer {l} x")
        np.testing.assert_array_equal(fwd.readout_spikes[:, 0].astype(int), np.array(want["readout_spikes"]))
        np.testing.assert_array_equal(fwd.counts[0], want["counts"])
        np.testing.assert_array_equal(fwd.readout_membrane[0], want["v_out"])
        before = {k: v.copy() for k, v in net.state_dict().items()}
        m = ref.learn(want, label)
        report = net.learn(fwd, label)
        assert report.modulation.tolist() == m, f"{name}: sample {index} modulatory levels"
        for l in range(cfg.n_hidden_layers):
            for kind, mine in (("ff", ref.ff), ("rec", ref.rec), ("out", ref.out)):
                got = getattr(net, kind)[l]
                np.testing.assert_array_equal(got, np.array(mine[l]), err_msg=f"{name}: sample {index} {kind}{l}")
                touched[f"{kind}{l}"] += int(np.sum(got != before[f"{kind}{l}"]))
    # the comparison is only as strong as the updates it saw: every matrix of every layer must have changed
    assert all(count > 0 for count in touched.values()), f"{name}: some matrix never learned: {touched}"
    assert net.updates == ref.updates == 4
