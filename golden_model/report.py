"""Results tables (CSV, Markdown, text) and plots of groups of runs: mean ± std over seeds.

Runs are grouped by everything but their seed: the study's grid values and the model for a study
(:mod:`.sweep`), the configuration fields that differ between the runs and the model for
``modsnn compare``. For each group the table gives the number of seeds, the final test and train
accuracy as mean ± sample standard deviation (``n − 1``; ``± 0`` for one seed), the best test
accuracy over epochs, the training speed, and how many runs failed.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .sweep import Point, PointResult, Study

__all__ = ["Group", "group_runs", "markdown_table", "plot_groups", "summarise", "write_csv", "write_study_outputs"]


@dataclasses.dataclass
class Group:
    """The runs of one point of a study (or one configuration of ``compare``), over seeds."""

    key: tuple[tuple[str, Any], ...]
    seeds: list[int] = dataclasses.field(default_factory=list)
    test: list[float] = dataclasses.field(default_factory=list)
    train: list[float] = dataclasses.field(default_factory=list)
    best: list[float] = dataclasses.field(default_factory=list)
    speed: list[float] = dataclasses.field(default_factory=list)
    failed: int = 0

    def value(self, name: str) -> Any:
        return dict(self.key)[name]


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (``n − 1``; 0 for a single value; NaN for none)."""
    if not values:
        return math.nan, math.nan
    mean = sum(values) / len(values)
    if len(values) == 1:
        return mean, 0.0
    return mean, math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))


def summarise(rows: Sequence[tuple[tuple[tuple[str, Any], ...], int, dict[str, Any] | None]]) -> list[Group]:
    """Groups from ``(key, seed, summary or None if failed)`` rows, in first-seen order."""
    groups: dict[tuple[tuple[str, Any], ...], Group] = {}
    for key, seed, summary in rows:
        group = groups.setdefault(key, Group(key))
        if summary is None:
            group.failed += 1
            continue
        group.seeds.append(seed)
        group.test.append(float(summary["test_accuracy"]))
        group.train.append(float(summary["train_accuracy"]))
        group.best.append(float(summary.get("best_test_accuracy", summary["test_accuracy"])))
        if summary.get("train_samples_per_second"):
            group.speed.append(float(summary["train_samples_per_second"]))
    return list(groups.values())


def _fmt_value(value: Any) -> str:
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_fmt_value(v) for v in value) + "]"
    return str(value)


def _pct(values: Sequence[float]) -> str:
    mean, std = mean_std(values)
    return "-" if math.isnan(mean) else f"{100 * mean:.2f} ± {100 * std:.2f}"


def _columns(groups: Sequence[Group]) -> list[str]:
    return [k for k, _ in groups[0].key] if groups else []


def markdown_table(groups: Sequence[Group]) -> str:
    """A Markdown table: one row per group, accuracies in % as mean ± std over seeds."""
    fields = _columns(groups)
    header = [*fields, "seeds", "test accuracy (%)", "train accuracy (%)", "best test (%)", "samples/s"]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    for g in groups:
        speed = mean_std(g.speed)[0]
        seeds = f"{len(g.seeds)}" + (f" ({g.failed} failed)" if g.failed else "")
        cells = [*(_fmt_value(v) for _, v in g.key), seeds, _pct(g.test), _pct(g.train), _pct(g.best),
                 "-" if math.isnan(speed) else f"{speed:,.0f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def write_csv(groups: Sequence[Group], path: Path | None = None) -> str:
    """The table as CSV (fractions, not %); written to ``path`` when given, returned as text."""
    fields = _columns(groups)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([*fields, "seeds", "failed", "test_mean", "test_std", "train_mean", "train_std",
                     "best_test_mean", "best_test_std", "samples_per_second", "seed_list", "test_per_seed"])
    for g in groups:
        row: list[Any] = [_fmt_value(v) for _, v in g.key]
        row += [len(g.seeds), g.failed, *mean_std(g.test), *mean_std(g.train), *mean_std(g.best),
                mean_std(g.speed)[0], " ".join(map(str, g.seeds)), " ".join(f"{t:.4f}" for t in g.test)]
        writer.writerow([f"{v:.6f}" if isinstance(v, float) and not math.isnan(v) else v for v in row])
    text = buffer.getvalue()
    if path is not None:
        path.write_text(text)
    return text


def _numeric(values: Sequence[Any]) -> bool:
    return all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)


