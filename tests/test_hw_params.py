"""Every component rejects parameters the RTL does not implement, naming the field and the limit."""

from __future__ import annotations

import numpy as np
import pytest

from modsnn.golden_model.config import load_config
from modsnn.golden_model.topology import lane_routes
from modsnn.hw.encoder import InputEncoder
from modsnn.hw.modulator import Modulator
from modsnn.hw.plasticity import PlasticityEngine
from modsnn.hw.router import Router
from modsnn.hw.synapse_memory import SynapseMemory
from modsnn.hw.top import Accelerator

COMPONENTS = [Router, SynapseMemory, Modulator, PlasticityEngine, Accelerator]


@pytest.mark.parametrize("component", [*COMPONENTS, InputEncoder])
def test_not_a_config(component: type) -> None:
    with pytest.raises(TypeError, match="cfg must be a modsnn Config, not 'tiny'"):
        component("tiny")


@pytest.mark.parametrize("component", COMPONENTS)
@pytest.mark.parametrize(("overrides", "message"), [
    (["hidden=[32, 32]", "threshold=[32, 32]", "init_ff=[16, 16]", "init_rec=[4, 4]", "lr_shift_hidden=[12, 12]"],
     r"hidden = \[32, 32\] has 2 layers; the RTL implements 1"),
    (["cores=2"], r"cores = 2; the RTL implements 1 core per population so far \(set cores=1\)"),
    (["eligibility='synaptic'"], "eligibility = 'synaptic'; the RTL implements 'factored'"),
    (["hidden=[30]", "lanes=4"], r"hidden\[0\] = 30 is not a multiple of lanes = 4"),
    (["pop=3", "lanes=4"], "n_readout = 30 is not a multiple of lanes = 4"),
])
def test_unsupported_configuration(component: type, overrides: list[str], message: str) -> None:
    with pytest.raises(ValueError, match="configuration not supported by the RTL: .*" + message):
        component(load_config("tiny", overrides))


def test_learning_rate_beyond_the_random_bits() -> None:
    with pytest.raises(ValueError, match=r"learning-rate shifts up to 33 .* exceed the 32 random bits"):
        PlasticityEngine(load_config("tiny", ["lr_shift_hidden=[22]"]))


def test_lane_routes_needs_positive_lanes() -> None:
    with pytest.raises(ValueError, match="lanes must be a positive integer, not 0"):
        lane_routes(np.ones((4, 4), bool), 0)


@pytest.mark.parametrize("lanes", [1, 2, 4])
def test_lane_routes_pack_and_unpack(lanes: int) -> None:
    rng = np.random.default_rng(3)
    mask = rng.random((20, 32)) < 0.3
    routes = lane_routes(mask, lanes)
    dense = np.where(mask, rng.integers(-100, 100, mask.shape), 0)
    assert np.array_equal(routes.unpack(routes.pack(dense)), dense)
    for j in range(32):                                     # no two lanes of a word share a bank
        targets = routes.targets()[routes.start[j]:routes.start[j] + routes.words[j]]
        assert sorted(targets[targets >= 0].tolist()) == np.flatnonzero(mask[:, j]).tolist()
        assert routes.words[j] == max(np.bincount(np.flatnonzero(mask[:, j]) % lanes, minlength=lanes))
