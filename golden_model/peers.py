"""The benchmark network of ARCHITECTURE §10 in snnTorch and Brian2, timed beside the golden model.

Network: 64 rate-coded inputs → 128 recurrent LIF neurons → 100 readout LIF neurons, T = 16
steps, the golden model's own initial weights (forward units) and thresholds, leak ``v ← 7/8·v``,
reset by subtraction. The peers run the same inputs (the golden model's encoder output) in float
arithmetic; they are timed for inference, which is what the ratios compare. Every peer is given
its best settings that work on this machine, and every setting tried is reported:

* **snnTorch** (``torch`` CPU, float32, ``torch.inference_mode``): ``snn.RLeaky`` (all-to-all
  recurrence) and ``snn.Leaky``, at batch 1 and 256, with 1 and all torch threads.
* **Brian2** (runtime mode): ``B`` copies of the network in one simulation (block-diagonal
  synapses), exact-integrated leak ``dv/dt = −v/τ`` with ``exp(−dt/τ) = 7/8``, membranes reset
  every 16 steps; either one ``run(16·dt)`` per batch of ``B`` samples, or (``_one_run``, Brian2's
  own advice: few long runs) all samples back to back in one run; code generation targets
  ``numpy`` and ``cython`` (when a C compiler is there), ``B`` from 1 to 64.

Needs the ``peers`` extra (``pip install 'modsnn[peers]'``); :func:`missing` names what is absent.
"""

from __future__ import annotations

import importlib
import importlib.util
import math
import os
import time
from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["INSTALL_HINT", "measure_peers", "missing"]

INSTALL_HINT = "pip install 'modsnn[peers]' (snnTorch, torch CPU and Brian2), e.g. .venv/bin/pip install -e '.[peers]'"


def missing() -> list[str]:
    """The peer packages that are not installed or do not import (with the reason)."""
    absent = []
    for name in ("torch", "snntorch", "brian2"):
        if importlib.util.find_spec(name) is None:
            absent.append(name)
            continue
        try:
            importlib.import_module(name)
        except Exception as error:                     # e.g. Brian2 2.9 against NumPy ≥ 2.4
            absent.append(f"{name} (installed, but importing it fails: {type(error).__name__}: {error})")
    return absent


def _best_rate(fn: Callable[[], int], repeats: int, min_seconds: float = 0.3) -> float:
    """Best samples/s of ``repeats`` timed calls (each repeated until ``min_seconds`` have passed)."""
    best = 0.0
    for _ in range(repeats):
        n, t0 = 0, time.perf_counter()
        while True:
            n += fn()
            elapsed = time.perf_counter() - t0
            if elapsed >= min_seconds:
                break
        best = max(best, n / elapsed)
    return best


