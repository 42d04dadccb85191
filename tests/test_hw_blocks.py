"""Router and plasticity engine against the golden model, each under back-pressure, on both
simulators; and a deliberately wrong golden parameter makes every parity test fail."""

from __future__ import annotations

import pytest

from modsnn.hw.neuron_core import NeuronCore
from modsnn.hw.top import Accelerator
from modsnn.sim.harness import PlasticityHarness, RouterHarness
from modsnn.sim.runner import icarus_available, run_testbench

SIMS = ["verilator", pytest.param("icarus", marks=pytest.mark.icarus)]
CONFIGS = [[], ["lanes=2", "readout_density=0.3"]]


def skip_missing(simulator: str) -> None:
    if simulator == "icarus" and not icarus_available():
        pytest.skip("Icarus Verilog is not installed: apt-get install iverilog")


@pytest.mark.parametrize("simulator", SIMS)
@pytest.mark.parametrize("overrides", CONFIGS)
def test_router(simulator: str, overrides: list[str]) -> None:
    skip_missing(simulator)
    run_testbench("router", RouterHarness, overrides, simulator=simulator,
                  samples=2 if simulator == "verilator" else 1)


@pytest.mark.parametrize("simulator", SIMS)
@pytest.mark.parametrize("overrides", CONFIGS)
def test_plasticity(simulator: str, overrides: list[str]) -> None:
    skip_missing(simulator)
    run_testbench("plasticity", PlasticityHarness, overrides, simulator=simulator,
                  samples=3 if simulator == "verilator" else 1)


def hidden_core(cfg):  # type: ignore[no-untyped-def]
    return NeuronCore(cfg, 0, cfg.n_inputs + cfg.hidden[0])


@pytest.mark.parametrize(("kind", "make_dut", "wrong", "message"), [
    ("neuron_core", hidden_core, ["leak_shift=4"], "spikes"),
    ("router", RouterHarness, ["weight_frac=5"], "synaptic words differ"),
    ("plasticity", PlasticityHarness, ["lr_shift_out=10"], "weights differ"),
    ("top", Accelerator, ["leak_shift=4"], "HIDDEN"),
    ("top", Accelerator, ["lr_shift_hidden=[13]"], "weights differ"),
])
def test_wrong_golden_parameter_fails(kind: str, make_dut: object, wrong: list[str], message: str) -> None:
    """The RTL is built from ``tiny``; the golden model gets one parameter off by one."""
    with pytest.raises(AssertionError, match=message):
        run_testbench(kind, make_dut, [], samples=2, golden_overrides=wrong)
