"""The accelerator top against the golden model: spikes per step, predictions, state, weights
after every update and cycle counts of every phase; RTL runs at different ``lanes`` give the same
bits as each other; both simulators."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from modsnn.hw.top import Accelerator
from modsnn.sim.runner import icarus_available, run_dir, run_testbench


@pytest.mark.parametrize("overrides", [
    ["lanes=4", "readout_density=0.3", "teaching='margin'", "teach_margin=2"],
    ["mod_shift=8"],                     # every m_c = 0: the gated-off plasticity path
])
def test_top_verilator(overrides: list[str]) -> None:
    run_testbench("top", Accelerator, overrides, samples=6)


def test_lanes_give_identical_rtl_runs() -> None:
    """The same network at lanes 1, 2 and 4: each RTL run matches the golden model, and every
    observable the RTL produced (spike events, counts, levels, predictions, hidden state, weights
    after every sample) is identical across the three runs."""
    traces = {}
    for lanes in (1, 2, 4):
        run = run_dir(f"top-lanes{lanes}")
        path = run / "trace.npz"
        run_testbench("top", Accelerator, [f"lanes={lanes}"], samples=6, env={"MODSNN_TB_TRACE": str(path)}, run=run)
        traces[lanes] = dict(np.load(path))
    reference = traces[1]
    assert len(reference) > 6 * 8 and any(k.endswith("/events") and v.size for k, v in reference.items())
    for lanes in (2, 4):
        assert traces[lanes].keys() == reference.keys(), f"lanes={lanes}: different observables"
        for key, value in reference.items():
            np.testing.assert_array_equal(traces[lanes][key], value, err_msg=f"lanes={lanes} vs lanes=1: {key}")


@pytest.mark.icarus
def test_top_icarus() -> None:
    if not icarus_available():
        pytest.skip("Icarus Verilog is not installed: apt-get install iverilog")
    run_testbench("top", Accelerator, ["lanes=2"], simulator="icarus", samples=2)


def test_run_directories_are_per_test_case(tmp_path: Path) -> None:
    """Two test cases never share a results directory, even for the same RTL."""
    assert run_dir("top") != run_dir("top")
