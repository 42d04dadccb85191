"""Formal proofs (SymbiYosys, ``smtbmc yices``) of the gateware blocks: :mod:`modsnn.sim.formal`.

The proofs themselves are marked ``formal`` (``make formal`` or ``pytest -m formal``: minutes);
the default suite checks that the harness can fail — a toy buffer with a planted bug must be
reported failing, with the violated property and a counterexample trace — and its input checks.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from modsnn.sim.formal import Check, FormalToolMissing, run_check
from modsnn.sim.formal.__main__ import main
from modsnn.sim.formal.checks import CHECKS, TOY_CHECKS, check_named


def _toy(name: str) -> Check:
    return next(check for check in TOY_CHECKS if check.name == name)


def test_harness_reports_a_planted_bug_with_counterexample(tmp_path: Path) -> None:
    broken = run_check(_toy("toy_buffer_broken"), tmp_path)
    assert broken.status == "FAIL", broken
    assert any("o: valid dropped before ready" in failed and "step" in failed for failed in broken.failed), broken
    assert broken.trace is not None and broken.trace.is_file() and broken.trace.suffix == ".vcd"
    # the same wrapper without the planted bug proves: the failure is the bug's doing
    fixed = run_check(_toy("toy_buffer"), tmp_path)
    assert fixed.status == "PASS", fixed


def test_cli_exit_status_follows_the_verdicts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["toy_buffer", "--build", str(tmp_path)]) == 0
    assert main(["toy_buffer_broken", "--build", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "counterexample:" in out and "FAIL" in out


def test_list_names_every_check(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--list"]) == 0
    out = capsys.readouterr().out
    assert all(f"{check.name}:" in out for check in CHECKS)
    assert len({check.block.split()[0] for check in CHECKS}) >= 5


def test_unknown_check_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["no_such_block"])
    assert exit_info.value.code == 2
    assert "no formal check named 'no_such_block'; known: crc_appender" in capsys.readouterr().err
    with pytest.raises(ValueError, match="no formal check named 'x'"):
        check_named("x")


@pytest.mark.parametrize(("change", "message"), [
    ({"name": "Bad Name"}, "check name must be lower-case letters, digits and _, not 'Bad Name'"),
    ({"mode": "cover"}, "mode must be one of ('prove', 'bmc'), not 'cover'"),
    ({"depth": 0}, "depth must be a positive integer, not 0"),
])
def test_check_parameters_are_validated(change: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        dataclasses.replace(_toy("toy_buffer"), **change)  # type: ignore[arg-type]


def test_missing_tools_are_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.executable", str(tmp_path / "python"))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(FormalToolMissing, match=r"yowasp-sby.* not found: install the fpga extra"):
        run_check(_toy("toy_buffer"), tmp_path)


@pytest.mark.formal
@pytest.mark.parametrize("check", CHECKS, ids=[check.name for check in CHECKS])
def test_block_property_holds(check: Check, tmp_path: Path) -> None:
    result = run_check(check, tmp_path)
    assert result.passed, (f"{check.block}: {result.status} ({check.mode}, depth {check.depth}); "
                           f"failed: {list(result.failed)}; counterexample: {result.trace}")
