"""Per-block synthesis report: LUT, FF, BRAM, DSP and Fmax of every ``hw/`` component, per family.

In the spirit of coreblocks' ``scripts/synthesize.py``: each block of :data:`BLOCKS` (a list of
name → constructor, so renaming or splitting a block is a one-line change) is synthesised on its
own for each target of :data:`TARGETS`, and the results land in one JSON and one Markdown table
(``docs/synth-report.{json,md}``), so that a change that grows one block shows up in a diff.

Method, per block and target:

* **resources**: Yosys (:func:`~modsnn.boards.build.synth_command`) on the bare block, ``stat -json``:
  LUT4 (ECP5: ``LUT4`` + 2 per ``CCU2C`` carry + 4 per ``TRELLIS_DPR16X4`` LUT RAM; iCE40:
  ``SB_LUT4``), flip-flops, block RAMs, DSPs;
* **Fmax**: nextpnr on the same netlist. ECP5: ``--out-of-context`` (no I/O buffers: the block's
  ports stay unplaced, so the figure is the worst register-to-register path inside the block).
  nextpnr-ice40 has no out-of-context mode, and most blocks have more ports than the UP5K has
  pins, so for iCE40 the block is wrapped in a *harness* whose every input bit is a flip-flop of
  one shift chain (fed from a pin) and whose outputs are registered and XOR-folded into one pin;
  the figure then includes the block's input-to-output paths. The harness' own flip-flops and
  XOR tree are not in the resource columns (those come from the bare block).

Blocks are synthesised for the configuration of each target (``icebreaker`` on iCE40, the ``ecp5-85f``
preset on ECP5 by default); ``modsnn synth-report --target ecp5:digits`` changes that. Each block's
result is cached in ``build/synth-report/<family>/<block>/result.json`` under a hash of its netlist
and the tool arguments, so a re-run only synthesises the blocks that changed. Yosys 0.70 trips an
internal assertion on a few bare blocks (the modulator); those are synthesised inside the harness
and say so in a ``note``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import subprocess
import time
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

from amaranth.hdl import Cat, Module, Signal, Value
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ..golden_model.config import Config, load_config
from .build import (
    build_root,
    hide_bit_lookalike_wires,
    synth_command,
    synthesis_script,
    tool_env,
    tool_versions,
    yosys_after_read,
    yosys_after_synth,
)

__all__ = ["BLOCKS", "TARGETS", "Harness", "markdown_table", "synth_block", "synth_report"]


def _blocks() -> list[tuple[str, Callable[[Config], wiring.Component]]]:
    from ..hw.bank import Bank
    from ..hw.control_port import ControlPort
    from ..hw.core import NeuronCore
    from ..hw.dispatcher import Dispatcher
    from ..hw.encoder import InputEncoder
    from ..hw.hash import Hash32
    from ..hw.learner import Learner
    from ..hw.link.host_link import HostLink
    from ..hw.modulator import Modulator
    from ..hw.sequencer import Sequencer
    from ..hw.sweeper import Sweeper
    from ..hw.top import Accelerator

    return [
        ("bank", lambda cfg: Bank(cfg, 0)),
        ("neuron core", lambda cfg: NeuronCore(cfg, 0)),
        ("encoder", InputEncoder),
        ("dispatcher", Dispatcher),
        ("sweeper", Sweeper),
        ("modulator", Modulator),
        ("learner", Learner),
        ("sequencer", Sequencer),
        ("control port", ControlPort),
        ("hash", lambda cfg: Hash32()),
        ("host link", lambda cfg: HostLink(cfg, clock_hz=24_000_000, baud=3_000_000,
                                           bus_read_latency=Accelerator.bus_read_latency)),
        ("accelerator (top)", Accelerator),
    ]


#: (block name, constructor from a Config); edit here when blocks are renamed or split.
BLOCKS = _blocks


@dataclasses.dataclass(frozen=True)
class Target:
    """A device to synthesise for: family, nextpnr device arguments and the configuration used."""

    family: str
    device: str
    nextpnr: tuple[str, ...]
    config: str
    freq_mhz: float


TARGETS: dict[str, Target] = {
    "ecp5": Target("ecp5", "LFE5U-85F-6", ("--85k", "--package", "CABGA381", "--speed", "6"), "ecp5-85f", 100.0),
    "ice40": Target("ice40", "iCE40UP5K", ("--up5k", "--package", "sg48"), "icebreaker", 24.0),
}


class Harness(wiring.Component):
    """Registers around ``block``: a shift chain drives every input bit (from ``si``), every output
    bit is registered and XOR-folded into ``so``. Keeps all of the block's logic observable
    with two pins (for nextpnr-ice40, which has no out-of-context mode)."""

    def __init__(self, block: wiring.Component) -> None:
        self._block = block
        super().__init__({"si": In(1), "so": Out(1)})

    def elaborate(self, platform: object) -> Module:
        m = Module()
        m.submodules.dut = dut = self._block
        inputs: list[Value] = []
        outputs: list[Value] = []
        for _path, member, value in dut.signature.flatten(dut):
            if isinstance(Value.cast(value), Signal):       # not an always-ready stream's constant ``ready``
                (inputs if member.flow == In else outputs).append(Value.cast(value))
        width = sum(len(v) for v in inputs)
        if width:
            chain = Signal(width)
            m.d.sync += chain.eq(Cat(self.si, chain[:-1]))
            offset = 0
            for v in inputs:
                m.d.comb += v.eq(chain[offset:offset + len(v)])
                offset += len(v)
        captured = Signal(max(1, sum(len(v) for v in outputs)))
        m.d.sync += [captured.eq(Cat(*outputs)), self.so.eq(captured.xor())]
        return m


def _run(cmd: list[str], cwd: Path, log: Path, env: dict[str, str]) -> None:
    with log.open("w") as out:
        code = subprocess.run(cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, check=False).returncode
    if code != 0:
        raise RuntimeError(f"{cmd[0]} failed (exit {code}); see {log}")


def _resources(stat: dict[str, Any], family: str) -> dict[str, int]:
    design: dict[str, Any] = stat.get("design") or next(iter(stat.get("modules", {}).values()), {})
    cells: dict[str, int] = {k: int(v) for k, v in design.get("num_cells_by_type", {}).items()}
    if family == "ecp5":
        lut = cells.get("LUT4", 0) + 2 * cells.get("CCU2C", 0) + 4 * cells.get("TRELLIS_DPR16X4", 0)
        ff = cells.get("TRELLIS_FF", 0)
        bram, dsp = cells.get("DP16KD", 0), cells.get("MULT18X18D", 0)
    else:
        lut = cells.get("SB_LUT4", 0)
        ff = sum(n for k, n in cells.items() if k.startswith("SB_DFF"))
        bram, dsp = cells.get("SB_RAM40_4K", 0), cells.get("SB_MAC16", 0)
    return {"lut4": lut, "ff": ff, "bram": bram, "dsp": dsp, "spram": cells.get("SB_SPRAM256KA", 0)}


def _fmax(report: dict[str, Any]) -> float | None:
    clocks = report.get("fmax", {})
    return round(min(float(c["achieved"]) for c in clocks.values()), 2) if clocks else None


def _signal_ports(block: wiring.Component) -> list[Value]:
    """The block's ports that are signals (an always-ready stream's ``ready`` is a constant)."""
    ports = (Value.cast(value) for _path, _member, value in block.signature.flatten(block))
    return [value for value in ports if isinstance(value, Signal)]


def block_rtlil(block: wiring.Component, target: Target, wrapped: bool) -> str:
    """RTLIL of ``block`` (inside a :class:`Harness` when ``wrapped``) elaborated for ``target``'s
    device, as a board platform would give it: a block that builds differently per device (the
    single-port weight memories in SPRAM on an iCE40 UltraPlus) is synthesised as on the board."""
    from amaranth.back import rtlil

    platform = types.SimpleNamespace(device=target.device)
    if wrapped:
        return hide_bit_lookalike_wires(str(rtlil.convert(Harness(block), name="top", platform=platform)))
    text = rtlil.convert(block, name="top", platform=platform, ports=_signal_ports(block))
    return hide_bit_lookalike_wires(str(text))


def synth_block(name: str, block: wiring.Component, target: Target, directory: Path, seed: int = 1,
                env: dict[str, str] | None = None) -> dict[str, Any]:
    """Synthesise ``block`` for ``target`` in ``directory``; resources and Fmax (see module doc)."""
    env = env or tool_env()
    directory.mkdir(parents=True, exist_ok=True)
    start = time.monotonic()
    wrapped = target.family == "ice40"
    text = block_rtlil(block, target, wrapped)
    cached = directory / "result.json"
    digest = hashlib.sha256(text.encode()).hexdigest()[:16]
    after_read = yosys_after_read(target.family)
    key = (f"{digest} {target.family} {target.nextpnr} {target.freq_mhz} seed {seed} {after_read!r} "
           f"{yosys_after_synth(target.family)!r}")
    if cached.exists():
        previous = json.loads(cached.read_text())
        if previous.pop("key", None) == key:                # same netlist, same tool arguments: reuse
            return {**previous, "block": name, "seconds": 0.0}
    (directory / "block.il").write_text(text)
    script = [*synthesis_script(target.family, "block.il", "top"), "tee -q -o top.stat.json stat -json",
              "write_json top.json"]
    note = ""
    try:
        _run([env["YOSYS"], "-q", "-l", "synth.log", "-p", "; ".join(script)], directory, directory / "synth.out", env)
    except RuntimeError:
        if wrapped:
            raise
        # Yosys 0.70 asserts (duplicate wire) on some bare blocks: synthesise them inside the harness
        wrapped = True
        (directory / "block.il").write_text(block_rtlil(block, target, wrapped=True))
        _run([env["YOSYS"], "-q", "-l", "synth.log", "-p", "; ".join(script)], directory, directory / "synth.out", env)
        note = "synthesised in the harness (Yosys failed on the bare block): resources include it"
    stat = json.loads((directory / "top.stat.json").read_text())
    if wrapped and not note:        # resources of the bare block (the harness is flattened into "top")
        (directory / "bare.il").write_text(block_rtlil(block, target, wrapped=False))
        try:
            _run([env["YOSYS"], "-q", "-l", "bare.log", "-p",
                  "; ".join([*synthesis_script(target.family, "bare.il", "top"),
                             "tee -q -o bare.stat.json stat -json"])],
                 directory, directory / "bare.out", env)
            stat = json.loads((directory / "bare.stat.json").read_text())
        except RuntimeError:        # Yosys 0.70 asserts on some bare blocks (duplicate wire): keep the harness'
            note = "resources include the harness (Yosys failed on the bare block)"
    nextpnr = env["NEXTPNR_ECP5" if target.family == "ecp5" else "NEXTPNR_ICE40"]
    extra = ["--out-of-context"] if target.family == "ecp5" else ["--pcf-allow-unconstrained"]
    row: dict[str, Any] = {"block": name, **_resources(stat, target.family), "fmax_mhz": None,
                           "fmax_method": "out-of-context" if target.family == "ecp5" else "registered harness"}
    if note:
        row["note"] = note
    try:
        _run([nextpnr, *target.nextpnr, *extra, "--json", "top.json", "--freq", str(target.freq_mhz),
              "--seed", str(seed), "--timing-allow-fail", "--report", "report.json", "--log", "nextpnr.log"],
             directory, directory / "nextpnr.out", env)
        row["fmax_mhz"] = _fmax(json.loads((directory / "report.json").read_text()))
    except RuntimeError:                                    # e.g. the block and its harness overflow the device
        errors = [line for line in (directory / "nextpnr.out").read_text().splitlines() if "ERROR" in line]
        full = re.search(r"no BELs remaining to implement cell type '(\w+)'", errors[-1]) if errors else None
        row["fmax_note"] = (f"does not fit the device with its harness: no {full.group(1)} left" if full else
                            "place and route failed: " + (errors[-1].strip() if errors else "see nextpnr.log"))
    cached.write_text(json.dumps({**row, "key": key}))
    return {**row, "seconds": round(time.monotonic() - start, 1)}


def synth_report(targets: dict[str, str] | None = None, only: list[str] | None = None, seed: int = 1,
                 progress: Callable[[str], None] = print) -> dict[str, Any]:
    """Synthesise every block for every target (``family → configuration``, default :data:`TARGETS`)."""
    env = tool_env()
    result: dict[str, Any] = {"seed": seed, "targets": {}}
    for family, target in TARGETS.items():
        if targets is not None and family not in targets:
            continue
        config = (targets or {}).get(family) or target.config
        target = dataclasses.replace(target, config=config)
        cfg = load_config(config)
        rows = []
        for name, make in BLOCKS():
            if only and name not in only:
                continue
            slug = "".join(c if c.isalnum() else "-" for c in name).strip("-")
            directory = build_root() / "synth-report" / family / slug
            row = synth_block(name, make(cfg), target, directory, seed, env)
            seconds = row.pop("seconds")                 # not in the committed table: it would churn every diff
            progress(f"{family} {name}: LUT4 {row['lut4']}, FF {row['ff']}, BRAM {row['bram']}, DSP {row['dsp']}, "
                     f"Fmax {row['fmax_mhz']} MHz ({seconds} s)")
            rows.append(row)
        result["targets"][family] = {"device": target.device, "config": config, "config_hash": cfg.hash(),
                                     "lanes": cfg.lanes, "tools": tool_versions(family, env), "blocks": rows}
    return result


def markdown_table(report: dict[str, Any]) -> str:
    """The report as Markdown: one table per target."""
    lines = ["# Per-block synthesis report", "",
             "Generated by `make synth-report` (`modsnn synth-report`); method in `boards/synth_report.py`.",
             "LUT4 and FF from Yosys on the bare block (ECP5 LUT4 counts each carry cell as 2 and each 16×4",
             "LUT RAM as 4); Fmax from nextpnr (ECP5 out-of-context, iCE40 in a registered harness),",
             f"seed {report['seed']}.", ""]
    for family, target in report["targets"].items():
        lines += [f"## {family}: {target['device']}, configuration `{target['config']}` (lanes {target['lanes']}, "
                  f"hash {target['config_hash']})", "",
                  f"Tools: {target['tools']['yosys']}; {target['tools']['nextpnr']}; Amaranth "
                  f"{target['tools']['amaranth']}.", "",
                  "| block | LUT4 | FF | BRAM | DSP | Fmax (MHz) |", "|---|---:|---:|---:|---:|---:|"]
        notes = []
        for row in target["blocks"]:
            fmax = f"{row['fmax_mhz']:.1f}" if row["fmax_mhz"] is not None else f"— ({row.get('fmax_note', '')})"
            mark = ""
            if row.get("note"):
                notes.append(row["note"])
                mark = f" [{len(notes)}]"
            lines.append(f"| {row['block']}{mark} | {row['lut4']:,} | {row['ff']:,} | {row['bram']} | {row['dsp']} "
                         f"| {fmax} |")
        lines += ["", *(f"[{i}] {note}" for i, note in enumerate(notes, 1)), ""]
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------- hierarchy
#: Yosys ``synth_*`` options that keep the module hierarchy. ``-noabc``/``-noabc9``: Yosys 0.70's
#: ABC9 pass asserts (a duplicate wire) on the unflattened board top, so LUTs come from its built-in
#: mapping, about a third more than ABC9 gives the flattened build: compare modules with each other,
#: not with the build's totals.
HIERARCHY_SYNTH = {"ice40": f"{synth_command('ice40')} -noflatten -noabc",
                   "ecp5": f"{synth_command('ecp5')} -noflatten -noabc9"}
_STAT_CELL = re.compile(r"^\s+(\d+)\s+(\S+)\s*$")


def parse_hierarchy_stat(log: str) -> dict[str, dict[str, int]]:
    """``module → {cell type: count}`` from the text of Yosys ``stat`` on an unflattened design (the
    last statistics of each module win)."""
    modules: dict[str, dict[str, int]] = {}
    current: dict[str, int] | None = None
    for line in log.splitlines():
        if line.startswith("=== design hierarchy"):
            current = None
        elif line.startswith("=== ") and line.endswith(" ==="):
            current = modules[line[4:-4].strip()] = {}
        elif current is not None and (match := _STAT_CELL.match(line)):
            current[match.group(2)] = int(match.group(1))
    return modules


def hierarchy_rows(modules: dict[str, dict[str, int]], family: str) -> list[dict[str, Any]]:
    """One row per module (its own cells, not its submodules'): LUT4, FF, carry, RAM blocks (block RAM,
    and on iCE40 SPRAM) and DSP, the largest first."""
    names = {"ice40": ("SB_LUT4", "SB_DFF", "SB_CARRY", ("SB_RAM40_4K", "SB_SPRAM256KA"), "SB_MAC16"),
             "ecp5": ("LUT4", "TRELLIS_FF", "CCU2C", ("DP16KD",), "MULT18X18D")}[family]
    lut, ff, carry, rams, dsp = names
    rows = []
    for module, cells in modules.items():
        row = {"module": module, "lut4": cells.get(lut, 0), "ff": sum(n for c, n in cells.items() if c.startswith(ff)),
               "carry": cells.get(carry, 0), "bram": sum(cells.get(r, 0) for r in rams), "dsp": cells.get(dsp, 0)}
        if any(row[k] for k in ("lut4", "ff", "carry", "bram", "dsp")):
            rows.append(row)
    return sorted(rows, key=lambda r: -(r["lut4"] + r["ff"]))


def board_hierarchy(board_name: str, cfg: Config, directory: Path,
                    clock_hz: float | None = None) -> list[dict[str, Any]]:
    """Synthesise ``board_name``'s top for ``cfg`` with the hierarchy kept and return
    :func:`hierarchy_rows` (where a design's cells go, e.g. to see what keeps it from fitting)."""
    from .registry import board_named
    from .top import BoardTop

    board = board_named(board_name)
    directory.mkdir(parents=True, exist_ok=True)
    plan = board.platform().prepare(BoardTop(board, cfg, clock_hz), name="modsnn",
                                    script_after_read=yosys_after_read(board.family))
    plan.files["modsnn.il"] = hide_bit_lookalike_wires(plan.files["modsnn.il"])
    plan.extract(str(directory))
    script = [*synthesis_script(board.family, "modsnn.il", "modsnn", synth=HIERARCHY_SYNTH[board.family]),
              "tee -o hierarchy.stat stat"]
    env = tool_env()
    _run([env["YOSYS"], "-q", "-l", "hierarchy.log", "-p", "; ".join(script)], directory, directory / "hierarchy.out",
         env)
    return hierarchy_rows(parse_hierarchy_stat((directory / "hierarchy.stat").read_text()), board.family)


def hierarchy_table(rows: list[dict[str, Any]], limit: int = 30) -> str:
    """The ``limit`` largest modules of :func:`hierarchy_rows` as Markdown."""
    lines = ["| module | LUT4 | FF | carry | RAM blocks | DSP |", "|---|---:|---:|---:|---:|---:|"]
    lines += [f"| {r['module']} | {r['lut4']:,} | {r['ff']:,} | {r['carry']:,} | {r['bram']} | {r['dsp']} |"
              for r in rows[:limit]]
    total = {k: sum(r[k] for r in rows) for k in ("lut4", "ff", "carry", "bram", "dsp")}
    lines.append(f"| **all {len(rows)} modules** | {total['lut4']:,} | {total['ff']:,} | {total['carry']:,} | "
                 f"{total['bram']} | {total['dsp']} |")
    return "\n".join(lines)
