"""Accuracy targets of the presets (slow: run with `make test-slow`).

These train the presets end to end through the same code path as `modsnn train`, so the figures
are the ones a user reproduces. Speed is reported in the run's summary, never asserted.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from modsnn.golden_model.config import load_config
from modsnn.golden_model.train import train

pytestmark = pytest.mark.slow


def test_digits_integer(tmp_path: Path) -> None:
    summary = train(load_config("digits"), tmp_path / "run")
    print(summary)
    assert summary["test_accuracy"] >= 0.97


def test_digits_float_twin(tmp_path: Path) -> None:
    summary = train(load_config("digits"), tmp_path / "run", model="float")
    print(summary)
    assert summary["test_accuracy"] >= 0.975


def test_digits_sparse_readout(tmp_path: Path) -> None:
    summary = train(load_config("digits", ["readout_density=0.05"]), tmp_path / "run")
    print(summary)
    assert summary["test_accuracy"] >= 0.90


def test_mnist5k_three_seeds(tmp_path: Path) -> None:
    accs = [train(load_config("mnist", [f"seed={s}"]), tmp_path / f"s{s}")["test_accuracy"] for s in (1, 2, 3)]
    print(accs)
    assert sum(accs) / 3 >= 0.94


def test_mnist_ecp5_three_seeds(tmp_path: Path) -> None:
    """The ULX3S-85F MNIST preset (9-bit weights, 240 hidden, 16 lanes): within 1 point of `mnist`'s 94.37 %."""
    accs = [train(load_config("mnist-ecp5", [f"seed={s}"]), tmp_path / f"s{s}")["test_accuracy"] for s in (1, 2, 3)]
    print(accs)
    assert sum(accs) / 3 >= 0.9337


def test_mnist5k_five_percent_readout(tmp_path: Path) -> None:
    """The paper's claim, > 90 % at 5 % readout connectivity, on the schedule of studies/density.toml."""
    cfg = load_config("mnist", ["readout_density=0.05", "epochs=8", "lr_decay_epochs=2"])
    summary = train(cfg, tmp_path / "run")
    print(summary)
    assert summary["test_accuracy"] >= 0.90


def test_mnist5k_five_percent_readout_wide_three_seeds(tmp_path: Path) -> None:
    """Issue 10's goal, ≥ 92 % at 5 % readout connectivity (mean of seeds 1–3), with 640 hidden neurons
    and the slower readout rate of studies/density5-wide-mnist.toml (measured 92.93 ± 0.15 %)."""
    fields = ["hidden=[640]", "readout_density=0.05", "lr_shift_out=12", "epochs=8", "lr_decay_epochs=2"]
    accs = [train(load_config("mnist", [*fields, f"seed={s}"]), tmp_path / f"s{s}")["test_accuracy"]
            for s in (1, 2, 3)]
    print(accs)
    assert sum(accs) / 3 >= 0.92
