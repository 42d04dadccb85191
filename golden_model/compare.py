"""Side-by-side comparison of run folders: a text table and a PNG of accuracy curves."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .train import RunError

__all__ = ["compare_runs", "expand_runs", "read_run"]


def read_run(run: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """``(summary, per-epoch metrics)`` of a run folder (summary from metrics if unfinished)."""
    metrics_path = run / "metrics.jsonl"
    if not metrics_path.is_file():
        raise RunError(f"{run} is not a modsnn run folder with metrics (no metrics.jsonl); "
                       f"create one with `modsnn train --out {run}`")
    history = [json.loads(line) for line in metrics_path.read_text().splitlines() if line.strip()]
    summary_path = run / "summary.json"
    if summary_path.is_file():
        summary = json.loads(summary_path.read_text())
    else:
        meta = json.loads((run / "run.json").read_text()) if (run / "run.json").is_file() else {}
        last = history[-1] if history else {}
        summary = {"model": meta.get("model", "?"), "config_hash": meta.get("config_hash", "?"),
                   "dataset": meta.get("dataset", "?"), "epochs": len(history),
                   "train_accuracy": last.get("train_accuracy"), "test_accuracy": last.get("test_accuracy"),
                   "train_samples_per_second": None, "unfinished": True}
    return summary, history


def _fmt(value: Any, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def expand_runs(paths: list[Path]) -> list[Path]:
    """Run folders, with a study folder (one holding ``study.json``) replaced by its points."""
    runs: list[Path] = []
    for path in paths:
        record = path / "study.json"
        if record.is_file() and not (path / "metrics.jsonl").is_file():
            runs += [path / name for name in json.loads(record.read_text())["points"] if (path / name).is_dir()]
        else:
            runs.append(path)
    return runs


def compare_runs(runs: list[Path], png: Path) -> str:
    """Return the comparison table and write the accuracy curves of ``runs`` to ``png``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = []
    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=110)
    for run in runs:
        summary, history = read_run(run)
        rows.append([str(run), summary.get("model", "?"), summary.get("dataset", "?"),
                     summary.get("config_hash", "?"), str(summary.get("epochs", "?")),
                     _fmt(summary.get("train_accuracy"), ".4f"), _fmt(summary.get("test_accuracy"), ".4f"),
                     _fmt(summary.get("best_test_accuracy"), ".4f"),
                     _fmt(summary.get("train_samples_per_second"), ",.0f")
                     + (" (unfinished)" if summary.get("unfinished") else "")])
        epochs = [h["epoch"] for h in history]
        line, = ax.plot(epochs, [h["test_accuracy"] for h in history], marker="o", ms=3, label=f"{run.name} test")
        ax.plot(epochs, [h["train_accuracy"] for h in history], ls="--", color=line.get_color(), alpha=0.6,
                label=f"{run.name} train")
    ax.set_xlabel("epoch")
    ax.set_ylabel("accuracy")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png)
    plt.close(fig)
    header = ["run", "model", "dataset", "config", "epochs", "train", "test", "best test", "samples/s"]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in [header, *rows]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
