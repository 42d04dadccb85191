"""Golden-model speed figures (``modsnn bench`` / ``make bench``).

Measures, on the machine it runs on: batched bit-exact inference (batch 256 and 1), per-sample
bit-exact training, and the float64 twin, for the digits-sized network of ARCHITECTURE §10
(64 → 128 recurrent → 100 readout, T = 16) and for the presets. With ``peers=True`` the same
network is built in snnTorch and Brian2 (:mod:`.peers`) and timed in this process, and the
ratios are printed; nothing is compared with figures measured elsewhere. With ``baseline=DIR``
(a checkout of another commit, e.g. ``git worktree add /tmp/base e4f3367``) per-sample training
on the ``digits`` preset is timed for that checkout and for this one in alternating
subprocesses, and the weights after training are compared (:func:`compare_training`).
Timings are medians (or, against a baseline, the best) of repeats; nothing here is asserted by tests.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from .config import Config, load_config
from .cycles import project
from .data import load_dataset
from .network import Network

__all__ = ["arch_config", "compare_training", "golden_rates", "inputs", "run_bench"]


def arch_config() -> Config:
    """The benchmark network of ARCHITECTURE §10: 64 → 128 recurrent → 10×10 readout, T = 16."""
    return Config(name="arch-s10", hidden=(128,), n_inputs=64, threshold=(32,), readout_threshold=32)


def _rate(fn: Callable[[], int], repeats: int) -> float:
    rates = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        n = fn()
        rates.append(n / (time.perf_counter() - t0))
    return statistics.median(rates)


def inputs(cfg: Config, n: int) -> np.ndarray:
    """``n`` random 8-bit samples, half the pixels 0 (stimulus only, seed 0)."""
    rng = np.random.default_rng(0)  # stimulus only
    x = rng.integers(0, 256, size=(n, cfg.n_inputs), dtype=np.uint8)
    x[rng.random(x.shape) < 0.5] = 0
    return x


def measure(cfg: Config, quick: bool = False) -> dict[str, Any]:
    repeats = 3 if quick else 5
    n_batch = 1024 if quick else 4096
    n_single = 100 if quick else 400
    n_train = 200 if quick else 1000
    x = inputs(cfg, n_batch)
    y = np.arange(n_batch) % cfg.n_classes
    out: dict[str, Any] = {"config": cfg.name, "hidden": list(cfg.hidden), "n_inputs": cfg.n_inputs}
    for model in ("int", "float"):
        net = Network(cfg, model)

        def batched(net: Network = net) -> int:
            return len(net.predict(x, batch=256))

        def single(net: Network = net) -> int:
            return sum(len(net.predict(x[i:i + 1], batch=1)) for i in range(n_single))

        def train_some(net: Network = net) -> int:
            for i in range(n_train):
                net.train_step(x[i], int(y[i]))
            return n_train

        out[f"{model}_infer_batch256"] = _best_threads(batched, repeats)
        out[f"{model}_infer_batch1"] = _best_threads(single, repeats)
        out[f"{model}_train"] = _best_threads(train_some, repeats)
    return out


def _blas_threads() -> list[int]:
    from threadpoolctl import threadpool_info

    return sorted({1, *(int(p.get("num_threads", 1)) for p in threadpool_info() if p.get("user_api") == "blas")})


def _best_threads(fn: Callable[[], int], repeats: int, each: dict[str, float] | None = None,
                  name: str = "") -> float:
    """Best median rate over BLAS thread counts 1 and the default (a loaded machine can make
    threaded BLAS much slower); per-count rates go into ``each`` as ``NAME_threadsN``."""
    from threadpoolctl import threadpool_limits

    best = 0.0
    for threads in _blas_threads():
        with threadpool_limits(threads, user_api="blas"):
            rate = _rate(fn, repeats)
        if each is not None:
            each[f"{name}_threads{threads}"] = rate
        best = max(best, rate)
    return best


def golden_rates(cfg: Config, x: np.ndarray, repeats: int) -> dict[str, float]:
    """Inference samples/s of the integer model and the float twin at batch 256 and 1: the best
    over BLAS threads 1 and the default, and each (``..._threadsN``)."""
    out: dict[str, float] = {}
    for model in ("int", "float"):
        net = Network(cfg, model)

        def batched(net: Network = net) -> int:
            return len(net.predict(x, batch=256))

        def single(net: Network = net) -> int:
            return sum(len(net.predict(x[i:i + 1], batch=1)) for i in range(100))

        each: dict[str, float] = {}
        out[f"{model}_batch256"] = _best_threads(batched, repeats, each, f"{model}_batch256")
        out[f"{model}_batch1"] = _best_threads(single, repeats, each, f"{model}_batch1")
        out.update(each)
    return out


def run_bench(quick: bool = False, peers: bool = False, baseline: Path | None = None) -> list[dict[str, Any]]:
    """Print the speed figures (and the peers and baseline comparisons when asked); return them."""
    if peers:
        from .peers import INSTALL_HINT, missing

        absent = missing()
        if absent:
            raise BenchError(f"--peers needs {', '.join(absent)}: {INSTALL_HINT}")
    report: dict[str, Any] = {}
    if baseline is not None:
        report["training_vs_baseline"] = compare_training(baseline, quick)
    if peers:
        report["peers"] = _print_peers(quick)
    results = _golden_table(quick)
    report["golden_model"] = results
    report["accelerator"] = _projections(quick, results)
    print(json.dumps(report))
    return results


class BenchError(ValueError):
    """A benchmark that cannot run as asked (a missing extra, a bad baseline folder)."""


def _golden_table(quick: bool) -> list[dict[str, Any]]:
    configs = [arch_config(), load_config("tiny"), load_config("digits"), load_config("mnist")]
    results = []
    print(f"{'network':<10} {'model':<6} {'infer b=256':>12} {'infer b=1':>10} {'train':>9}   samples/s")
    for cfg in configs:
        r = measure(cfg, quick)
        results.append(r)
        for model in ("int", "float"):
            print(f"{cfg.name:<10} {model:<6} {r[f'{model}_infer_batch256']:>12,.0f} "
                  f"{r[f'{model}_infer_batch1']:>10,.0f} {r[f'{model}_train']:>9,.0f}")
    a = results[0]
    print(f"  integer / float64 twin, batched inference (64 → 128 → 100): "
          f"{a['int_infer_batch256'] / a['float_infer_batch256']:.2f}×")
    return results


def _print_peers(quick: bool) -> dict[str, Any]:
    from .peers import measure_peers

    print("Peers, measured now in this process on the §10 network (64 → 128 recurrent → 100, T = 16), "
          "inference samples/s:")
    r = measure_peers(quick, log=lambda s: print(f"  {s}", flush=True))
    golden, torch_rates, brian = r["golden"], r["snntorch"], r["brian2"]
    for name, rate in [*(("golden " + k, v) for k, v in golden.items()), *torch_rates.items(), *brian.items()]:
        print(f"  {name:<32} {rate:>10,.0f}")
    best_torch_256 = max(v for k, v in torch_rates.items() if "_b256_" in k)
    best_torch_1 = max(v for k, v in torch_rates.items() if "_b1_" in k)
    best_brian = max(brian.values())
    best_brian_name = max(brian, key=lambda k: brian[k])
    ratios = {
        "int_b256_over_snntorch_b256": golden["int_batch256"] / best_torch_256,
        "int_b1_over_snntorch_b1": golden["int_batch1"] / best_torch_1,
        "int_b256_over_brian2_best": golden["int_batch256"] / best_brian,
        "float_b256_over_snntorch_b256": golden["float_batch256"] / best_torch_256,
    }
    print(f"  bit-exact integer, batch 256 / snnTorch float32 batch 256 (best threads): "
          f"{ratios['int_b256_over_snntorch_b256']:.2f}×  (goal ≥ 1.0×)")
    print(f"  bit-exact integer, batch 1 / snnTorch float32 batch 1:                     "
          f"{ratios['int_b1_over_snntorch_b1']:.2f}×")
    print(f"  bit-exact integer, batch 256 / Brian2 best ({best_brian_name}):   "
          f"{ratios['int_b256_over_brian2_best']:.1f}×  (goal ≥ 30×)")
    print(f"  float64 twin, batch 256 / snnTorch float32 batch 256:                      "
          f"{ratios['float_b256_over_snntorch_b256']:.2f}×\n")
    return {**r, "ratios": ratios}


# ------------------------------------------------------------------ training speed against a baseline
_TRAIN_SCRIPT = r"""
import hashlib, json, sys, time
import numpy as np
from modsnn.golden_model.config import load_config
from modsnn.golden_model.data import load_dataset
from modsnn.golden_model.network import Network
from modsnn.golden_model.rng import Stream, permutation
import modsnn.golden_model.network as module
cfg = load_config("digits")
data = load_dataset(cfg.dataset, "train")
order = permutation(len(data), cfg.seed, int(Stream.ORDER), 0)[: int(sys.argv[1])]
net = Network(cfg)
t0 = time.perf_counter()
for i in order:
    net.train_step(data.x[i], int(data.y[i]))
