"""The simulation cache under build/sim stays bounded (sim/runner.py: prune_sim_cache)."""

from __future__ import annotations

import fcntl
import os
import shutil
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


def test_a_recent_run_directory_is_kept_beyond_the_count(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # a long run (parity-long: an hour) must not lose its directory to newer short ones
    monkeypatch.setattr(runner, "RUNS_KEPT", 1)
    old = runner.run_dir("case")
    os.utime(old, (1000, 1000))
    long_run = runner.run_dir("parity-long")
    newer = runner.run_dir("case")
    assert long_run.exists() and newer.exists() and not old.exists()


@pytest.mark.parametrize("value", ["lots", "0", "-1", "nan"])
def test_a_bad_budget_is_refused(cache: Path, monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("MODSNN_SIM_CACHE_GB", value)
    with pytest.raises(ValueError, match=f"MODSNN_SIM_CACHE_GB must be a positive number of GiB, not '{value}'"):
        runner.prune_sim_cache()


def test_exactly_the_budget_in_gib_fits(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODSNN_SIM_CACHE_GB", str(2 / 1024))                 # 2 MiB
    _build_dir(cache, "a", 1, 100)
    _build_dir(cache, "b", 1, 200)
    assert runner.prune_sim_cache() == []


def test_keep_is_never_evicted(cache: Path) -> None:
    kept = _build_dir(cache, "kept", 1, 100)                                  # the least recently used
    second = _build_dir(cache, "b", 1, 200)
    _build_dir(cache, "c", 1, 300)
    assert runner.prune_sim_cache(keep=kept) == [second] and kept.exists()


def test_using_a_build_makes_it_recent(cache: Path) -> None:
    a, b, _c = (_build_dir(cache, name, 1, t) for name, t in (("a", 100), ("b", 200), ("c", 300)))
    with runner._locked(a, shared=True):                                      # a test ran from a
        pass
    assert runner.prune_sim_cache() == [b]


def test_runs_share_a_build_and_a_builder_excludes_everyone(cache: Path) -> None:
    directory = cache / "sim" / "x"
    with runner._locked(directory, shared=True), open(directory / ".lock") as other:
        fcntl.flock(other, fcntl.LOCK_SH | fcntl.LOCK_NB)                     # another run: allowed
        fcntl.flock(other, fcntl.LOCK_UN)
        with pytest.raises(BlockingIOError):
            fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)                 # a builder or evictor: not
    with runner._locked(directory), open(directory / ".lock") as other, pytest.raises(BlockingIOError):
        fcntl.flock(other, fcntl.LOCK_SH | fcntl.LOCK_NB)


def test_run_directories_are_not_a_build_and_are_pruned_too(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    build = _build_dir(cache, "b", 1, 300)
    for n in range(3):
        run = runner.run_dir("case")
        (run / "out").write_bytes(bytes(MIB))
        os.utime(run, (50 + n, 50 + n))                                       # older than any build
    monkeypatch.setattr(runner, "RUNS_KEPT", 2)
    assert runner.prune_sim_cache() == [] and build.exists()
    assert len(list((cache / "sim" / "runs").iterdir())) == 2


def test_a_new_build_evicts_others_but_not_itself(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from modsnn.hw.hash import Hash32

    monkeypatch.delenv("MODSNN_FORCE_SIMULATOR", raising=False)
    monkeypatch.setenv("MODSNN_SIM_CACHE_GB", "1e-9")                         # nothing fits
    old = _build_dir(cache, "old", 1, 100)
    verilog, _build = runner.rtl_build(Hash32(), "hash32", "verilator")
    assert verilog.exists() and not old.exists()


def test_a_build_another_pruner_deletes_meanwhile_is_no_error(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # two test processes creating new builds at once both prune (found by an audit: FileNotFoundError)
    a = _build_dir(cache, "a", 1, 100)
    _build_dir(cache, "b", 1, 200)
    _build_dir(cache, "c", 1, 300)
    size = runner._size

    def racing(directory: Path) -> int:
        n = size(directory)
        if directory.name == "c" and a.exists():
            shutil.rmtree(a)                                                  # the other process evicts a
        return n

    monkeypatch.setattr(runner, "_size", racing)
    runner.prune_sim_cache()
    assert not a.exists()
