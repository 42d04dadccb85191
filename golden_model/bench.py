"""Golden-model speed figures (``modsnn bench`` / ``make bench``).

Measures, on the machine it runs on: batched bit-exact inference (batch 256 and 1), per-sample
bit-exact training, and the float64 twin, for the digits-sized network of ARCHITECTURE §10
(64 → 128 recurrent → 100 readout, T = 16) and for the presets. Reference figures measured
for snnTorch and Brian2 on the project's 2-core machine are printed beside them as ratios.
Timings are medians of repeats; nothing here is asserted by tests.
"""

from __future__ import annotations

import dataclasses
import json
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from .config import Config, load_config
from .cycles import project
from .data import load_dataset
from .network import Network

__all__ = ["REFERENCE", "run_bench"]

#: Samples/s measured on the project's 2-core machine (ARCHITECTURE §10), digits-sized network.
REFERENCE = {
    "snntorch_float32_batch256": 27_000.0,
    "snntorch_float32_batch1": 280.0,
    "brian2_best": 1_000.0,
    "numpy_float64_batch256": 34_000.0,
}


def _rate(fn: Callable[[], int], repeats: int) -> float:
    rates = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        n = fn()
        rates.append(n / (time.perf_counter() - t0))
    return statistics.median(rates)


def _inputs(cfg: Config, n: int) -> np.ndarray:
    rng = np.random.default_rng(0)  # stimulus only
    x = rng.integers(0, 256, size=(n, cfg.n_inputs), dtype=np.uint8)
    x[rng.random(x.shape) < 0.5] = 0
    return x


def measure(cfg: Config, quick: bool = False) -> dict[str, Any]:
    repeats = 3 if quick else 5
    n_batch = 1024 if quick else 4096
    n_single = 100 if quick else 400
    n_train = 200 if quick else 1000
    x = _inputs(cfg, n_batch)
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

        out[f"{model}_infer_batch256"] = _rate(batched, repeats)
        out[f"{model}_infer_batch1"] = _rate(single, repeats)
        out[f"{model}_train"] = _rate(train_some, repeats)
    return out


def run_bench(quick: bool = False) -> list[dict[str, Any]]:
    arch = Config(name="arch-s10", hidden=(128,), n_inputs=64, threshold=(32,), readout_threshold=32)
    configs = [arch, load_config("tiny"), load_config("digits"), load_config("mnist")]
    results = []
    print(f"{'network':<10} {'model':<6} {'infer b=256':>12} {'infer b=1':>10} {'train':>9}   samples/s")
    for cfg in configs:
        r = measure(cfg, quick)
        results.append(r)
        for model in ("int", "float"):
            print(f"{cfg.name:<10} {model:<6} {r[f'{model}_infer_batch256']:>12,.0f} "
                  f"{r[f'{model}_infer_batch1']:>10,.0f} {r[f'{model}_train']:>9,.0f}")
    a = results[0]
    print("\nDigits-sized network (64 → 128 recurrent → 100, T = 16) against ARCHITECTURE §10 references:")
    print(f"  bit-exact batched inference / snnTorch float32 batch 256: "
          f"{a['int_infer_batch256'] / REFERENCE['snntorch_float32_batch256']:.2f}×")
    print(f"  bit-exact batch-1 inference / snnTorch float32 batch 1:   "
          f"{a['int_infer_batch1'] / REFERENCE['snntorch_float32_batch1']:.2f}×")
    print(f"  bit-exact batched inference / NumPy float64 batch 256:    "
          f"{a['int_infer_batch256'] / REFERENCE['numpy_float64_batch256']:.2f}×")
    print(f"  bit-exact training (per sample) / Brian2 best:             "
          f"{a['int_train'] / REFERENCE['brian2_best']:.2f}×")
    print(f"  integer / float64 twin, batched inference:                 "
          f"{a['int_infer_batch256'] / a['float_infer_batch256']:.2f}×")
    print("\nAccelerator projection from the RTL-exact cycle model (training, mean of 50 samples of the "
          "preset's data):")
    print(f"  {'preset':<8} {'lanes':>5} {'integration':>11} {'sweep':>7} {'plasticity':>10} {'cycles':>8} "
          f"{'syn-ops/clk':>11} {'of peak':>7} {'samples/s @ 20 MHz':>18} {'@ 75 MHz':>9}")
    projections = []
    for preset, lanes_list in (("tiny", (1, 2, 4)), ("digits", (1, 4, 16)), ("mnist", (1, 4, 16))):
        base = load_config(preset)
        data = load_dataset(base.dataset, "train")
        for lanes in lanes_list:
            p = project(base.replace(lanes=lanes), data.x, data.y, samples=20 if quick else 50)
            c = p.cycles_per_sample
            projections.append({"preset": preset, "lanes": lanes, "cycles": dataclasses.asdict(c),
                                "ops_per_cycle": p.ops_per_cycle})
            print(f"  {preset:<8} {lanes:>5} {c.integration:>11,} {c.sweep:>7,} {c.plasticity:>10,} {c.total:>8,} "
                  f"{p.ops_per_cycle:>11.2f} {p.ops_per_cycle / lanes:>7.0%} {p.samples_per_second(20e6):>18,.0f} "
                  f"{p.samples_per_second(75e6):>9,.0f}")
    print("  (20 MHz: measured Fmax of the tiny accelerator on ECP5-85F, nextpnr; 75 MHz: the low end of")
    print("   ARCHITECTURE §9. 'of peak' = synaptic operations per clock / lanes.)")
    print(json.dumps({"golden_model": results, "accelerator": projections}))
    return results
