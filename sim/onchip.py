"""``make sim`` / ``modsnn sim``: train on chip in simulation and compare with the golden model."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from ..golden_model.config import Config
from .runner import SimulatorMissing, bench_report, icarus_available, rtl_build, run_cocotb, run_dir

__all__ = ["print_summary", "train_on_chip"]


def train_on_chip(cfg: Config, *, train_samples: int, test_samples: int, simulator: str = "verilator",
                  report: Path | None = None) -> dict[str, Any]:
    """Build the accelerator of ``cfg``, train ``train_samples`` on chip and test ``test_samples``;
    returns the report of :mod:`modsnn.sim.tb_train` (``bit_exact`` says whether it matched)."""
    from ..hw.top import Accelerator

    if simulator == "icarus" and not icarus_available():
        raise SimulatorMissing("Icarus Verilog is missing: install it with `apt-get install iverilog`, "
                               "or use the default simulator (SIM=verilator)")
    run = run_dir("train")
    print(f"modsnn sim: building the accelerator for {cfg.name!r} (hidden={list(cfg.hidden)}, lanes={cfg.lanes}, "
          f"cores={cfg.cores}) for {simulator} ...",
          flush=True)
    verilog, build = rtl_build(Accelerator(cfg), "top", simulator)
    config_file = run / "config.toml"
    config_file.write_text(cfg.to_toml())

    def bench(path: Path) -> None:
        env = {"MODSNN_TB_CONFIG": str(config_file), "MODSNN_TB_SET": "[]", "MODSNN_SIM_TRAIN": str(train_samples),
               "MODSNN_SIM_TEST": str(test_samples), "MODSNN_SIM_REPORT": str(path)}
        run_cocotb(verilog=verilog, toplevel="top", test_module="modsnn.sim.tb_train", build=build, run=run,
                   simulator=simulator, env=env)

    return bench_report(run, report, bench)


def print_summary(result: dict[str, Any], stream: Any = None) -> None:
    """The human summary of a ``make sim`` report on ``stream`` (default: the current ``sys.stdout``,
    looked up at call time, not at import: pytest swaps and closes captured streams)."""
    c = result["cycles_per_train_sample"]
    lines = [
        "",
        f"on-chip training of {result['config']!r} (hidden={result['hidden']}, lanes={result['lanes']}, "
        f"cores={result['cores']}), {result['train_samples']} samples:",
        f"  online training accuracy    {result['online_train_accuracy']:.1%}",
        f"  held-out accuracy on chip   {result['test_accuracy']:.1%} on {result['test_samples']} test samples "
        f"(golden model {result['golden_test_accuracy']:.1%})",
        f"  cycles per training sample  {c['total']:.0f} (integration {c['integration']:.0f}, sweep {c['sweep']:.0f}, "
        f"plasticity {c['plasticity']:.0f}); inference {result['cycles_per_test_sample']:.0f}",
        f"  simulation                  {result['simulated_cycles']:,} cycles in {result['wall_seconds']:.0f} s "
        f"({result['simulated_cycles_per_second']:,.0f} cycles/s); run time {result['run_seconds']:.0f} s",
        f"  bit-exact with the golden model: {'YES' if result['bit_exact'] else 'NO'} (weights "
        f"{'identical' if result['weights_match'] else 'DIFFER'}, predictions and cycle counts "
        f"{'identical' if result['bit_exact'] else 'see mismatches'})",
    ]
    lines += [f"  mismatch: {m}" for m in result["mismatches"]]
    lines.append(f"  report: {result['report']}")
    print("\n".join(lines), file=stream or sys.stdout)
