"""NeuronCore RTL against the golden model, on both simulators, and its parameter checks."""

from __future__ import annotations

import pytest

from modsnn.golden_model.config import load_config
from modsnn.hw.neuron_core import NeuronCore
from modsnn.sim.runner import icarus_available, run_testbench

SIMS = ["verilator", pytest.param("icarus", marks=pytest.mark.icarus)]


@pytest.mark.parametrize("simulator", SIMS)
@pytest.mark.parametrize("overrides", [[], ["leak_shift=2", "trace_shift=3", "hidden=[20]", "threshold=[24]"],
                                       ["lanes=4"]])
def test_neuron_core(simulator: str, overrides: list[str]) -> None:
    if simulator == "icarus" and not icarus_available():
        pytest.skip("Icarus Verilog is not installed: apt-get install iverilog")
    run_testbench("neuron_core", lambda cfg: NeuronCore(cfg, 0, fan_in=cfg.n_inputs + cfg.hidden[0]), overrides,
                  simulator=simulator, samples=2 if simulator == "verilator" else 1)


def test_bad_parameters() -> None:
    cfg = load_config("tiny")
    with pytest.raises(TypeError, match="cfg must be a modsnn Config, not 3"):
        NeuronCore(3, 0, 10)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"layer must be None \(readout\) or a hidden layer index in \[0, 0\], not 1"):
        NeuronCore(cfg, 1, 10)
    with pytest.raises(ValueError, match="fan_in must be a positive integer, not 0"):
        NeuronCore(cfg, 0, 0)
    with pytest.raises(ValueError, match="hidden\\[0\\] = 20 is not a multiple of lanes = 8"):
        NeuronCore(load_config("tiny", ["hidden=[20]", "lanes=8"]), 0, 10)