seconds = time.perf_counter() - t0
h = hashlib.sha256()
for name, value in sorted(net.state_dict().items()):
    h.update(name.encode())
    h.update(np.ascontiguousarray(np.asarray(value, np.int64)).tobytes())
print(json.dumps({"samples": len(order), "seconds": seconds, "digest": h.hexdigest(), "module": module.__file__}))
"""


def _shim(checkout: Path, into: Path) -> Path:
    """A folder in which ``import modsnn`` finds ``checkout``'s sources (not installed)."""
    from .._layout import link_tree

    try:
        return link_tree(checkout, into)
    except (FileNotFoundError, KeyError) as error:
        raise BenchError(f"--baseline {checkout}: not a modsnn checkout ({error}); make one with "
                         f"e.g. git worktree add /tmp/base e4f3367") from None


def compare_training(baseline: Path, quick: bool = False, rounds: int = 3,
                     samples: int | None = None) -> dict[str, Any]:
    """Per-sample training on ``digits`` (the first samples of epoch 1, in training order) for the
    checkout ``baseline`` and for this package, in alternating subprocesses (same interpreter,
    same environment); best samples/s of each and whether the weights after training are equal."""
    here = Path(__file__).resolve().parent
    samples = samples or (400 if quick else 1437)
    with tempfile.TemporaryDirectory() as tmp:
        sides: dict[str, Path | None] = {"baseline": _shim(Path(baseline).resolve(), Path(tmp) / "baseline"),
                                         "this": None}          # the installed modsnn, as imported here
        runs: dict[str, list[dict[str, Any]]] = {"baseline": [], "this": []}
        for _ in range(rounds):
            for side, path in sides.items():
                env = dict(os.environ)
                if path is not None:
                    env["PYTHONPATH"] = str(path)
                done = subprocess.run([sys.executable, "-c", _TRAIN_SCRIPT, str(samples)], env=env, cwd=tmp,
                                      capture_output=True, text=True, check=False)
                if done.returncode != 0:
                    raise BenchError(f"--baseline: training the {side} checkout failed:\n{done.stderr.strip()}")
                runs[side].append(json.loads(done.stdout.strip().splitlines()[-1]))
    rate = {side: max(r["samples"] / r["seconds"] for r in rs) for side, rs in runs.items()}
    median = {side: statistics.median(r["samples"] / r["seconds"] for r in rs) for side, rs in runs.items()}
    same = len({r["digest"] for rs in runs.values() for r in rs}) == 1
    print(f"Per-sample training, digits preset, {samples} samples of epoch 1, {rounds} alternating rounds:")
    print(f"  baseline {baseline}: best {rate['baseline']:,.0f} samples/s (median {median['baseline']:,.0f})")
    print(f"  this modsnn ({here}): best {rate['this']:,.0f} samples/s (median {median['this']:,.0f})")
    print(f"  speed-up {rate['this'] / rate['baseline']:.2f}× (medians {median['this'] / median['baseline']:.2f}×); "
          f"weights after training identical: {'YES' if same else 'NO'} "
          f"(sha256 {runs['this'][0]['digest'][:16]})\n")
    return {"samples": samples, "baseline": str(baseline), "best": rate, "median": median,
            "speedup": rate["this"] / rate["baseline"], "same_weights": same,
            "digests": {side: rs[0]["digest"] for side, rs in runs.items()}}


