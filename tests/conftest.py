"""Shared fixtures. Randomised stimulus is seeded and the seed is logged."""

from __future__ import annotations

import os

import numpy as np
import pytest

from modsnn.golden_model.config import Config, load_config


@pytest.fixture(scope="session")
def tiny() -> Config:
    return load_config("tiny")


@pytest.fixture()
def stim_rng(request: pytest.FixtureRequest) -> np.random.Generator:
    """A stimulus generator; MODSNN_SEED reproduces a failing run."""
    seed = int(os.environ.get("MODSNN_SEED", "12345"))
    print(f"stimulus seed {seed} (set MODSNN_SEED={seed} to reproduce)")
    return np.random.default_rng(seed)
