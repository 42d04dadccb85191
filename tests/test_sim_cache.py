"""The simulation cache under build/sim stays bounded (sim/runner.py: prune_sim_cache)."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

import pytest

import modsnn.sim.runner as runner

MIB = 2**20


def _build_dir(root: Path, name: str, mib: float, used: float) -> Path:
    directory = root / "sim" / name
    directory.mkdir(parents=True)
    (directory / "model.bin").write_bytes(bytes(int(mib * MIB)))
    (directory / ".lock").touch()
    os.utime(directory / ".lock", (used, used))
    return directory


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MODSNN_BUILD", str(tmp_path))
    monkeypatch.setenv("MODSNN_SIM_CACHE_GB", str(2.5 * MIB / 2**30))        # room for two 1 MiB models
    return tmp_path


def test_least_recently_used_builds_go_first(cache: Path) -> None:
    old, middle, new = (_build_dir(cache, name, 1, t) for name, t in (("a", 100), ("b", 200), ("c", 300)))
    assert runner.prune_sim_cache() == [old]
    assert not old.exists() and middle.exists() and new.exists()
    assert runner.prune_sim_cache() == []                                    # within the budget now


def test_builds_in_use_and_gate_level_models_are_spared(cache: Path) -> None:
    gates = _build_dir(cache, "top-gates-ice40-x-verilator", 0.25, 50)      # the oldest
    busy = _build_dir(cache, "busy", 1, 100)
    idle = _build_dir(cache, "idle", 1, 200)
    newest = _build_dir(cache, "newest", 1, 300)
    with open(busy / ".lock") as handle:                 # another process runs from it
        fcntl.flock(handle, fcntl.LOCK_SH)
        assert runner.prune_sim_cache(keep=newest) == [idle]
    assert busy.exists() and gates.exists() and newest.exists()
    _build_dir(cache, "another", 1, 400)
    assert runner.prune_sim_cache(keep=newest) == [busy]                      # released: evicted
    assert runner.prune_sim_cache(keep=newest) == []


def test_only_the_newest_run_directories_are_kept(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runner, "RUNS_KEPT", 3)
    made = []
    for n in range(5):
        made.append(runner.run_dir("case"))
        os.utime(made[-1], (1000 + n, 1000 + n))
    runner.run_dir("case")
    left = sorted((cache / "sim" / "runs").iterdir())
    assert len(left) == 3 and made[-1] in left and made[0] not in left


def test_a_bad_budget_is_refused(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODSNN_SIM_CACHE_GB", "lots")
    with pytest.raises(ValueError, match="MODSNN_SIM_CACHE_GB must be a positive number of GiB, not 'lots'"):
        runner.prune_sim_cache()