#: (board, configuration, overrides) rows of the accelerator table: each board's preset, and the larger
#: ECP5 configurations. Their Fmax comes from build reports (:func:`build_reports`).
BOARD_ROWS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("icebreaker", "icebreaker", ()), ("ulx3s-85f", "ecp5-85f", ()), ("ecpix5-85f", "ecp5-85f", ()),
    ("ulx3s-85f", "ecp5-85f", ("lanes=8",)), ("ulx3s-85f", "ecp5-85f", ("lanes=16",)),
    ("ulx3s-85f", "ecp5-85f", ("lanes=32",)),
    ("ulx3s-85f", "mnist-ecp5", ()),
)
BUILDS_FILE = Path(__file__).resolve().parent.parent / "docs" / "builds.json"


def build_reports() -> dict[tuple[str, str], dict[str, Any]]:
    """``(board, config hash) → report`` of every build: the committed measurements in
    ``docs/builds.json`` (``modsnn build`` reports collected from real builds), overridden by this
    machine's ``build/boards/*/report.json``."""
    from ..boards.build import build_root

    reports: list[dict[str, Any]] = json.loads(BUILDS_FILE.read_text()) if BUILDS_FILE.exists() else []
    reports += [json.loads(f.read_text()) for f in sorted((build_root() / "boards").glob("*/report.json"))]
    return {(r["board"], r["config_hash"]): r for r in reports}