def _weights(net: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    w_ff = net.forward_weights(net.ff[0]).astype(np.float32)
    w_rec = net.forward_weights(net.rec[0]).astype(np.float32)
    np.fill_diagonal(w_rec, 0)
    w_out = np.where(net.masks[0], net.forward_weights(net.out[0]), 0).astype(np.float32)
    return w_ff, w_rec, w_out


def snntorch_rates(net: Any, spikes: np.ndarray, repeats: int) -> dict[str, float]:
    """snnTorch float32 inference samples/s at batch 1 and 256, threads 1 and all."""
    import snntorch as snn
    import torch

    cfg = net.cfg
    w_ff, w_rec, w_out = _weights(net)
    beta = 1 - 2.0 ** -cfg.leak_shift

    class Model(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc_in = torch.nn.Linear(w_ff.shape[1], w_ff.shape[0], bias=False)
            self.hidden = snn.RLeaky(beta=beta, linear_features=w_ff.shape[0], threshold=float(cfg.threshold[0]),
                                     reset_mechanism="subtract", all_to_all=True)
            self.fc_out = torch.nn.Linear(w_out.shape[1], w_out.shape[0], bias=False)
            self.readout = snn.Leaky(beta=beta, threshold=float(cfg.readout_threshold), reset_mechanism="subtract")
            with torch.no_grad():
                self.fc_in.weight.copy_(torch.from_numpy(w_ff))
                self.hidden.recurrent.weight.copy_(torch.from_numpy(w_rec))
                self.hidden.recurrent.bias.zero_()
                self.fc_out.weight.copy_(torch.from_numpy(w_out))

        def forward(self, x: Any) -> Any:
            spk, mem = self.hidden.init_rleaky()
            mem_out = self.readout.init_leaky()
            counts = torch.zeros(x.shape[1], w_out.shape[0])
            for t in range(x.shape[0]):
                spk, mem = self.hidden(self.fc_in(x[t]), spk, mem)
                spk_out, mem_out = self.readout(self.fc_out(spk), mem_out)
                counts += spk_out
            return counts.reshape(x.shape[1], cfg.pop, cfg.n_classes).sum(1).argmax(1)

    model = Model().eval()
    x_all = torch.from_numpy(spikes.astype(np.float32))          # (T, N, 64)
    threads_default = torch.get_num_threads()
    out: dict[str, float] = {}
    for threads in sorted({1, threads_default}):
        torch.set_num_threads(threads)
        for batch in (1, 256):
            name = f"snntorch_b{batch}_threads{threads}"
            n = min(x_all.shape[1], 4 * batch if batch > 1 else 64)
            batch = min(batch, n)

            def run(batch: int = batch, n: int = n) -> int:
                with torch.inference_mode():
                    for i in range(0, n, batch):
                        model(x_all[:, i:i + batch])
                return n

            run()                                                  # warm-up
            out[name] = _best_rate(run, repeats)
    torch.set_num_threads(threads_default)
    return out


def brian2_rates(net: Any, spikes: np.ndarray, repeats: int, quick: bool,
                 targets: tuple[str, ...] = ("numpy", "cython"), copies_list: tuple[int, ...] = ()
                 ) -> dict[str, float]:
    """Brian2 inference samples/s per code generation target and copies per run (``cython`` only
    where a C compiler is found)."""
    import brian2 as b2

    b2.BrianLogger.suppress_name("base")
    b2.BrianLogger.log_level_error()
    cfg = net.cfg
    w_ff, w_rec, w_out = _weights(net)
    n_in, n_h, n_o = w_ff.shape[1], w_ff.shape[0], w_out.shape[0]
    T = spikes.shape[0]
    targets = tuple(t for t in targets if t != "cython" or _have_compiler())
    copies_list = copies_list or ((1, 16) if quick else (1, 16, 64))
    out: dict[str, float] = {}
    for target in targets:
        b2.prefs.codegen.target = target
        for copies in copies_list:
            b2.start_scope()
            dt = b2.defaultclock.dt
            tau = -dt / math.log(1 - 2.0 ** -cfg.leak_shift)
            eqs = "dv/dt = -v / tau : 1"
            hidden = b2.NeuronGroup(copies * n_h, eqs, threshold=f"v >= {cfg.threshold[0]}",
                                    reset=f"v -= {cfg.threshold[0]}", method="exact", namespace={"tau": tau})
            readout = b2.NeuronGroup(copies * n_o, eqs, threshold=f"v >= {cfg.readout_threshold}",
                                     reset=f"v -= {cfg.readout_threshold}", method="exact", namespace={"tau": tau})
            source = b2.SpikeGeneratorGroup(copies * n_in, np.zeros(0, int), np.zeros(0) * b2.ms)
            synapses = []
            for pre, post, w in ((source, hidden, w_ff), (hidden, hidden, w_rec), (hidden, readout, w_out)):
                rows, cols = np.nonzero(w)                     # post, pre
                syn = b2.Synapses(pre, post, "w : 1", on_pre="v_post += w")
                offsets_pre = np.repeat(np.arange(copies) * w.shape[1], rows.size)
                offsets_post = np.repeat(np.arange(copies) * w.shape[0], rows.size)
                syn.connect(i=np.tile(cols, copies) + offsets_pre, j=np.tile(rows, copies) + offsets_post)
                syn.w = np.tile(w[rows, cols], copies)
                synapses.append(syn)
            hidden.run_regularly("v = 0", dt=T * dt, when="start")     # a new sample every T steps
            readout.run_regularly("v = 0", dt=T * dt, when="start")
            counter = b2.SpikeMonitor(readout)
            network = b2.Network(hidden, readout, source, *synapses, counter)
            n = min(max(copies, 32 if quick else 64), spikes.shape[1])
            n = (n // copies) * copies

            def run(copies: int = copies, n: int = n, network: Any = network, source: Any = source,
                    hidden: Any = hidden, readout: Any = readout, dt: Any = dt) -> int:
                for start in range(0, n, copies):
                    block = spikes[:, start:start + copies]            # (T, copies, n_in)
                    t_idx, c_idx, j_idx = np.nonzero(block)
                    source.set_spikes(c_idx * n_in + j_idx, network.t + t_idx * dt)
                    hidden.v = 0
                    readout.v = 0
                    network.run(T * dt)
                return n

            def run_long(copies: int = copies, network: Any = network, source: Any = source, dt: Any = dt) -> int:
                n = (min(spikes.shape[1], 256) // copies) * copies
                t_idx, b_idx, j_idx = np.nonzero(spikes[:, :n])      # sample b in copy b % copies
                source.set_spikes((b_idx % copies) * n_in + j_idx, network.t + ((b_idx // copies) * T + t_idx) * dt)
                network.run(n // copies * T * dt)
                return n

            run()                                                     # code generation, warm-up
            out[f"brian2_{target}_copies{copies}"] = _best_rate(run, max(1, repeats - 1))
            out[f"brian2_{target}_copies{copies}_one_run"] = _best_rate(run_long, max(1, repeats - 1))
    return out


def _have_compiler() -> bool:
    from shutil import which

    return bool(which(os.environ.get("CC", "cc")) or which("gcc"))


def measure_peers(quick: bool = False, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Golden model, snnTorch and Brian2 on the §10 network, timed in this process."""
    from .bench import arch_config, golden_rates, inputs
    from .network import Network

    cfg = arch_config()
    net = Network(cfg)
    x = inputs(cfg, 1024)
    spikes, _, _ = net.encode(x)                                   # (T, N, 64) bool: the same input
    repeats = 3 if quick else 5
    log("timing the golden model ...")
    result: dict[str, Any] = {"golden": golden_rates(cfg, x, repeats)}
    log("timing snnTorch ...")
    result["snntorch"] = snntorch_rates(net, spikes, repeats)
    log("timing Brian2 (numpy and cython targets; the first cython run compiles) ...")
    result["brian2"] = brian2_rates(net, spikes, repeats, quick)
    return result
