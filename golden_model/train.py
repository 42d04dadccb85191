"""Training runs you can compare: run folders, checkpoints, resume, evaluation.

A run folder holds::

    config.toml      the configuration used (flat TOML, loadable with --config)
    run.json         model kind, configuration hash, dataset, modsnn version
    metrics.jsonl    one JSON object per epoch
    checkpoint.npz   weights + sample counter after the last finished epoch
    weights.npz      final weights (written when training finishes)
    summary.json     final figures (test_accuracy, train_accuracy, epochs, train_samples_per_second, ...)

Training is deterministic: the order of epoch ``e`` is :func:`~.rng.permutation` with key
``(seed, ORDER, e)``, and all rounding bits are keyed by the sample counter, so resuming from a
checkpoint gives exactly the weights of an uninterrupted run.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from .config import Config, ConfigError, load_config
from .cycles import PhaseCycles, sample_cycles
from .data import Dataset, DatasetError, load_dataset
from .network import Network
from .rng import Stream, permutation

__all__ = ["Progress", "RunError", "evaluate", "load_run", "train"]

VERSION = "0.1.0"


class RunError(ValueError):
    """A run folder that cannot be written, resumed or read."""


class Progress:
    """A dependency-free progress bar on a text stream (redrawn in place on terminals)."""

    def __init__(self, total: int, label: str, stream: TextIO | None = None, width: int = 28) -> None:
        self.total, self.label, self.width = max(total, 1), label, width
        self.stream = stream if stream is not None else sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.start = time.perf_counter()
        self.last = 0.0
        self.done = 0

    def update(self, done: int, extra: str = "") -> None:
        self.done = done
        now = time.perf_counter()
        if not self.tty or (now - self.last < 0.1 and done < self.total):
            return
        self.last = now
        self.stream.write("\r" + self._line(extra))
        self.stream.flush()

    def close(self, extra: str = "") -> None:
        self.stream.write(("\r" if self.tty else "") + self._line(extra) + "\n")
        self.stream.flush()

    def _line(self, extra: str) -> str:
        frac = self.done / self.total
        filled = int(frac * self.width)
        rate = self.done / max(time.perf_counter() - self.start, 1e-9)
        bar = "#" * filled + "." * (self.width - filled)
        return f"{self.label} [{bar}] {self.done}/{self.total} {rate:,.0f} samples/s {extra}".rstrip()


def accuracy(net: Network, data: Dataset) -> float:
    if len(data) == 0:
        return float("nan")
    return float(np.mean(net.predict(data.x) == data.y))


def _check_inputs(cfg: Config, data: Dataset) -> None:
    if data.n_inputs != cfg.n_inputs:
        raise DatasetError(f"dataset {data.name!r} has {data.n_inputs} inputs per sample but the "
                           f"configuration has n_inputs = {cfg.n_inputs}; use a matching preset or "
                           f"--set n_inputs={data.n_inputs}")
    if len(data) and int(data.y.max()) >= cfg.n_classes:
        raise DatasetError(f"dataset {data.name!r} has label {int(data.y.max())} but the configuration "
                           f"has n_classes = {cfg.n_classes}")


def _write_json(path: Path, obj: Any) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(obj, indent=2, sort_keys=True) + "\n")
    tmp.replace(path)


def _save_npz(path: Path, arrays: dict[str, Any]) -> None:
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez(tmp, **arrays)
    tmp.replace(path)


def train(cfg: Config, out: Path, *, model: str = "int", resume: bool = False,
          log: Callable[[str], None] | None = None, progress_stream: TextIO | None = None,
          data_dir: str | None = None) -> dict[str, Any]:
    """Train ``cfg`` into run folder ``out``; returns the summary dictionary."""
    say = log or (lambda s: print(s, file=sys.stderr))
    out = Path(out)
    checkpoint = out / "checkpoint.npz"
    if resume:
        if not checkpoint.is_file():
            raise RunError(f"cannot resume: {out} has no checkpoint.npz (start a new run without --resume)")
        meta = json.loads((out / "run.json").read_text())
        if meta.get("model") != model:
            raise RunError(f"cannot resume {out}: it trains model {meta.get('model')!r}, not {model!r}")
    elif out.exists() and any(out.iterdir()):
        raise RunError(f"run folder {out} exists and is not empty; pass --resume to continue it or "
                       f"choose another --out")
    directory = data_dir or cfg.data_dir or None
    train_set = load_dataset(cfg.dataset, "train", directory).limit(cfg.train_limit)
    test_set = load_dataset(cfg.dataset, "test", directory).limit(cfg.test_limit)
    _check_inputs(cfg, train_set)
    _check_inputs(cfg, test_set)
    net = Network(cfg, model)
    out.mkdir(parents=True, exist_ok=True)
    start_epoch = 0
    history: list[dict[str, Any]] = []
    if resume:
        state = dict(np.load(checkpoint))
        net.load_state_dict(state)
        start_epoch = int(state["epoch"])
        lines = (out / "metrics.jsonl").read_text().splitlines() if (out / "metrics.jsonl").exists() else []
        history = [json.loads(line) for line in lines][:start_epoch]
        say(f"resuming {out} at epoch {start_epoch} of {cfg.epochs}")
    (out / "config.toml").write_text(cfg.to_toml())
    _write_json(out / "run.json", {"model": model, "config_hash": cfg.hash(), "dataset": cfg.dataset,
                                   "version": VERSION, "data_dir": directory or ""})
    train_seconds = sum(h["seconds"] for h in history)
    train_samples = sum(h["samples"] for h in history)
    for epoch in range(start_epoch, cfg.epochs):
        order = permutation(len(train_set), cfg.seed, int(Stream.ORDER), epoch)
        lr_extra = epoch // cfg.lr_decay_epochs if cfg.lr_decay_epochs else 0
        bar = Progress(len(order), f"epoch {epoch + 1}/{cfg.epochs}", progress_stream)
        cycles = PhaseCycles(0, 0, 0)
        correct = 0
        t0 = time.perf_counter()
        for n, index in enumerate(order, 1):
            fwd, report = net.train_step(train_set.x[index], int(train_set.y[index]), lr_extra)
            correct += int(fwd.prediction[0] == train_set.y[index])
            if model == "int":
                cycles = cycles + sample_cycles(cfg, fwd, 0, report)
            bar.update(n)
        seconds = time.perf_counter() - t0
        bar.close()
        train_seconds += seconds
        train_samples += len(order)
        record: dict[str, Any] = {
            "epoch": epoch + 1,
            "samples": len(order),
            "seconds": round(seconds, 4),
            "samples_per_second": round(len(order) / max(seconds, 1e-9), 1),
            "online_train_accuracy": correct / max(len(order), 1),
            "train_accuracy": accuracy(net, train_set),
            "test_accuracy": accuracy(net, test_set),
            "lr_extra_shift": lr_extra,
        }
        if model == "int" and len(order):
            record["cycles_per_sample"] = {
                "integration": cycles.integration / len(order), "sweep": cycles.sweep / len(order),
                "plasticity": cycles.plasticity / len(order), "total": cycles.total / len(order)}
        history.append(record)
        metrics_tmp = out / "metrics.jsonl.tmp"              # replaced atomically, like the checkpoint
        metrics_tmp.write_text("".join(json.dumps(h, sort_keys=True) + "\n" for h in history))
        metrics_tmp.replace(out / "metrics.jsonl")
        _save_npz(checkpoint, {**net.state_dict(), "epoch": np.asarray(epoch + 1)})
        say(f"epoch {epoch + 1}/{cfg.epochs}: train {record['train_accuracy']:.4f} "
            f"test {record['test_accuracy']:.4f} ({record['samples_per_second']:,.0f} samples/s)")
    _save_npz(out / "weights.npz", net.state_dict())
    last = history[-1] if history else {"train_accuracy": accuracy(net, train_set),
                                        "test_accuracy": accuracy(net, test_set)}
    summary: dict[str, Any] = {
        "name": cfg.name,
        "model": model,
        "config_hash": cfg.hash(),
        "dataset": cfg.dataset,
        "epochs": len(history),
        "train_samples": len(train_set),
        "test_samples": len(test_set),
        "train_accuracy": last["train_accuracy"],
        "test_accuracy": last["test_accuracy"],
        "best_test_accuracy": max((h["test_accuracy"] for h in history), default=last["test_accuracy"]),
        "train_samples_per_second": round(train_samples / train_seconds, 1) if train_seconds else None,
        "train_seconds": round(train_seconds, 3),
        "seed": cfg.seed,
        "eligibility": cfg.eligibility,
        "readout_density": cfg.readout_density,
        "version": VERSION,
    }
    if history and "cycles_per_sample" in history[-1]:
        summary["cycles_per_sample"] = history[-1]["cycles_per_sample"]
    _write_json(out / "summary.json", summary)
    return summary


def load_run(run: Path) -> tuple[Config, Network, dict[str, Any]]:
    """The configuration, trained network and metadata of a run folder."""
    run = Path(run)
    if not (run / "config.toml").is_file() or not (run / "run.json").is_file():
        raise RunError(f"{run} is not a modsnn run folder (no config.toml/run.json); "
                       f"create one with `modsnn train --out {run}`")
    try:
        cfg = load_config(run / "config.toml")
    except ConfigError as error:
        raise RunError(f"{run}/config.toml: {error}") from None
    meta = json.loads((run / "run.json").read_text())
    weights = run / "weights.npz"
    if not weights.is_file():
        weights = run / "checkpoint.npz"
    if not weights.is_file():
        raise RunError(f"{run} has no weights.npz or checkpoint.npz yet: the run has not finished an epoch")
    net = Network(cfg, meta.get("model", "int"))
    net.load_state_dict(dict(np.load(weights)))
    return cfg, net, meta


def evaluate(run: Path, dataset: str, split: str = "test", data_dir: str | None = None) -> dict[str, Any]:
    """Accuracy of a saved run on ``split`` of ``dataset``."""
    cfg, net, meta = load_run(run)
    data = load_dataset(dataset, split, data_dir or meta.get("data_dir") or None)
    _check_inputs(cfg, data)
    t0 = time.perf_counter()
    pred = net.predict(data.x)
    seconds = time.perf_counter() - t0
    return {"run": str(run), "dataset": dataset, "split": split, "samples": len(data),
            "accuracy": float(np.mean(pred == data.y)) if len(data) else float("nan"),
            "model": net.model, "samples_per_second": round(len(data) / max(seconds, 1e-9), 1)}
