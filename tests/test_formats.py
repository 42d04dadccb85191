"""On-wire formats: widths follow the configuration; payloads round-trip through const/from_bits."""

from __future__ import annotations

import numpy as np
import pytest

from modsnn.golden_model.config import load_config
from modsnn.golden_model.network import Network
from modsnn.hw.formats import Matrix, Population, Projection, Region, formats_for, memory_depths, readout_routes
from modsnn.hw.memory_map import dense_from_images, weight_images


@pytest.mark.parametrize("preset", ["tiny", "digits", "mnist"])
@pytest.mark.parametrize("lanes", [1, 4])
def test_widths_follow_the_configuration(preset: str, lanes: int) -> None:
    cfg = load_config(preset, [f"lanes={lanes}"])
    fmt = formats_for(cfg)
    assert 2 ** fmt.neuron_bits >= max(cfg.n_inputs, cfg.n_readout, *cfg.hidden)
    assert 2 ** fmt.bank_bits >= max(cfg.n_inputs, cfg.n_readout, *cfg.hidden) // lanes
    assert fmt.forward_weight_bits == cfg.weight_bits - cfg.weight_frac
    assert fmt.synaptic_word.length == lanes
    assert fmt.synaptic_lane.size == 1 + fmt.bank_bits + fmt.forward_weight_bits
    assert fmt.route_words == readout_routes(cfg).n_words
    assert 2 ** fmt.word_bits >= max(memory_depths(cfg, fmt.route_words).values())
    assert fmt.weight_word.size == lanes * cfg.weight_bits


def test_payloads_round_trip() -> None:
    fmt = formats_for(load_config("tiny", ["lanes=2"]))
    lanes = [{"valid": 1, "addr": 5, "weight": -3}, {"valid": 0, "addr": 15, "weight": 127}]
    view = fmt.synaptic_word.from_bits(fmt.synaptic_word.const(lanes).as_bits())
    assert [(int(v.valid), int(v.addr), int(v.weight)) for v in view] == [(1, 5, -3), (0, 15, 127)]
    view = fmt.address_event.from_bits(fmt.address_event.const({"pop": Population.READOUT, "addr": 9}).as_bits())
    assert view.pop == Population.READOUT and view.addr == 9
    view = fmt.route_request.from_bits(fmt.route_request.const({"proj": Projection.OUT, "addr": 7}).as_bits())
    assert view.proj == Projection.OUT and view.addr == 7
    bits = fmt.weight_write.const({"matrix": Matrix.REC, "addr": 3, "data": [-2047, 2047], "en": 2}).as_bits()
    view = fmt.weight_write.from_bits(bits)
    assert view.matrix == Matrix.REC and [int(x) for x in view.data] == [-2047, 2047] and view.en == 2
    view = fmt.mmio_address.from_bits(fmt.mmio_address.const({"region": Region.OUT, "lane": 1, "offset": 77}).as_bits())
    assert view.region == Region.OUT and view.lane == 1 and view.offset == 77


@pytest.mark.parametrize("lanes", [1, 2, 4])
def test_weight_images_round_trip(lanes: int) -> None:
    cfg = load_config("tiny", [f"lanes={lanes}", "readout_density=0.3"])
    net = Network(cfg)
    images = weight_images(cfg, net.ff[0], net.rec[0], net.out[0])
    n = cfg.hidden[0]
    assert images[Matrix.FF].shape == (cfg.n_inputs * n // lanes, lanes)
    assert images[Matrix.FF][3 * (n // lanes) + 1, lanes - 1] == net.ff[0][lanes + lanes - 1, 3]
    for got, want in zip(dense_from_images(cfg, images), (net.ff[0], net.rec[0], net.out[0]), strict=True):
        assert np.array_equal(got, want)
