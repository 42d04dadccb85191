"""Training and evaluation sessions on a board, checked against the golden model in lockstep.

One body for silicon and simulation: ``modsnn board train`` runs :func:`train_session` on a
:class:`~modsnn.boards.driver.BoardDriver` over a :class:`~modsnn.boards.driver.SerialTransport`,
and ``modsnn sim --link`` (:mod:`modsnn.sim.tb_link_train`) runs the same function on the driver
connected to the RTL's UART pins. So the verdict a board prints is the ``make sim`` verdict:

* :func:`train_session` loads the golden network's initial weights (``modsnn train``'s
  initialisation of the configuration's seed), streams ``n_train`` labelled samples in the training
  order of ``modsnn train`` (epoch ``e``: :func:`~modsnn.golden_model.rng.permutation` with key
  ``(seed, ORDER, e)``, learning-rate offset ``e // lr_decay_epochs``), and checks every prediction
  and every sample's phase cycle counts (:func:`~modsnn.golden_model.cycles.sample_cycles`) against
  the golden model training in lockstep; then the sample counter and every weight, read back; then
  :func:`eval_session` on ``n_test`` held-out samples.
* :func:`eval_session` runs inference on samples the board receives back to back and checks each
  prediction and cycle count against the golden network ``net`` (whose weights must be the board's:
  :func:`board_network` reads them back).

``now`` is the session's clock in seconds (wall time on a board, simulated time in RTL simulation);
every rate in the report is measured on it. Mismatches are collected (the first 20 kept), never
raised: the report says ``bit_exact`` and lists them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from ..golden_model.config import Config
from ..golden_model.cycles import PhaseCycles, sample_cycles
from ..golden_model.data import Dataset
from ..golden_model.network import Network
from ..golden_model.rng import Stream, permutation
from .driver import BoardDriver

__all__ = ["Progress", "board_network", "eval_session", "train_session"]

Progress = Callable[[str, int, int, str], None]
"""``progress(phase, done, total, note)``: called after every sample (phase ``train`` or ``test``)."""

MAX_MISMATCHES = 20


def _no_progress(phase: str, done: int, total: int, note: str) -> None:
    pass


def board_network(driver: BoardDriver, cfg: Config) -> Network:
    """A golden network holding the weights and sample counter the board holds now."""
    net = Network(cfg)
    ff, rec, out = driver.read_weights()
    state = {"updates": np.asarray(driver.sample_counter(), np.int64)}
    for layer in range(cfg.n_hidden_layers):
        state |= {f"ff{layer}": ff[layer], f"rec{layer}": rec[layer], f"out{layer}": out[layer]}
    net.load_state_dict(state)
    return net


def eval_session(driver: BoardDriver, cfg: Config, net: Network, test: Dataset, n_test: int, *,
                 now: Callable[[], float] = time.perf_counter, progress: Progress = _no_progress) -> dict[str, Any]:
    """Inference of the first ``n_test`` samples of ``test`` on the board, against ``net``."""
    if not 0 <= n_test <= len(test):
        raise ValueError(f"{n_test} test samples asked for; the test split has {len(test)}")
    mismatches: list[str] = []
    golden = net.predict(test.x[:n_test]) if n_test else np.zeros(0, np.int64)
    board_correct = golden_correct = 0
    cycles = PhaseCycles(0, 0, 0)
    start = now()
    replies = driver.run_batch(((test.x[i], 0, False) for i in range(n_test)), cycles=True)
    for i, reply in enumerate(replies):
        fwd = net.forward(test.x[i:i + 1], learning=False)
        want = sample_cycles(cfg, fwd)
        assert reply.cycles is not None
        cycles = cycles + reply.cycles
        board_correct += reply.prediction == int(test.y[i])
        golden_correct += int(golden[i]) == int(test.y[i])
        if reply.prediction != int(golden[i]):
            mismatches.append(f"test sample {i}: prediction {reply.prediction}, golden {int(golden[i])}")
        if reply.cycles != want:
            mismatches.append(f"test sample {i}: cycles {reply.cycles}, cycle model {want}")
        progress("test", i + 1, n_test, f"accuracy {board_correct / (i + 1):.1%}")
    seconds = now() - start
    return {
        "test_samples": n_test,
        "test_accuracy": board_correct / max(1, n_test), "golden_test_accuracy": golden_correct / max(1, n_test),
        "cycles_per_test_sample": cycles.total / max(1, n_test),
        "test_seconds": seconds, "test_samples_per_second": n_test / seconds if n_test and seconds > 0 else 0.0,
        "bit_exact": not mismatches, "mismatches": mismatches[:MAX_MISMATCHES],
    }


def train_session(driver: BoardDriver, cfg: Config, golden: Config, train: Dataset, test: Dataset, n_train: int,
                  n_test: int, *, now: Callable[[], float] = time.perf_counter,
                  progress: Progress = _no_progress) -> dict[str, Any]:
    """Train ``n_train`` samples on the board from ``golden``'s initial weights, then evaluate.

    ``cfg`` is the configuration the board was built from (the driver has identified it);
    ``golden`` the one the golden model runs (the same, unless a test plants a difference).
    """
    if n_train < 0:
        raise ValueError(f"{n_train} training samples asked for")
    net = Network(golden)
    start = now()
    driver.load_weights(net)
    driver.set_sample_counter(0)
    driver.set_lr_extra(0)
    load_seconds = now() - start
    mismatches: list[str] = []
    cycles = PhaseCycles(0, 0, 0)
    correct = done = 0
    train_start = now()
    epoch = 0
    while done < n_train:
        order = permutation(len(train), cfg.seed, int(Stream.ORDER), epoch)[:n_train - done]
        lr_extra = epoch // cfg.lr_decay_epochs if cfg.lr_decay_epochs else 0
        if epoch:
            driver.set_lr_extra(lr_extra)
        replies = driver.run_batch(((train.x[i], int(train.y[i]), True) for i in order), cycles=True)
        for index, reply in zip(order, replies, strict=True):
            done += 1
            label = int(train.y[index])
            fwd, report = net.train_step(train.x[index], label, lr_extra)
            want = sample_cycles(cfg, fwd, report=report)
            assert reply.cycles is not None
            cycles = cycles + reply.cycles
            correct += reply.prediction == label
            if reply.prediction != int(fwd.prediction[0]):
                mismatches.append(f"training sample {done}: prediction {reply.prediction}, "
                                  f"golden {int(fwd.prediction[0])}")
            if reply.cycles != want:
                mismatches.append(f"training sample {done}: cycles {reply.cycles}, cycle model {want}")
            if reply.refused:
                mismatches.append(f"training sample {done}: refused")
            progress("train", done, n_train, f"online accuracy {correct / done:.1%}")
        epoch += 1
    train_seconds = now() - train_start
    counter = driver.sample_counter()
    if counter != net.updates:
        mismatches.append(f"sample counter {counter}, golden {net.updates}")
    read_start = now()
    ff, rec, out = driver.read_weights()
    read_seconds = now() - read_start
    weights_match = all(np.array_equal(a, b) for mine, gold in ((ff, net.ff), (rec, net.rec), (out, net.out))
                        for a, b in zip(mine, gold, strict=True))
    if not weights_match:
        mismatches.append("weights after training differ from the golden model's")
    tested = eval_session(driver, cfg, net, test, n_test, now=now, progress=progress)
    mismatches += tested.pop("mismatches")
    tested.pop("bit_exact")
    return {
        "config": cfg.name, "config_hash": cfg.hash(), "lanes": cfg.lanes, "cores": cfg.cores,
        "hidden": list(cfg.hidden), "train_samples": n_train, "epochs_started": epoch,
        "online_train_accuracy": correct / max(1, n_train), **tested,
        "weights_match": weights_match, "bit_exact": not mismatches, "mismatches": mismatches[:MAX_MISMATCHES],
        "cycles_per_train_sample": {k: getattr(cycles, k) / max(1, n_train)
                                    for k in ("integration", "sweep", "plasticity", "total")},
        "seconds": {"load_weights": load_seconds, "train": train_seconds, "read_weights": read_seconds,
                    "test": tested["test_seconds"]},
        "train_samples_per_second": n_train / train_seconds if n_train and train_seconds > 0 else 0.0,
    }
