"""Mutation testing of the gateware: does the default suite notice a plausible bug in ``hw/``?

Each :class:`Mutant` replaces one exact snippet of one ``hw/`` file (it must occur exactly once;
``tests/test_mutants.py`` checks that every mutant still applies, so a refactor cannot silently
retire one). The classes follow the usual ones for RTL: an operator, a shift amount ±1, a bound ±1,
a dropped saturation, swapped operands or lanes, a stuck control bit, an off-by-one in a counter or
an FSM transition.

:func:`run_mutant` lays the ``modsnn`` package out as links into this checkout
(:func:`modsnn._layout.link_tree`), replaces ``modsnn/hw`` by a copy carrying the mutation, and
runs the RTL part of the default suite on it (``pytest -x``, the test files of :data:`SUITES`;
the package on ``PYTHONPATH`` wins over the editable install) in the :data:`STAGES`: first a
screen of the most sensitive RTL tests on Icarus, then, for the survivors, the RTL part of the
default suite as it runs there (Verilator). The mutant is *killed* when a check fails (an
``AssertionError`` in a test: a comparison with the golden model, an RTL ``Assert``, an elaboration
refusal a test checks), *survives* when all pass in both stages; any other failure (the harness
itself, a timeout) is reported as ``error``/``timeout``, not as a kill. Before the mutants, the
screen must pass on the unmutated gateware. Builds are shared by RTL hash under
``build/mutants/build`` (unmutated configurations reuse theirs); run sequentially.

    python -m modsnn.sim.mutants [--only NAME ...] [--list] [--out build/mutants]    # make mutants
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

__all__ = ["MUTANTS", "SUITES", "Mutant", "apply", "main", "run_mutant"]


@dataclasses.dataclass(frozen=True)
class Mutant:
    """``find`` → ``replace`` in ``path`` (relative to the checkout), of class ``kind``."""

    name: str
    path: str
    kind: str
    find: str
    replace: str

    @property
    def suite(self) -> str:
        return "link" if self.path.startswith("hw/link/") else "core"


#: The test files each suite runs, fastest-failing first.
SUITES = {
    "core": ["tests/test_hw_weight_memory.py", "tests/test_hw_hash.py", "tests/test_formats.py",
             "tests/test_hw_params.py", "tests/test_hw_top.py",
             "tests/test_sim_onchip.py", "tests/test_link_system.py"],
    "link": ["tests/test_link_framing.py", "tests/test_link_uart.py", "tests/test_link_core.py",
             "tests/test_link_host.py", "tests/test_link_system.py"],
}

_M = Mutant
MUTANTS: tuple[Mutant, ...] = (
    # ---- neuron and trace updates (hw/neuron.py)
    _M("leak-shift+1", "hw/neuron.py", "shift", "(v >> cfg.leak_shift)", "(v >> (cfg.leak_shift + 1))"),
    _M("v-max-bound-1", "hw/neuron.py", "bound", "Mux(wide > cfg.v_max, cfg.v_max,",
       "Mux(wide > cfg.v_max - 1, cfg.v_max - 1,"),
    _M("v-min-saturation-dropped", "hw/neuron.py", "saturation", "Mux(wide < cfg.v_min, cfg.v_min, wide)", "wide"),
    _M("boxcar-hi-inclusive", "hw/neuron.py", "operator", "(v1 < hi)", "(v1 <= hi)"),
    _M("spike-strict-threshold", "hw/neuron.py", "operator", "s.eq(v1 >= theta)", "s.eq(v1 > theta)"),
    _M("reset-half-theta", "hw/neuron.py", "operator", "Mux(s, v1 - theta, v1)", "Mux(s, v1 - (theta >> 1), v1)"),
    _M("trace-decay-floor", "hw/neuron.py", "operator", "((x + ((1 << k) - 1)) >> k)", "(x >> k)"),
    _M("trace-saturation-dropped", "hw/neuron.py", "saturation", "Mux(x_wide > cfg.x_max, cfg.x_max, x_wide)",
       "x_wide"),
    # ---- the weight memories (hw/weight_memory.py, hw/spram.py)
    _M("chunk-select-early", "hw/weight_memory.py", "off-by-one", "Array(outputs)[selects[2]]",
       "Array(outputs)[selects[1]]"),
    _M("chunk-write-all", "hw/weight_memory.py", "stuck", "write.eq(self.we & ((self.waddr >> row_bits) == n))",
       "write.eq(self.we)"),
    _M("single-port-unregistered", "hw/spram.py", "off-by-one", "m.d.sync += self.rdata.eq(rd.data)",
       "m.d.comb += self.rdata.eq(rd.data)"),
    # ---- the bank: accumulate, sweep, plasticity (hw/bank.py)
    _M("weight-clamp-quarter", "hw/bank.py", "bound", "Mux(wide11 > cfg.w_max, cfg.w_max,",
       "Mux(wide11 > cfg.w_max // 4, cfg.w_max // 4,"),
    _M("weight-clamp-low-dropped", "hw/bank.py", "saturation", "Mux(wide11 < -cfg.w_max, -cfg.w_max, wide11)",
       "wide11"),
    _M("weight-frac-1", "hw/bank.py", "shift", "(weight3 >> cfg.weight_frac)", "(weight3 >> (cfg.weight_frac - 1))"),
    _M("forwarding-older-wins", "hw/bank.py", "swap", "in reversed(list(zip(hits, history, strict=True))):",
       "in zip(hits, history, strict=True):"),
    _M("forwarding-second-stuck", "hw/bank.py", "stuck", "history[0][0] & (history[0][1] == target3)",
       "0 & (history[0][1] == target3)"),
    _M("sr-shift-31", "hw/bank.py", "shift", "wide.eq(old10 + (total10 >> 32))", "wide.eq(old10 + (total10 >> 31))"),
    _M("sr-rounding-dropped", "hw/bank.py", "operator", "delay(m, shifted9 + word, 1, \"pj_t\")",
       "delay(m, shifted9, 1, \"pj_t\")"),
    _M("sign-term-swapped", "hw/bank.py", "swap", "Mux(word[31], j8.args.sign.m, -j8.args.sign.m)",
       "Mux(word[31], -j8.args.sign.m, j8.args.sign.m)"),
    _M("gate-ignores-h", "hw/bank.py", "operator", "gate.eq(level9 * h9)", "gate.eq(level9)"),
    _M("diagonal-learned", "hw/bank.py", "operator", "& ~((j3.matrix == Matrix.REC) & (row == j3.args.sr.j))", ""),
    _M("acc-clear-stuck", "hw/bank.py", "stuck", "self._write(\"acc\", valid_b, cmd_b.addr, 0)",
       "self._write(\"acc\", valid_b & 0, cmd_b.addr, 0)"),
    _M("h-sum-dropped", "hw/bank.py", "operator", "new.h.eq(Mux(h, old_c.h + 1, old_c.h))", "new.h.eq(old_c.h)"),
    _M("x-sum-old-trace", "hw/bank.py", "swap", "new.xs.eq(Mux(s, old_c.xs + x_fire_c, old_c.xs + x_rest_c))",
       "new.xs.eq(Mux(s, old_c.xs + old_c.x, old_c.xs + old_c.x))"),
    _M("acc-target+1", "hw/bank.py", "off-by-one", "Mux(out2, route2.addr, cmd2.a)",
       "Mux(out2, route2.addr, cmd2.a + 1)"),
    _M("acc-route-valid-ignored", "hw/bank.py", "stuck", "valid2 & (~out2 | route2.valid)", "valid2"),
    _M("sr-operand+1", "hw/bank.py", "off-by-one", "operand.eq(j.args.sr.j)]", "operand.eq(j.args.sr.j + 1)]"),
    _M("ff-rec-keys-swapped", "hw/bank.py", "swap", "Mux(j1.matrix == Matrix.FF, 1, 2)",
       "Mux(j1.matrix == Matrix.FF, 2, 1)"),
    _M("sign-sum-not-restarted", "hw/bank.py", "stuck", "Mux(j8.args.sign.c == 0, 0, acc) + term", "acc + term"),
    _M("gated-stuck-1", "hw/bank.py", "stuck", "self.gated.eq(gate10 != 0)", "self.gated.eq(1)"),
    # ---- the hash (hw/hash.py)
    _M("hash-shift-18", "hw/hash.py", "shift", "(a ^ 0xC761C23C) ^ (a >> 19)", "(a ^ 0xC761C23C) ^ (a >> 18)"),
    _M("hash-shift-4", "hw/hash.py", "shift", "(a + 0xFD7046C5) + (a << 3)", "(a + 0xFD7046C5) + (a << 4)"),
    # ---- modulator (hw/modulator.py)
    _M("argmax-ties-highest", "hw/modulator.py", "operator", "with m.If(n2 > best):", "with m.If(n2 >= best):"),
    _M("level-clamp+1", "hw/modulator.py", "bound", "Mux(q > K, K,", "Mux(q > K - 1, K - 1,"),
    _M("level-clamp-low-dropped", "hw/modulator.py", "saturation", "Mux(q < -K, -K, q)", "q"),
    _M("level-rounding-floor", "hw/modulator.py", "operator", "q.eq((e3 + half) >> cfg.mod_shift)",
       "q.eq(e3 >> cfg.mod_shift)"),
    _M("error-target+1", "hw/modulator.py", "off-by-one", "e.eq(cfg.target_count - n2)",
       "e.eq(cfg.target_count + 1 - n2)"),
    _M("margin-inclusive", "hw/modulator.py", "operator", "(n2 + cfg.teach_margin > n_y)",
       "(n2 + cfg.teach_margin >= n_y)"),
    _M("counts-not-cleared", "hw/modulator.py", "stuck", "with m.If(self.clear):", "with m.If(self.clear & 0):"),
    # ---- input encoder and serializers
    _M("encoder-strict-threshold", "hw/encoder.py", "operator", "s.eq(a_wide >= 256)", "s.eq(a_wide > 256)"),
    _M("encoder-reset-to-zero", "hw/encoder.py", "operator", "new.a.eq(a_wide - Mux(s, 256, 0))",
       "new.a.eq(Mux(s, 0, a_wide))"),
    _M("encoder-clear-short", "hw/encoder.py", "off-by-one", "with m.If(index == q - 1):",
       "with m.If(index == q - 2):"),
    _M("serializer-bit-order", "hw/serializer.py", "swap", "for n in reversed(range(B)):", "for n in range(B):"),
    _M("serializer-load-early", "hw/serializer.py", "off-by-one", "(loaded < written)", "(loaded <= written)"),
    _M("sweep-short", "hw/sweeper.py", "off-by-one", "with m.If(a == words[pop] - 1):",
       "with m.If(a == words[pop] - 2):"),
    # ---- controller and plasticity engine
    _M("one-step-short", "hw/sequencer.py", "fsm", "with m.Elif(self.step == T - 1):",
       "with m.Elif(self.step == T - 2):"),
    _M("learn-without-levels", "hw/sequencer.py", "fsm", "with m.If(train & self.any_m):", "with m.If(train):"),
    _M("lr-extra-ignored", "hw/learner.py", "stuck", "self.shift.eq(32 - (lr + self.lr_extra))",
       "self.shift.eq(32 - lr)"),
    _M("readout-walk-short", "hw/learner.py", "off-by-one", "with m.If(self.w_j == n_l - 1):",
       "with m.If(self.w_j == n_l - 2):"),
    _M("first-group-gate-inverted", "hw/learner.py", "stuck", "with m.If(~self._gate()):",
       "with m.If(self._gate()):"),
    _M("prefix-capture-late", "hw/learner.py", "off-by-one", "R = self._lat.result", "R = self._lat.result + 1"),
    _M("dispatcher-empty-event-live", "hw/dispatcher.py", "stuck", "live.eq(e_words != 0)", "live.eq(1)"),
    _M("dispatcher-drain-short", "hw/dispatcher.py", "off-by-one", "drain.eq(CORE_LATENCY + ACC_LATENCY)",
       "drain.eq(CORE_LATENCY + ACC_LATENCY - 2)"),
    # ---- host link (hw/link/)
    _M("slip-escape-decoded-swapped", "hw/link/framing.py", "swap", "Mux(byte[0], SLIP_ESC, SLIP_END)",
       "Mux(byte[0], SLIP_END, SLIP_ESC)"),
    _M("slip-error-dropped", "hw/link/framing.py", "stuck", "self.o.payload.error.eq(end & damaged)",
       "self.o.payload.error.eq(0)"),
    _M("slip-bad-escape-ignored", "hw/link/framing.py", "stuck", "damaged = error | self.i.payload.error | bad",
       "damaged = error | self.i.payload.error"),
    _M("crc-bytes-swapped", "hw/link/framing.py", "swap", "self.o.payload.data.eq(crc.crc[8:])",
       "self.o.payload.data.eq(crc.crc[:8])"),
    _M("slip-escape-ignores-ready", "hw/link/framing.py", "stuck", "with m.If(self.o.valid & self.o.ready & special):",
       "with m.If(self.o.valid & special):"),
    _M("receiver-started-not-cleared", "hw/link/framing.py", "stuck", "count.eq(0), started.eq(0)]", "count.eq(0)]"),
    _M("request-byte-early", "hw/link/command.py", "off-by-one", "with m.Case(k + 2):", "with m.Case(k + 1):"),
    # ---- control port (hw/control_port.py)
    _M("saturation-high-bit+1", "hw/control_port.py", "saturation", "Mux(value[bits:].any(), 2**bits - 1,",
       "Mux(value[bits + 1:].any(), 2**bits - 1,"),
)


def apply(text: str, mutant: Mutant) -> str:
    """``text`` with the mutation; ``ValueError`` unless the snippet occurs exactly once."""
    found = text.count(mutant.find)
    if found != 1:
        raise ValueError(f"mutant {mutant.name}: the snippet {mutant.find!r} occurs {found} times in {mutant.path}, "
                         f"not once; update it in sim/mutants.py")
    return text.replace(mutant.find, mutant.replace)


def _layout(mutant: Mutant, into: Path) -> Path:
    from .._layout import link_tree

    link_tree(ROOT, into)
    hw = into / "modsnn" / "hw"
    hw.unlink()
    shutil.copytree(ROOT / "hw", hw, ignore=shutil.ignore_patterns("__pycache__"))
    target = into / "modsnn" / mutant.path
    target.write_text(apply(target.read_text(), mutant))
    return into


#: The suite runs in two stages. ``screen``: the most sensitive RTL tests of the default suite (every
#: saturation firing, plasticity, several mappings and layers), each cocotb bench forced onto Icarus,
#: whose compile takes seconds where Verilator's takes minutes; most mutants die here. ``suite``: for
#: the survivors, the whole RTL part of the default suite as ``make test`` runs it (Verilator, the RTL's
#: ``Assert``s checked). The single-port-weights configuration stays out of the screen: on Icarus its
#: bank asserts "weights read and written in one cycle" on a zero-time glitch of the shared address
#: (event-driven scheduling; Verilator, which evaluates settled values, does not).
SCREENS = {
    "core": ["tests/test_hw_weight_memory.py", "tests/test_hw_top.py::test_corners_all_fire",
             "tests/test_hw_top.py::test_top_icarus",
             "tests/test_hw_top.py::test_top_matches_golden[three-layers]",
             "tests/test_hw_top.py::test_top_matches_golden[readout-only-dense]",
             "tests/test_hw_top.py::test_top_matches_golden[one-word-layer]",
             "tests/test_hw_top.py::test_top_matches_golden[very-sparse-readout]"],
    "link": ["tests/test_link_framing.py::test_framing_icarus", "tests/test_link_uart.py::test_uart_icarus",
             "tests/test_link_core.py"],
}
#: A screen that runs longer than this (its mutant passing takes ~1–3 minutes) has hung, e.g. Icarus
#: in an endless zero-time loop that no simulated-time budget can stop: the mutant goes on to the
#: suite stage on Verilator instead of being reported as a timeout
SCREEN_TIMEOUT = 600.0
STAGES: tuple[tuple[str, dict[str, str], dict[str, list[str]]], ...] = (
    ("screen", {"MODSNN_FORCE_SIMULATOR": "icarus"}, SCREENS),
    ("suite", {}, SUITES),
)


def _pytest(files: list[str], layout: Path | None, out: Path, env_extra: dict[str, str], log: Path,
            timeout: float) -> tuple[int, str]:
    env = {**os.environ, "MODSNN_BUILD": str(out / "build"), "PYTHONDONTWRITEBYTECODE": "1", **env_extra}
    if layout is not None:
        env["PYTHONPATH"] = str(layout)
    cmd = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "-n", "0", *files]
    # its own process group: on a timeout the simulator the run started goes too (killing pytest
    # alone left a hung vvp running for the rest of the session)
    process = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               start_new_session=True)
    try:
        stdout, stderr = process.communicate(timeout=timeout)
        output, code = stdout + stderr, process.returncode
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        stdout, stderr = process.communicate()
        output, code = f"{stdout}\n{stderr}\nTIMEOUT after {timeout:.0f} s", -1
    log.write_text(output)
    return code, output


def check_stages(out: Path, suite: str, timeout: float = 3600) -> None:
    """The screen passes on the unmutated gateware (else a "kill" would mean nothing; the suite stage
    is the default suite, which passes on every commit)."""
    for stage, env, files in STAGES[:1]:
        log = out / f"baseline-{suite}-{stage}.log"
        code, _ = _pytest(files[suite], None, out, env, log, timeout)
        if code != 0:
            raise RuntimeError(f"the {suite} suite fails on the unmutated gateware in stage {stage}: see {log}")


def run_mutant(mutant: Mutant, out: Path, timeout: float = 1800) -> dict[str, object]:
    """Run the mutant's suite stage by stage; returns ``{name, kind, path, status, stage, test, seconds}``."""
    work = out / mutant.name
    if work.exists():
        shutil.rmtree(work)
    layout = _layout(mutant, work / "layout")
    started = time.perf_counter()
    status, stage, failed = "survived", "", []
    for stage, env, files in STAGES:
        code, output = _pytest(files[mutant.suite], layout, out, env, work / f"pytest-{stage}.log",
                               min(timeout, SCREEN_TIMEOUT) if stage == "screen" else timeout)
        failed = [line.split(" ", 1)[1].split(" - ")[0] for line in output.splitlines()
                  if line.startswith(("FAILED tests/", "ERROR tests/"))]
        if code == -1 and stage == "screen":    # Icarus can hang in zero simulated time: no verdict yet
            continue
        if code != 0:          # a kill is a failed check (AssertionError), not a broken harness
            status = ("killed" if code == 1 and "AssertionError" in output else "timeout" if code == -1
                      else "error")
            break
    return {"name": mutant.name, "kind": mutant.kind, "path": mutant.path, "status": status,
            "stage": stage if status != "survived" else "", "test": failed[0] if failed else "",
            "seconds": round(time.perf_counter() - started, 1)}