def plot_groups(groups: Sequence[Group], x: str, path: Path, title: str = "") -> None:
    """Test accuracy (mean, error bars = std over seeds) against field ``x``; one line for each
    combination of the other fields (e.g. the integer model and its float twin)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=110)
    series: dict[tuple[tuple[str, Any], ...], list[Group]] = {}
    for g in groups:
        series.setdefault(tuple((k, v) for k, v in g.key if k != x), []).append(g)
    xs_all = [g.value(x) for g in groups]
    numeric = _numeric(xs_all)
    categories = list(dict.fromkeys(_fmt_value(v) for v in xs_all))
    for label_key, members in series.items():
        members = [g for g in members if g.test]
        if not members:
            continue
        if numeric:
            members.sort(key=lambda g: g.value(x))
            xs: list[Any] = [g.value(x) for g in members]
        else:
            xs = [categories.index(_fmt_value(g.value(x))) for g in members]
        stats = [mean_std(g.test) for g in members]
        label = ", ".join(f"{k}={_fmt_value(v)}" for k, v in label_key) or "test accuracy"
        ax.errorbar(xs, [100 * m for m, _ in stats], yerr=[100 * s for _, s in stats], marker="o", ms=4,
                    capsize=3, label=label)
    if numeric:
        values = [v for v in xs_all if v > 0]
        if values and max(values) / min(values) >= 10:
            ax.set_xscale("log")
            ax.set_xticks(sorted(set(values)))
            ax.set_xticklabels([_fmt_value(v) for v in sorted(set(values))])
    else:
        ax.set_xticks(range(len(categories)))
        ax.set_xticklabels(categories)
    ax.set_xlabel(x)
    ax.set_ylabel("test accuracy (%), mean ± std over seeds")
    if title:
        ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)


def write_study_outputs(study: Study, points: Sequence[Point], results: Sequence[PointResult],
                        out: Path) -> list[Group]:
    """``results.csv``, ``results.md`` and ``accuracy.png`` of a study in ``out``."""
    groups = summarise([(p.group, p.seed, r.summary if r.status != "failed" else None)
                        for p, r in zip(points, results, strict=True)])
    write_csv(groups, out / "results.csv")
    config = f"`{study.base}`" + "".join(f", {k} = {_fmt_value(v)}" for k, v in study.overrides)
    (out / "results.md").write_text(f"### Study `{study.name}` ({config}; seeds {', '.join(map(str, study.seeds))})\n\n"
                                    + markdown_table(groups))
    if any(g.test for g in groups):
        plot_groups(groups, study.x_field, out / "accuracy.png", f"{study.name}: {config.replace('`', '')}")
    return groups


def group_runs(runs: Sequence[Path]) -> list[Group]:
    """Groups of run folders by their configuration without the seed (and name), and model; the
    key lists the configuration fields that differ between the runs."""
    import json

    from .compare import read_run
    from .config import ConfigError, load_config
    from .train import RunError

    entries = []
    for run in runs:
        try:
            cfg = load_config(run / "config.toml").to_dict()
        except ConfigError as error:
            raise RunError(f"{run}: cannot read config.toml ({error})") from None
        meta = json.loads((run / "run.json").read_text()) if (run / "run.json").is_file() else {}
        summary: dict[str, Any] | None = read_run(run)[0]
        if summary is None or summary.get("test_accuracy") is None:
            summary = None                                     # no finished epoch yet
        entries.append((cfg, meta.get("model", "int"), summary))
    ignore = {"seed", "name"}
    varying = [k for k in (entries[0][0] if entries else {}) if k not in ignore
               and len({json.dumps(e[0][k]) for e in entries}) > 1]
    rows = []
    for cfg, model, summary in entries:
        key = (*((k, tuple(cfg[k]) if isinstance(cfg[k], list) else cfg[k]) for k in varying), ("model", model))
        rows.append((key, int(cfg["seed"]), summary))
    return summarise(rows)
