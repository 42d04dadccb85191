"""On-wire formats: widths follow the configuration; payloads round-trip through const/from_bits."""

from __future__ import annotations

import pytest

from modsnn.golden_model.config import load_config
from modsnn.hw.formats import Population, formats_for


@pytest.mark.parametrize("preset", ["tiny", "digits", "mnist"])
def test_widths_follow_the_configuration(preset: str) -> None:
    cfg = load_config(preset)
    fmt = formats_for(cfg)
    assert 2 ** fmt.neuron_bits >= max(cfg.n_inputs, cfg.n_readout, *cfg.hidden)
    assert fmt.forward_weight_bits == cfg.weight_bits - cfg.weight_frac
    assert fmt.synaptic_event.size == fmt.neuron_bits + fmt.forward_weight_bits
    assert 2 ** fmt.route_entry["target"].width >= cfg.n_readout


def test_payloads_round_trip() -> None:
    fmt = formats_for(load_config("tiny"))
    for target, weight in ((0, 0), (5, -3), (31, -128), (17, 127)):
        bits = fmt.synaptic_event.const({"target": target, "weight": weight}).as_bits()
        view = fmt.synaptic_event.from_bits(bits)
        assert (view.target, view.weight) == (target, weight)
    bits = fmt.address_event.const({"pop": Population.READOUT, "addr": 9}).as_bits()
    view = fmt.address_event.from_bits(bits)
    assert view.pop == Population.READOUT and view.addr == 9
