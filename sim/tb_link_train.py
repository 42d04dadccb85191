"""cocotb test behind ``modsnn sim --link``: the host driver trains the RTL through the UART.

The top is :class:`~modsnn.sim.link_harness.LinkHarness` (the host link and the accelerator). The
synchronous :class:`~modsnn.boards.driver.BoardDriver` runs in a thread (``cocotb.task.bridge``);
its transport drives the link's ``rx`` pin bit by bit and samples ``tx`` mid-bit
(:class:`~modsnn.sim.link.UartPins`), so these are the bytes a board would see. The driver
identifies the link, loads the golden network's initial weights, trains ``MODSNN_SIM_TRAIN``
samples back to back (the training order of ``modsnn train``), reads every weight back, then runs
``MODSNN_SIM_TEST`` held-out samples in inference. The golden model runs in lockstep: every
prediction and every sample's cycle counters (from the SAMPLE replies) must equal the golden model's
and :func:`~modsnn.golden_model.cycles.sample_cycles`, and the final weights must be identical. A
JSON report goes to ``MODSNN_SIM_REPORT``.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import cocotb
import numpy as np
from cocotb.utils import get_sim_time

from modsnn.boards.driver import BoardDriver
from modsnn.golden_model.config import Config
from modsnn.golden_model.cycles import PhaseCycles, sample_cycles
from modsnn.golden_model.data import load_dataset
from modsnn.golden_model.network import Network
from modsnn.golden_model.rng import Stream, permutation
from modsnn.sim.link import SimTransport, UartPins, bridge
from modsnn.sim.streams import start
from modsnn.sim.tbparams import golden_config, tb_params

INPUTS = ("pin_mode", "host_tx__valid", "host_tx__payload")
CLOCK_PS = 10_000


def host_session(cfg: Config, golden: Config, transport: SimTransport, n_train: int, n_test: int, log: Any,
                 timeout_s: float) -> dict[str, Any]:
    """Everything the host does, synchronously (runs in the bridge thread)."""
    driver = BoardDriver(transport, cfg, timeout=timeout_s)
    identity = driver.connect()
    log.info(f"identified: configuration {identity.config_hash}, {identity.clock_hz} Hz / {identity.divisor} = "
             f"{identity.baud:,.0f} baud, {identity.slots} buffers of {identity.slot_bytes} bytes")
    net = Network(golden)
    started = time.perf_counter()
    sim_start = transport.sim_ns()
    driver.load_weights(net)
    driver.set_sample_counter(0)
    driver.set_lr_extra(0)
    load_ns = transport.sim_ns() - sim_start
    train, test = load_dataset(cfg.dataset, "train"), load_dataset(cfg.dataset, "test")
    order = permutation(len(train), cfg.seed, int(Stream.ORDER), 0)[:n_train]
    mismatches: list[str] = []
    cycles_train, cycles_test = PhaseCycles(0, 0, 0), PhaseCycles(0, 0, 0)
    correct = 0
    train_start = transport.sim_ns()
    replies = driver.run_batch(((train.x[i], int(train.y[i]), True) for i in order), cycles=True)
    for count, (index, reply) in enumerate(zip(order, replies, strict=True), start=1):
        label = int(train.y[index])
        fwd, report = net.train_step(train.x[index], label)
        want = sample_cycles(cfg, fwd, report=report)
        assert reply.cycles is not None
        cycles_train = cycles_train + reply.cycles
        correct += reply.prediction == label
        if reply.prediction != int(fwd.prediction[0]):
            mismatches.append(f"training sample {count}: prediction {reply.prediction}, "
                              f"golden {int(fwd.prediction[0])}")
        if reply.cycles != want:
            mismatches.append(f"training sample {count}: cycles {reply.cycles}, cycle model {want}")
        if reply.refused:
            mismatches.append(f"training sample {count}: refused")
        if count % 10 == 0 or count == n_train:
            log.info(f"trained {count}/{n_train} through the link: online accuracy {correct / count:.1%}, "
                     f"{time.perf_counter() - started:.0f} s")
    train_ns = transport.sim_ns() - train_start
    counter = driver.sample_counter()
    if counter != net.updates:
        mismatches.append(f"sample counter {counter}, golden {net.updates}")
    read_start = transport.sim_ns()
    ff, rec, out = driver.read_weights()
    read_ns = transport.sim_ns() - read_start
    weights_match = all(np.array_equal(a, b) for mine, gold in ((ff, net.ff), (rec, net.rec), (out, net.out))
                        for a, b in zip(mine, gold, strict=True))
    if not weights_match:
        mismatches.append("weights after training differ from the golden model's")
    golden_predictions = net.predict(test.x[:n_test])
    rtl_correct = golden_correct = 0
    test_start = transport.sim_ns()
    replies = driver.run_batch(((test.x[i], 0, False) for i in range(n_test)), cycles=True)
    for i, reply in enumerate(replies):
        fwd = net.forward(test.x[i:i + 1], learning=False)
        assert reply.cycles is not None
        cycles_test = cycles_test + reply.cycles
        want = sample_cycles(cfg, fwd)
        rtl_correct += reply.prediction == int(test.y[i])
        golden_correct += int(golden_predictions[i]) == int(test.y[i])
        if reply.prediction != int(golden_predictions[i]):
            mismatches.append(f"test sample {i}: prediction {reply.prediction}, golden {int(golden_predictions[i])}")
        if reply.cycles != want:
            mismatches.append(f"test sample {i}: cycles {reply.cycles}, cycle model {want}")
    test_ns = transport.sim_ns() - test_start
    return {
        "config": cfg.name, "config_hash": cfg.hash(), "lanes": cfg.lanes, "cores": cfg.cores,
        "hidden": list(cfg.hidden),
        "clock_hz": identity.clock_hz, "divisor": identity.divisor, "baud": identity.baud, "slots": identity.slots,
        "train_samples": n_train, "test_samples": n_test,
        "online_train_accuracy": correct / max(1, n_train),
        "test_accuracy": rtl_correct / max(1, n_test), "golden_test_accuracy": golden_correct / max(1, n_test),
        "weights_match": weights_match, "bit_exact": not mismatches, "mismatches": mismatches[:20],
        "cycles_per_train_sample": {k: getattr(cycles_train, k) / max(1, n_train)
                                    for k in ("integration", "sweep", "plasticity", "total")},
        "cycles_per_test_sample": cycles_test.total / max(1, n_test),
        "simulated_ns": {"load_weights": load_ns, "train": train_ns, "read_weights": read_ns, "test": test_ns},
        "train_samples_per_simulated_second": n_train / (train_ns * 1e-9) if n_train else 0.0,
        "test_samples_per_simulated_second": n_test / (test_ns * 1e-9) if n_test else 0.0,
        "bytes_to_board": transport.sent,
    }


@cocotb.test()
async def train_through_link(dut) -> None:
    cfg, _ = tb_params(0)
    n_train = int(os.environ.get("MODSNN_SIM_TRAIN", "50"))
    n_test = int(os.environ.get("MODSNN_SIM_TEST", "20"))
    divisor = int(os.environ["MODSNN_TB_DIVISOR"])
    wall = time.perf_counter()
    await start(dut, INPUTS)
    dut.pin_mode.value = 1
    pins = UartPins(dut, divisor * CLOCK_PS)
    transport = SimTransport(pins)
    result = await bridge(host_session)(cfg, golden_config(cfg), transport, n_train, n_test, dut._log, 2e-3)
    result["wall_seconds"] = time.perf_counter() - wall
    result["bytes_from_board"] = pins.received_total
    result["simulated_cycles"] = int(get_sim_time("ns")) // 10
    path = os.environ.get("MODSNN_SIM_REPORT")
    if path:
        Path(path).write_text(json.dumps(result, indent=2) + "\n")
    dut._log.info(f"held-out accuracy {result['test_accuracy']:.1%} (golden {result['golden_test_accuracy']:.1%}); "
                  f"bit-exact: {result['bit_exact']}")
    assert pins.framing_errors == 0, f"{pins.framing_errors} bytes from the link had a bad stop bit"
    assert result["bit_exact"], "; ".join(result["mismatches"][:5])
