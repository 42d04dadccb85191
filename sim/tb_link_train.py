"""cocotb test behind ``modsnn sim --link``: the host driver trains the RTL through the UART.

The top is :class:`~modsnn.sim.link_harness.LinkHarness` (the host link and the accelerator). The
synchronous :class:`~modsnn.boards.driver.BoardDriver` runs in a thread (``cocotb.task.bridge``);
its transport drives the link's ``rx`` pin bit by bit and samples ``tx`` mid-bit
(:class:`~modsnn.sim.link.UartPins`), so these are the bytes a board would see. The driver
identifies the link and runs :func:`~modsnn.boards.session.train_session`, the session of
``modsnn board train``: it loads the golden network's initial weights, trains ``MODSNN_SIM_TRAIN``
samples back to back (the training order of ``modsnn train``), reads every weight back, then runs
``MODSNN_SIM_TEST`` held-out samples in inference. The golden model runs in lockstep: every
prediction and every sample's cycle counters (from the SAMPLE replies) must equal the golden model's
and :func:`~modsnn.golden_model.cycles.sample_cycles`, and the final weights must be identical. A
JSON report (times in simulated seconds) goes to ``MODSNN_SIM_REPORT``.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import cocotb
from cocotb.utils import get_sim_time

from modsnn.boards.driver import BoardDriver
from modsnn.boards.session import train_session
from modsnn.golden_model.config import Config
from modsnn.golden_model.data import load_dataset
from modsnn.sim.link import SimTransport, UartPins, bridge
from modsnn.sim.streams import start
from modsnn.sim.tbparams import golden_config, tb_params

INPUTS = ("pin_mode", "host_tx__valid", "host_tx__payload")
CLOCK_PS = 10_000


def host_session(cfg: Config, golden: Config, transport: SimTransport, n_train: int, n_test: int, log: Any,
                 timeout_s: float) -> dict[str, Any]:
    """Everything the host does, synchronously (runs in the bridge thread): ``modsnn board train``'s
    session (:func:`~modsnn.boards.session.train_session`) on the simulated time of the bench."""
    driver = BoardDriver(transport, cfg, timeout=timeout_s)
    identity = driver.connect()
    log.info(f"identified: configuration {identity.config_hash}, {identity.clock_hz} Hz / {identity.divisor} = "
             f"{identity.baud:,.0f} baud, {identity.slots} buffers of {identity.slot_bytes} bytes")
    started = time.perf_counter()

    def progress(phase: str, done: int, total: int, note: str) -> None:
        if phase == "train" and (done % 10 == 0 or done == total):
            log.info(f"trained {done}/{total} through the link: {note}, {time.perf_counter() - started:.0f} s")

    train, test = load_dataset(cfg.dataset, "train"), load_dataset(cfg.dataset, "test")
    result = train_session(driver, cfg, golden, train, test, n_train, n_test, now=lambda: transport.sim_ns() * 1e-9,
                           progress=progress)
    return result | {"clock_hz": identity.clock_hz, "divisor": identity.divisor, "baud": identity.baud,
                     "slots": identity.slots, "bytes_to_board": transport.sent}


@cocotb.test()
async def train_through_link(dut: Any) -> None:
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