def table(results: list[dict[str, object]]) -> str:
    killed = sum(r["status"] == "killed" for r in results)
    other = [f"{r['name']} ({r['status']})" for r in results if r["status"] in ("error", "timeout")]
    lines = [f"{killed} of {len(results)} mutants killed ({100 * killed / max(1, len(results)):.1f} %)"
             + (f"; not a verdict (harness error or timeout): {', '.join(other)}" if other else ""), "",
             "| mutant | file | class | status | stage | first failing test | s |", "|---|---|---|---|---|---|---|"]
    lines += [f"| {r['name']} | `{r['path']}` | {r['kind']} | {r['status']} | {r['stage'] or '—'} | "
              f"{r['test'] or '—'} | {r['seconds']} |" for r in results]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m modsnn.sim.mutants", description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", metavar="NAME", help="run only these mutants")
    parser.add_argument("--list", action="store_true", help="list the mutants and exit")
    parser.add_argument("--out", default=str(ROOT / "build" / "mutants"), help="work folder and report")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds per mutant before it counts as hung")
    parser.add_argument("--no-baseline", action="store_true",
                        help="skip checking that the screen passes on the unmutated gateware")
    args = parser.parse_args(argv)
    names = {m.name for m in MUTANTS}
    unknown = sorted(set(args.only or ()) - names)
    if unknown:
        print(f"mutants: unknown mutant(s) {', '.join(unknown)}; --list shows them", file=sys.stderr)
        return 2
    chosen = [m for m in MUTANTS if not args.only or m.name in args.only]
    if args.list:
        for m in chosen:
            print(f"{m.name:30s} {m.path:22s} {m.kind:11s} {m.find!r} → {m.replace!r}")
        return 0
    out = Path(args.out).resolve()          # MODSNN_BUILD must be absolute (the benches run elsewhere)
    out.mkdir(parents=True, exist_ok=True)
    if not args.no_baseline:
        for suite in sorted({m.suite for m in chosen}):
            print(f"baseline: the {suite} screen on the unmutated gateware ...", flush=True)
            check_stages(out, suite)
    results = []
    for n, mutant in enumerate(chosen, start=1):
        result = run_mutant(mutant, out, args.timeout)
        results.append(result)
        print(f"[{n}/{len(chosen)}] {mutant.name}: {result['status']} {result['test']} ({result['seconds']} s)",
              flush=True)
        (out / "mutants.json").write_text(json.dumps(results, indent=2) + "\n")
        (out / "mutants.md").write_text(table(results))
    print(table(results))
    return 0 if all(r["status"] == "killed" for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
