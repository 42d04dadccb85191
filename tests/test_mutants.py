"""The mutation list of `make mutants` stays applicable, and the harness really runs the mutant.

(The mutation run itself takes an hour: `make mutants`; its last table is in docs/verification.md.)
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from modsnn.sim.mutants import MUTANTS, ROOT, SUITES, Mutant, _layout, apply


def test_every_mutant_applies_once() -> None:
    assert len(MUTANTS) >= 40
    assert len({m.name for m in MUTANTS}) == len(MUTANTS)
    for mutant in MUTANTS:
        text = (ROOT / mutant.path).read_text()
        assert apply(text, mutant) != text, mutant.name
        assert mutant.suite in SUITES


def test_a_stale_snippet_is_refused() -> None:
    stale = Mutant("stale", "hw/neuron.py", "operator", "this text is not in the file", "x")
    with pytest.raises(ValueError, match=r"^mutant stale: the snippet .* occurs 0 times in hw/neuron.py, not once"):
        apply((ROOT / "hw/neuron.py").read_text(), stale)


def test_the_mutated_package_is_the_one_imported(tmp_path: Path) -> None:
    mutant = next(m for m in MUTANTS if m.name == "hash-shift-18")
    layout = _layout(mutant, tmp_path / "layout")
    code = "import inspect, modsnn.hw.hash as h; print(h.__file__); print('a >> 18' in inspect.getsource(h))"
    out = subprocess.run([sys.executable, "-c", code], env={"PYTHONPATH": str(layout), "PATH": ""},
                         capture_output=True, text=True, check=True).stdout.split()
    assert out[0].startswith(str(layout)) and out[1] == "True"


def test_screens_name_existing_tests() -> None:
    from modsnn.sim.mutants import SCREENS

    for suite, entries in SCREENS.items():
        assert suite in SUITES
        for entry in entries:
            path, _, test = entry.partition("::")
            assert (ROOT / path).is_file(), entry
            assert path in SUITES[suite], f"{entry}: the screen must be part of the suite it screens for"
            assert not test or f"def {test.split('[')[0]}(" in (ROOT / path).read_text(), entry
            if "[" in test:
                assert f'id="{test.split("[")[1].rstrip("]")}"' in (ROOT / path).read_text(), entry
