"""Configurations the RTL does not implement are refused, naming the field, the value and the limit;
components reject bad parameters with exact messages."""

from __future__ import annotations

import numpy as np
import pytest

from modsnn.golden_model.config import ConfigError, load_config
from modsnn.golden_model.topology import lane_routes
from modsnn.hw.bank import Bank
from modsnn.hw.core import NeuronCore
from modsnn.hw.params import hw_params
from modsnn.hw.serializer import SpikeSerializer
from modsnn.hw.top import Accelerator


def test_not_a_config() -> None:
    with pytest.raises(TypeError, match="cfg must be a modsnn Config, not 'tiny'"):
        Accelerator("tiny")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="cfg must be a modsnn Config, not 3"):
        hw_params(3)  # type: ignore[arg-type]


@pytest.mark.parametrize(("overrides", "message"), [
    (["eligibility='synaptic'"], "eligibility = 'synaptic'; the RTL implements 'factored'"),
    (["hidden=[30]", "lanes=4"], r"hidden\[0\] = 30 is not a multiple of lanes × cores = 4 × 1 = 4"),
    (["hidden=[32, 20]", "threshold=[32, 32]", "init_ff=[16, 16]", "init_rec=[4, 4]", "lr_shift_hidden=[12, 12]",
      "lanes=4", "cores=2"], r"hidden\[1\] = 20 is not a multiple of lanes × cores = 4 × 2 = 8"),
    (["lr_shift_hidden=[22]"], r"learning-rate shifts up to 33 .* exceed the 32 random bits"),
])
def test_unsupported_configuration(overrides: list[str], message: str) -> None:
    with pytest.raises(ValueError, match="configuration not supported by the RTL: .*" + message):
        Accelerator(load_config("tiny", overrides))


@pytest.mark.parametrize(("overrides", "message"), [
    (["cores=3"], "cores = 3 must be a power of two"),
    (["cores=64"], r"cores = 64 is out of range: must be an integer in \[1, 32\]"),
])
def test_mapping_errors_in_the_configuration(overrides: list[str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config("tiny", overrides)


def test_component_parameters() -> None:
    cfg = load_config("tiny", ["lanes=2", "cores=2"])
    with pytest.raises(ValueError, match=r"bank must be an integer in \[0, 3\], not 4"):
        Bank(cfg, 4)
    with pytest.raises(ValueError, match=r"core must be an integer in \[0, 1\], not 2"):
        NeuronCore(cfg, 2)
    with pytest.raises(ValueError, match="width must be a power of two, not 3"):
        SpikeSerializer(3, 4)
    with pytest.raises(ValueError, match="depth must be a positive integer, not 0"):
        SpikeSerializer(4, 0)


def test_lane_routes_needs_positive_lanes() -> None:
    with pytest.raises(ValueError, match="lanes must be a positive integer, not 0"):
        lane_routes(np.ones((4, 4), bool), 0)


@pytest.mark.parametrize("banks", [1, 2, 4, 8])
def test_lane_routes_pack_and_unpack(banks: int) -> None:
    rng = np.random.default_rng(3)
    mask = rng.random((20, 32)) < 0.3
    routes = lane_routes(mask, banks)
    dense = np.where(mask, rng.integers(-100, 100, mask.shape), 0)
    assert np.array_equal(routes.unpack(routes.pack(dense)), dense)
    for j in range(32):                                     # no two banks of a word share a target bank
        targets = routes.targets()[routes.start[j]:routes.start[j] + routes.words[j]]
        assert sorted(targets[targets >= 0].tolist()) == np.flatnonzero(mask[:, j]).tolist()
        assert routes.words[j] == max(np.bincount(np.flatnonzero(mask[:, j]) % banks, minlength=banks))
