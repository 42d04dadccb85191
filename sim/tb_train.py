"""cocotb test behind ``make sim``: on-chip training in lockstep with the golden model.

Loads the golden network's initial weights into the accelerator, trains ``MODSNN_SIM_TRAIN``
samples on chip (in the training order of ``modsnn train``: past one epoch, the next epochs'
orders and learning-rate offsets ``e // lr_decay_epochs``), then
runs ``MODSNN_SIM_TEST`` held-out test samples in inference. The golden model runs the same
samples; every prediction and every sample's cycle count must match, and after training every
weight must be identical. A JSON report goes to ``MODSNN_SIM_REPORT``.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import cocotb
import numpy as np

from modsnn.golden_model.cycles import PhaseCycles, sample_cycles
from modsnn.golden_model.data import load_dataset
from modsnn.golden_model.network import Network
from modsnn.golden_model.rng import Stream, permutation
from modsnn.hw.control_port import Command
from modsnn.sim.accelerator import SimAccelerator
from modsnn.sim.streams import start
from modsnn.sim.tbparams import golden_config, tb_params

INPUTS = ("bus__addr", "bus__wdata", "bus__we", "bus__re")


@cocotb.test()
async def train_on_chip(dut: Any) -> None:
    cfg, _ = tb_params(0)
    n_train = int(os.environ.get("MODSNN_SIM_TRAIN", "200"))
    n_test = int(os.environ.get("MODSNN_SIM_TEST", "100"))
    log = dut._log
    wall = time.perf_counter()
    await start(dut, INPUTS)
    acc = SimAccelerator(dut, cfg)
    net = Network(golden_config(cfg))
    await acc.load_weights(net)
    train, test = load_dataset(cfg.dataset, "train"), load_dataset(cfg.dataset, "test")
    mismatches: list[str] = []
    cycles_train, cycles_test = PhaseCycles(0, 0, 0), PhaseCycles(0, 0, 0)
    correct = count = epoch = 0
    while count < n_train:               # epoch e: the order and learning-rate offset of `modsnn train`
        order = permutation(len(train), cfg.seed, int(Stream.ORDER), epoch)[:n_train - count]
        lr_extra = epoch // cfg.lr_decay_epochs if cfg.lr_decay_epochs else 0
        for index in order:
            count += 1
            u, label = train.x[index], int(train.y[index])
            await acc.load_sample(u)
            prediction = await acc.run(Command.TRAIN, label=label, lr_extra=lr_extra)
            fwd, report = net.train_step(u, label, lr_extra)
            got, want = await acc.cycles(), sample_cycles(cfg, fwd, report=report)
            cycles_train = cycles_train + got
            correct += prediction == label
            if prediction != int(fwd.prediction[0]):
                mismatches.append(f"training sample {count}: prediction {prediction}, "
                                  f"golden {int(fwd.prediction[0])}")
            if got != want:
                mismatches.append(f"training sample {count}: cycles {got}, cycle model {want}")
            if count % 25 == 0 or count == n_train:
                log.info(f"trained {count}/{n_train} on chip (epoch {epoch + 1}): online accuracy "
                         f"{correct / count:.1%}, {cycles_train.total // count} cycles/sample, "
                         f"{time.perf_counter() - wall:.0f} s")
        epoch += 1
    ff, rec, out = await acc.read_weights()
    weights_match = all(np.array_equal(a, b) for mine, gold in ((ff, net.ff), (rec, net.rec), (out, net.out))
                        for a, b in zip(mine, gold, strict=True))
    if not weights_match:
        mismatches.append("weights after training differ from the golden model's")
    golden_predictions = net.predict(test.x[:n_test])
    rtl_correct = golden_correct = 0
    for i in range(n_test):
        await acc.load_sample(test.x[i])
        prediction = await acc.run(Command.INFER)
        fwd = net.forward(test.x[i:i + 1], learning=False)
        got, want = await acc.cycles(), sample_cycles(cfg, fwd)
        cycles_test = cycles_test + got
        rtl_correct += prediction == int(test.y[i])
        golden_correct += int(golden_predictions[i]) == int(test.y[i])
        if prediction != int(golden_predictions[i]):
            mismatches.append(f"test sample {i}: prediction {prediction}, golden {int(golden_predictions[i])}")
        if got != want:
            mismatches.append(f"test sample {i}: cycles {got}, cycle model {want}")
    seconds = time.perf_counter() - wall
    total_cycles = cycles_train.total + cycles_test.total
    result = {
        "config": cfg.name, "config_hash": cfg.hash(), "lanes": cfg.lanes, "cores": cfg.cores,
        "hidden": list(cfg.hidden),
        "train_samples": n_train, "epochs_started": epoch, "test_samples": n_test,
        "online_train_accuracy": correct / max(1, n_train),
        "test_accuracy": rtl_correct / max(1, n_test), "golden_test_accuracy": golden_correct / max(1, n_test),
        "weights_match": weights_match, "bit_exact": not mismatches, "mismatches": mismatches[:20],
        "cycles_per_train_sample": {k: getattr(cycles_train, k) / max(1, n_train)
                                    for k in ("integration", "sweep", "plasticity", "total")},
        "cycles_per_test_sample": cycles_test.total / max(1, n_test),
        "simulated_cycles": total_cycles, "wall_seconds": seconds,
        "simulated_cycles_per_second": total_cycles / seconds,
    }
    path = os.environ.get("MODSNN_SIM_REPORT")
    if path:
        Path(path).write_text(json.dumps(result, indent=2) + "\n")
    log.info(f"held-out accuracy on chip {result['test_accuracy']:.1%} (golden {result['golden_test_accuracy']:.1%}); "
             f"bit-exact: {not mismatches}")
    assert not mismatches, "; ".join(mismatches[:5])
