"""``modsnn sim --link`` / ``make sim LINK=1``: train the RTL through the host link, driven by the
host driver over a simulated serial line, and compare with the golden model.

The simulated system is :class:`~modsnn.sim.link_harness.LinkHarness` (host link and accelerator)
at :data:`SIM_CLOCK_HZ` with :data:`SYSTEM_DIVISOR` clock cycles per bit; one build serves this
run and the link fuzzer (:mod:`modsnn.sim.tb_link_fuzz`).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from ..golden_model.config import Config
from .link_harness import SIM_CLOCK_HZ, LinkHarness
from .runner import SimulatorMissing, bench_report, icarus_available, rtl_build, run_cocotb, run_dir

__all__ = ["SYSTEM_DIVISOR", "print_link_summary", "run_system_bench", "train_through_link"]

SYSTEM_DIVISOR = 4
"""Clock cycles per bit in the simulated system (the iCEBreaker's 12 MHz / 3 Mbaud ratio)."""
def run_system_bench(cfg: Config, test_module: str, env: dict[str, str], *, simulator: str = "verilator",
                     testcase: str | None = None, run: Path | None = None) -> tuple[int, int]:
    """Build the host link and accelerator for ``cfg`` (once per RTL and simulator) and run the
    cocotb test module ``test_module`` on it in ``run`` (default: a fresh run directory)."""
    if simulator == "icarus" and not icarus_available():
        raise SimulatorMissing("Icarus Verilog is missing: install it with `apt-get install iverilog`, "
                               "or use the default simulator (SIM=verilator)")
    verilog, build = rtl_build(LinkHarness(cfg, baud=SIM_CLOCK_HZ // SYSTEM_DIVISOR), "link_system", simulator)
    run = run or run_dir("link_system")
    config_file = run / "config.toml"
    config_file.write_text(cfg.to_toml())
    env = {"MODSNN_TB_CONFIG": str(config_file), "MODSNN_TB_SET": "[]", "MODSNN_TB_DIVISOR": str(SYSTEM_DIVISOR)} | env
    return run_cocotb(verilog=verilog, toplevel="link_system", test_module=test_module, build=build, run=run,
                      simulator=simulator, env=env, testcase=testcase)


def train_through_link(cfg: Config, *, train_samples: int, test_samples: int, simulator: str = "verilator",
                       report: Path | None = None) -> dict[str, Any]:
    """Train ``train_samples`` and test ``test_samples`` through the simulated link; returns the
    report of :mod:`modsnn.sim.tb_link_train` (``bit_exact`` says whether it matched)."""
    run = run_dir("link_train")
    print(f"modsnn sim --link: building the host link and the accelerator for {cfg.name!r} (lanes={cfg.lanes}) "
          f"for {simulator} ...", flush=True)

    def bench(path: Path) -> None:
        run_system_bench(cfg, "modsnn.sim.tb_link_train", {
            "MODSNN_SIM_TRAIN": str(train_samples), "MODSNN_SIM_TEST": str(test_samples),
            "MODSNN_SIM_REPORT": str(path)}, simulator=simulator, run=run)

    return bench_report(run, report, bench)


def print_link_summary(result: dict[str, Any], stream: Any = None) -> None:
    c = result["cycles_per_train_sample"]
    sim = result["seconds"]
    lines = [
        "",
        f"training of {result['config']!r} (lanes={result['lanes']}) through the host link, "
        f"{result['train_samples']} samples, {result['baud']:,.0f} baud ({result['divisor']} cycles per bit):",
        f"  online training accuracy    {result['online_train_accuracy']:.1%}",
        f"  held-out accuracy           {result['test_accuracy']:.1%} on {result['test_samples']} test samples "
        f"(golden model {result['golden_test_accuracy']:.1%})",
        f"  cycles per training sample  {c['total']:.0f}; inference {result['cycles_per_test_sample']:.0f}",
        f"  link, simulated time        weights in {sim['load_weights'] * 1e6:.0f} µs, "
        f"out {sim['read_weights'] * 1e6:.0f} µs; {result['train_samples_per_second']:,.0f} training and "
        f"{result['test_samples_per_second']:,.0f} test samples/s at {result['clock_hz'] / 1e6:g} MHz",
        f"  serial bytes                {result['bytes_to_board']:,} to the board, {result['bytes_from_board']:,} back",
        f"  simulation                  {result['simulated_cycles']:,} cycles in {result['wall_seconds']:.0f} s; "
        f"run time {result['run_seconds']:.0f} s",
        f"  bit-exact with the golden model: {'YES' if result['bit_exact'] else 'NO'} (weights "
        f"{'identical' if result['weights_match'] else 'DIFFER'}, predictions and cycle counts "
        f"{'identical' if result['bit_exact'] else 'see mismatches'})",
    ]
    lines += [f"  mismatch: {m}" for m in result["mismatches"]]
    lines.append(f"  report: {result['report']}")
    print("\n".join(lines), file=stream or sys.stdout)