def _projections(quick: bool, golden: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The accelerator's samples/s per board and configuration at the Fmax its build achieved (cycle
    model: RTL-exact; mean of the preset's first training samples), beside the golden model's on this
    machine."""
    from ..boards.registry import board_named

    reports = build_reports()
    measured = {r["config"]: r for r in golden}
    print("\nAccelerator at its achieved Fmax (nextpnr; cycle model, mean of "
          f"{20 if quick else 50} training samples) against the golden model on this machine (1 process):")
    print(f"  {'board':<11} {'config':<11} {'B':>3} {'Fmax MHz':>9} {'cycles/train':>12} {'/infer':>7} "
          f"{'ops/clk':>7} {'peak':>5} {'integ.':>6} {'train/s':>8} {'infer/s':>8} {'golden train/s':>14} "
          f"{'infer/s':>8} {'× train':>7} {'× infer':>7}")
    rows = []
    for board_name, preset, overrides in BOARD_ROWS:
        try:
            cfg = load_config(preset, list(overrides))
        except ValueError:                      # a preset this checkout does not have
            continue
        board = board_named(board_name)
        data = load_dataset(cfg.dataset, "train")
        p = project(cfg, data.x, data.y, samples=20 if quick else 50)
        report = reports.get((board_name, cfg.hash()))
        fmax = report["fmax_mhz"] if report else None
        name = cfg.name if not overrides else f"{cfg.name}:{','.join(o.split('=')[1] for o in overrides)}"
        if cfg.name not in measured:
            measured[cfg.name] = measure(cfg, quick=True)
        g = measured[cfg.name]
        row = {"board": board_name, "config": name, "config_hash": cfg.hash(), "banks": p.banks,
               "fmax_mhz": fmax, "timing_met_at_mhz": report["clock_mhz"] if report and report["timing_met"] else None,
               "cycles_train": p.cycles_per_sample.total, "cycles_infer": p.inference_cycles,
               "ops_per_cycle": p.ops_per_cycle, "integration_ops_per_cycle": p.integration_ops_per_cycle,
               "golden_train": g["int_train"], "golden_infer": g["int_infer_batch1"]}
        if fmax:
            row["train_per_s"] = p.samples_per_second(fmax * 1e6)
            row["infer_per_s"] = fmax * 1e6 / max(1.0, p.inference_cycles)
        rows.append(row)
        rates = (f"{row['train_per_s']:>8,.0f} {row['infer_per_s']:>8,.0f}" if fmax
                 else f"{'no build: make build BOARD=' + board.name:>17}")
        ratios = (f"{row['train_per_s'] / g['int_train']:>6.1f}× {row['infer_per_s'] / g['int_infer_batch1']:>6.1f}×"
                  if fmax else "")
        print(f"  {board_name:<11} {name:<11} {p.banks:>3} {fmax or 0:>9.2f} {p.cycles_per_sample.total:>12,} "
              f"{p.inference_cycles:>7,.0f} {p.ops_per_cycle:>7.2f} {p.ops_per_cycle / p.banks:>5.0%} "
              f"{p.integration_ops_per_cycle / p.banks:>6.0%} {rates} "
              f"{g['int_train']:>14,.0f} {g['int_infer_batch1']:>8,.0f} {ratios}")
    print("  (peak: synaptic operations per clock over a training sample, of the banks' peak; integ.: the same")
    print("   during the integration phase; Fmax: the build's achieved clock, from build/boards/*/report.json or")
    print("   docs/builds.json; train/s =")
    print("   Fmax / cycles per training sample, accelerator alone, without the host link (make link-rate);")
    print("   golden: integer model, per-sample training and batch-1 inference, best of BLAS threads.)")
    return rows
