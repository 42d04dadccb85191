"""The accelerator top against the golden model, and RTL runs against each other.

Every run compares, with exact equality, every spike of every step, the state every sweep wrote
(every neuron after every step), class counts, levels, predictions, the final state, every weight
after every sample and the cycles of every phase (``sim/tb_top.py``). On top of that:

* the same network at different ``lanes`` × ``cores`` gives identical RTL observables (the runs are
  compared with each other, not only with the golden model);
* a corner-case configuration makes every saturation and clamp fire, counted in what the RTL showed;
* a deliberately wrong golden parameter makes the comparison fail.
"""

from __future__ import annotations

import numpy as np
import pytest

from modsnn.hw.top import Accelerator
from modsnn.sim.runner import icarus_available, run_dir, run_testbench

TWO_LAYERS = ["hidden=[32, 16]", "threshold=[32, 24]", "init_ff=[16, 16]", "init_rec=[4, 4]",
              "lr_shift_hidden=[12, 12]"]
THREE_LAYERS = ["hidden=[16, 16, 16]", "threshold=[32, 24, 24]", "init_ff=[16, 16, 16]", "init_rec=[4, 4, 4]",
                "lr_shift_hidden=[10, 10, 10]", "readout_density=0.3"]
#: every saturation and clamp fires within 6 samples (weights at ±w_max, membranes at both rails,
#: traces at x_max, levels at ±K, a class count at its reachable maximum P·(T−1): no neuron can
#: spike at t = 0, because no input spikes before its accumulator passes 256)
CORNERS = ["weight_bits=8", "weight_frac=2", "membrane_bits=8", "readout_threshold=1", "trace_amp=200",
           "mod_shift=0", "mod_levels=3", "lr_shift_out=1", "lr_shift_hidden=[6]", "init_ff=[16]", "init_rec=[8]",
           "init_out=16", "target_rate=1.0"]
ALL_CORNERS = "w_max,w_min,v_max,v_min,x_max,m_max,m_min,count_max"


@pytest.mark.parametrize("overrides", [
    # the iCE40 form: single-port weights, a two-register hash (shorter pipelines and passes) and the
    # job's delay lines in memories
    pytest.param(["lanes=4", "readout_density=0.3", "teaching='margin'", "teach_margin=2", "weight_ports=1",
                  "hash_stages=2", "memory_delays=true"], id="margin-single-port"),
    pytest.param(["mod_shift=8"], id="gated-off"),                 # every m_c = 0: no plasticity pass
    pytest.param(["learn_hidden=false", "lanes=2", "readout_density=1.0"], id="readout-only-dense"),
    pytest.param([*THREE_LAYERS, "lanes=2", "cores=2"], id="three-layers"),
    # one word per hidden population: consecutive recurrent events accumulate into the same
    # addresses one and two cycles apart, so both forwarded writes match and the newer must win
    pytest.param(["hidden=[8]", "lanes=8", "threshold=[16]"], id="one-word-layer"),
    # 5 % readout: many hidden neurons reach no readout neuron (events without words)
    pytest.param(["readout_density=0.05", "lanes=2", "hash_stages=3"], id="very-sparse-readout"),
])
def test_top_matches_golden(overrides: list[str]) -> None:
    # margin teaching: 12 samples, so that a class count lands exactly on the margin boundary
    # (n_c + margin = n_y, at sample 10; a `>` turned `>=` is caught there)
    run_testbench("top", Accelerator, overrides, samples=12 if "teaching='margin'" in overrides else 4)


def test_corners_all_fire() -> None:
    run_testbench("top", Accelerator, [*CORNERS, "lanes=2"], samples=6, env={"MODSNN_TB_CORNERS": ALL_CORNERS})


def _traces(overrides: list[str], mappings: list[tuple[int, int]], samples: int) -> dict[tuple[int, int], dict]:
    traces = {}
    for lanes, cores in mappings:
        run = run_dir(f"top-l{lanes}c{cores}")
        path = run / "trace.npz"
        run_testbench("top", Accelerator, [*overrides, f"lanes={lanes}", f"cores={cores}"], samples=samples,
                      env={"MODSNN_TB_TRACE": str(path)}, run=run)
        traces[(lanes, cores)] = dict(np.load(path))
    return traces


@pytest.mark.parametrize(("overrides", "mappings"), [
    pytest.param([], [(1, 1), (2, 1), (4, 1), (2, 2)], id="one-layer"),
    pytest.param(TWO_LAYERS, [(1, 1), (4, 1), (1, 2), (4, 2)], id="two-layers"),
])
def test_lanes_and_cores_give_identical_rtl_runs(overrides: list[str], mappings: list[tuple[int, int]]) -> None:
    """Each run matches the golden model, and every observable the RTL produced (spike events,
    counts, levels, predictions, weights after every sample) is identical across the mappings."""
    traces = _traces(overrides, mappings, samples=3)
    reference = traces[mappings[0]]
    assert any(k.endswith("/events") and v.size for k, v in reference.items())
    for mapping in mappings[1:]:
        assert traces[mapping].keys() == reference.keys(), f"{mapping}: different observables"
        for key, value in reference.items():
            np.testing.assert_array_equal(traces[mapping][key], value, err_msg=f"{mapping} vs {mappings[0]}: {key}")


@pytest.mark.parametrize(("wrong", "message"), [
    (["leak_shift=4"], "HIDDEN0"),
    (["lr_shift_hidden=[13]"], "weights differ"),
    (["trace_shift=3"], "layer 0: x differs"),
])
def test_wrong_golden_parameter_fails(wrong: list[str], message: str) -> None:
    """The RTL is built from ``tiny``; the golden model gets one parameter off by one."""
    with pytest.raises(AssertionError, match=message):
        run_testbench("top", Accelerator, [], samples=2, golden_overrides=wrong)


@pytest.mark.icarus
def test_top_icarus() -> None:
    if not icarus_available():
        pytest.skip("Icarus Verilog is not installed: apt-get install iverilog")
    run_testbench("top", Accelerator, ["lanes=2", "cores=2"], simulator="icarus", samples=1)


def test_run_directories_are_per_test_case() -> None:
    """Two test cases never share a results directory, even for the same RTL."""
    assert run_dir("top") != run_dir("top")
