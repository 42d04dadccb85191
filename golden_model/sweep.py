"""Studies: a grid of configurations × models × seeds, each point an ordinary run folder.

A study is a TOML file (or the ``--grid`` options of ``modsnn sweep``)::

    [study]
    name = "density"             # names the output folder (runs/studies/NAME by default)
    config = "mnist"             # preset or TOML file every point starts from
    seeds = [1, 2, 3]            # one run per seed: the table shows mean ± std over them
    models = ["int", "float"]    # optional, default ["int"]: the integer model and/or its float twin
    set = { epochs = 10 }        # optional overrides applied to every point
    plot = "readout_density"     # optional: the x axis of the plot (default: the first grid field)

    [grid]                       # any configuration fields, one list of values each
    readout_density = [0.05, 0.1, 0.25, 1.0]

    [[grid.layers]]              # an axis of variants: each table sets several fields together,
    label = 1                    # ``label`` names the variant in folders, tables and plots
    hidden = [256]
    [[grid.layers]]
    label = 2
    hidden = [256, 256]
    threshold = [32, 64]

Every combination of the grid values, every model and every seed is a *point*; its run folder
``OUT/FIELD=VALUE,...,model=M,seed=S`` is what ``modsnn train`` writes, so ``modsnn eval`` and
``modsnn compare`` work on it. Every point's configuration is validated before anything runs: a
bad field or value is refused with the field, the value and the allowed range.

Running is resumable: a point whose ``summary.json`` matches its configuration is skipped, a point
with a checkpoint continues from it (:func:`~.train.train` resumes exactly), any other leftover of
an interrupted point is started again. A point that fails is reported and the others go on.
Points run in a local process pool (``jobs``) or as tasks on a Ray cluster. Every worker limits
BLAS to one thread, so a point's result does not depend on where it ran.
"""

from __future__ import annotations

import dataclasses
import io
import itertools
import json
import shutil
import sys
import time
import tomllib
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from .config import MODELS, Config, ConfigError, load_config

__all__ = ["Point", "PointResult", "Study", "StudyError", "load_study", "parse_grid", "run_study"]

STUDY_KEYS = ("name", "config", "seeds", "models", "set", "plot")


class StudyError(ConfigError):
    """A study file or grid that cannot run: names the field, the value and what is allowed."""


@dataclasses.dataclass(frozen=True)
class Variant:
    """One value of a grid axis that sets several fields together, shown as ``label``."""

    label: Any
    fields: tuple[tuple[str, Any], ...]

    def __str__(self) -> str:
        return str(self.label)


@dataclasses.dataclass(frozen=True)
class Point:
    """One run of a study: the grid values, the model and the seed, and the resolved configuration."""

    values: tuple[tuple[str, Any], ...]
    model: str
    seed: int
    config: Config

    @property
    def name(self) -> str:
        """Folder name, ``FIELD=VALUE,...,model=M,seed=S`` (lists joined with ``-``)."""
        parts = [f"{k}={_label(v)}" for k, v in self.values]
        return ",".join([*parts, f"model={self.model}", f"seed={self.seed}"])

    @property
    def group(self) -> tuple[tuple[str, Any], ...]:
        """The point without its seed: what the table averages over."""
        return (*self.values, ("model", self.model))


@dataclasses.dataclass(frozen=True)
class Study:
    """A named grid over a base configuration; :meth:`points` expands it."""

    name: str
    base: str
    grid: tuple[tuple[str, tuple[Any, ...]], ...]
    seeds: tuple[int, ...]
    models: tuple[str, ...] = ("int",)
    overrides: tuple[tuple[str, Any], ...] = ()
    plot: str = ""
    source: str = "study"

    def points(self) -> list[Point]:
        """Every grid combination × model × seed, validated (raises :class:`StudyError`)."""
        base = _load_base(self.base, self.source)
        fixed = base.to_dict()
        for key, value in self.overrides:
            fixed[key] = value
        try:
            fixed_cfg = Config.from_mapping(fixed, source=f"{self.source}: set")
        except ConfigError as error:
            raise StudyError(str(error)) from None
        names = [k for k, _ in self.grid]
        points = []
        for combo in itertools.product(*(values for _, values in self.grid)):
            data = fixed_cfg.to_dict()
            for name, value in zip(names, combo, strict=True):
                if isinstance(value, Variant):
                    data.update(value.fields)
                else:
                    data[name] = value
            combo = tuple(v.label if isinstance(v, Variant) else v for v in combo)
            for model in self.models:
                for seed in self.seeds:
                    data["seed"] = seed
                    where = ", ".join(f"{k} = {_toml(v)}" for k, v in zip(names, combo, strict=True))
                    try:
                        cfg = Config.from_mapping(data, source=f"{self.source}: grid point {where}")
                    except ConfigError as error:
                        message = str(error)
                        if not message.startswith(self.source):
                            message = f"{self.source}: grid point {where}, seed {seed}: {message}"
                        raise StudyError(message) from None
                    points.append(Point(tuple(zip(names, combo, strict=True)), model, seed, cfg))
        return points

    @property
    def x_field(self) -> str:
        return self.plot or (self.grid[0][0] if self.grid else "model")


@dataclasses.dataclass
class PointResult:
    """What running one point gave: ``status`` is ``done``, ``skipped`` (already finished) or ``failed``."""

    name: str
    status: str
    summary: dict[str, Any] | None = None
    error: str = ""
    seconds: float = 0.0


# ---------------------------------------------------------------------------------------------- input
def _label(value: Any) -> str:
    if isinstance(value, list | tuple):
        return "-".join(_label(v) for v in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _toml(value: Any) -> str:
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return repr(value)


def _load_base(base: str, source: str) -> Config:
    try:
        return load_config(base)
    except ConfigError as error:
        raise StudyError(f"{source}: [study] config = {base!r}: {error}") from None


def _fields() -> set[str]:
    return {f.name for f in dataclasses.fields(Config)}


def _check_field(name: str, source: str, where: str) -> None:
    if name == "seed":
        raise StudyError(f"{source}: {where} 'seed' is not a grid field; list the seeds in "
                         f"[study] seeds = [1, 2, 3] (or --seeds N)")
    if name not in _fields():
        raise StudyError(f"{source}: {where} unknown field {name!r}; known fields are: "
                         f"{', '.join(sorted(_fields()))}")


def _int_list(value: Any, what: str, source: str) -> tuple[int, ...]:
    if isinstance(value, int) and not isinstance(value, bool):
        value = [value]
    if (not isinstance(value, list) or not value
            or not all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v < 2**32 for v in value)):
        raise StudyError(f"{source}: {what} = {value!r} must be a non-empty list of integers in [0, 4294967295]")
    if len(set(value)) != len(value):
        raise StudyError(f"{source}: {what} = {value!r} lists a value twice")
    return tuple(value)


def make_study(data: Mapping[str, Any], source: str) -> Study:
    """Build a :class:`Study` from the parsed TOML document ``data`` (validated)."""
    unknown = sorted(set(data) - {"study", "grid"})
    if unknown:
        raise StudyError(f"{source}: unknown table(s) {', '.join(map(repr, unknown))}; a study has [study] and [grid]")
    head = data.get("study")
    if not isinstance(head, Mapping):
        raise StudyError(f"{source}: missing [study] table (name, config, seeds; optional models, set, plot)")
    extra = sorted(set(head) - set(STUDY_KEYS))
    if extra:
        raise StudyError(f"{source}: [study] has unknown key(s) {', '.join(map(repr, extra))}; "
                         f"allowed keys are: {', '.join(STUDY_KEYS)}")
    name = head.get("name", Path(source).stem)
    if not isinstance(name, str) or not name or "/" in name:
        raise StudyError(f"{source}: [study] name = {name!r} must be a non-empty string without '/'")
    base = head.get("config")
    if not isinstance(base, str) or not base:
        raise StudyError(f"{source}: [study] config = {base!r} must name a preset or a TOML file")
    seeds = _int_list(head.get("seeds", [1]), "[study] seeds", source)
    models = head.get("models", ["int"])
    if isinstance(models, str):
        models = [models]
    if not isinstance(models, list) or not models or any(m not in MODELS for m in models):
        raise StudyError(f"{source}: [study] models = {models!r}: each must be one of "
                         f"{', '.join(map(repr, MODELS))}")
    fixed = head.get("set", {})
    if not isinstance(fixed, Mapping):
        raise StudyError(f"{source}: [study] set = {fixed!r} must be a table of FIELD = VALUE")
    for key in fixed:
        _check_field(key, source, "[study] set:")
    grid_table = data.get("grid", {})
    if not isinstance(grid_table, Mapping):
        raise StudyError(f"{source}: [grid] must be a table of FIELD = [VALUES]")
    grid: list[tuple[str, tuple[Any, ...]]] = []
    for key, values in grid_table.items():
        if not isinstance(values, list) or not values:
            raise StudyError(f"{source}: [grid] {key} = {values!r} must be a non-empty list of values")
        if all(isinstance(v, Mapping) for v in values):
            grid.append((key, tuple(_variant(key, n, v, fixed, source) for n, v in enumerate(values, 1))))
            continue
        _check_field(key, source, "[grid]")
        if key in fixed:
            raise StudyError(f"{source}: field {key!r} is both in [grid] and in [study] set")
        grid.append((key, tuple(tuple(v) if isinstance(v, list) else v for v in values)))
    plot = head.get("plot", "")
    allowed_x = [k for k, _ in grid] + ["model"]
    if plot and plot not in allowed_x:
        raise StudyError(f"{source}: [study] plot = {plot!r} must be a grid field or 'model': "
                         f"{', '.join(allowed_x)}")
    study = Study(name, base, tuple(grid), seeds, tuple(dict.fromkeys(models)),
                  tuple((k, tuple(v) if isinstance(v, list) else v) for k, v in fixed.items()), plot, source)
    study.points()      # validate every point now
    return study


def _variant(axis: str, number: int, table: Mapping[str, Any], fixed: Mapping[str, Any], source: str) -> Variant:
    fields = []
    for key, value in table.items():
        if key == "label":
            continue
        _check_field(key, source, f"[grid] {axis} variant {number}:")
        if key in fixed:
            raise StudyError(f"{source}: field {key!r} is both in [grid] {axis} and in [study] set")
        fields.append((key, tuple(value) if isinstance(value, list) else value))
    if not fields:
        raise StudyError(f"{source}: [grid] {axis} variant {number} sets no field")
    label = table.get("label", number)
    if not isinstance(label, str | int | float) or isinstance(label, bool):
        raise StudyError(f"{source}: [grid] {axis} variant {number}: label = {label!r} must be a string or a number")
    return Variant(label, tuple(fields))


def load_study(path: str | Path) -> Study:
    """Read and validate a study file."""
    path = Path(path)
    if not path.is_file():
        raise StudyError(f"study file {str(path)!r} does not exist")
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as error:
        raise StudyError(f"{path}: not valid TOML: {error}") from None
    return make_study(data, str(path))


def parse_grid(config: str, grid: Sequence[str], seeds: int, models: Sequence[str] = ("int",),
               overrides: Sequence[str] = (), name: str = "") -> Study:
    """A study from command-line options: ``grid`` items ``FIELD=V1,V2,...`` (values as TOML;
    use ``;`` to separate list values, e.g. ``hidden=[256];[256,256]``), seeds ``1..seeds``."""
    table: dict[str, list[Any]] = {}
    for item in grid:
        if "=" not in item:
            raise StudyError(f"--grid {item!r}: expected FIELD=V1,V2,... e.g. readout_density=0.05,0.1,1.0")
        key, text = (s.strip() for s in item.split("=", 1))
        parts = text.split(";") if ";" in text else _split_top(text)
        values = []
        for part in parts:
            try:
                values.append(tomllib.loads(f"v = {part.strip()}")["v"])
            except tomllib.TOMLDecodeError:
                values.append(part.strip())
        if key in table:
            raise StudyError(f"--grid: field {key!r} is given twice")
        table[key] = values
    fixed: dict[str, Any] = {}
    for item in overrides:
        if "=" not in item:
            raise StudyError(f"--set {item!r}: expected FIELD=VALUE, e.g. epochs=5")
        key, text = (s.strip() for s in item.split("=", 1))
        try:
            fixed[key] = tomllib.loads(f"v = {text}")["v"]
        except tomllib.TOMLDecodeError:
            fixed[key] = text
    if seeds < 1:
        raise StudyError(f"--seeds {seeds}: must be at least 1")
    stem = Path(config).stem
    label = name or "-".join([stem, *table]) or stem
    return make_study({"study": {"name": label, "config": config, "seeds": list(range(1, seeds + 1)),
                                 "models": list(models), "set": fixed}, "grid": table}, "--grid")


def _split_top(text: str) -> list[str]:
    """Split at commas outside brackets: ``[1,2],[3]`` → ``[1,2]``, ``[3]``."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        depth += ch == "["
        depth -= ch == "]"
        if ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return [p for p in parts if p.strip()]


# ---------------------------------------------------------------------------------------------- running
def point_state(point: Point, folder: Path) -> str:
    """``done``, ``resume`` (a checkpoint to continue), ``fresh`` (nothing, or a leftover to clear)."""
    summary = folder / "summary.json"
    if summary.is_file():
        try:
            data = json.loads(summary.read_text())
        except json.JSONDecodeError:
            data = {}
        if data.get("config_hash") == point.config.hash() and data.get("model") == point.model:
            return "done"
    meta = folder / "run.json"
    if (folder / "checkpoint.npz").is_file() and meta.is_file():
        data = json.loads(meta.read_text())
        if data.get("config_hash") == point.config.hash() and data.get("model") == point.model:
            return "resume"
    return "fresh"


def run_point(point: Point, folder: str, data_dir: str | None = None) -> PointResult:
    """Train one point into ``folder`` (resume or skip as :func:`point_state` says); never raises."""
    from .train import train

    t0 = time.perf_counter()
    path = Path(folder)
    try:
        state = point_state(point, path)
        if state == "done":
            return PointResult(point.name, "skipped", json.loads((path / "summary.json").read_text()))
        _single_thread_blas()
        if state == "fresh" and path.exists():
            shutil.rmtree(path)                # an interrupted first epoch, or an outdated point
        log = io.StringIO()
        summary = train(point.config, path, model=point.model, resume=state == "resume",
                        log=lambda s: print(s, file=log), progress_stream=io.StringIO(), data_dir=data_dir)
        return PointResult(point.name, "done", summary, seconds=time.perf_counter() - t0)
    except Exception as error:           # a failed point is reported, the others go on
        detail = f"{type(error).__name__}: {error}"
        return PointResult(point.name, "failed", error=detail, seconds=time.perf_counter() - t0)


def _single_thread_blas() -> None:
    """One BLAS thread per worker: no oversubscription, and results independent of the host."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        return
    threadpool_limits(1)


def _local_results(points: list[Point], out: Path, jobs: int, data_dir: str | None) -> Iterator[PointResult]:
    if jobs == 1:
        for p in points:
            yield run_point(p, str(out / p.name), data_dir)
        return
    import concurrent.futures
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    pool = concurrent.futures.ProcessPoolExecutor(max_workers=jobs, mp_context=context, initializer=_ignore_sigint)
    try:
        futures = [pool.submit(run_point, p, str(out / p.name), data_dir) for p in points]
        for future in concurrent.futures.as_completed(futures):
            yield future.result()
    except BaseException:
        # Ctrl-C (or any error here): stop at once. The workers ignore SIGINT, so end them; an
        # interrupted point continues from its last checkpoint when the study is run again.
        workers = list(getattr(pool, "_processes", {}).values())
        pool.shutdown(wait=False, cancel_futures=True)
        for worker in workers:
            worker.terminate()
        raise
    pool.shutdown()


def _ignore_sigint() -> None:
    """Pool workers leave Ctrl-C to the parent, which ends them (see :func:`_local_results`)."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _ray_results(points: list[Point], out: Path, address: str, jobs: int,
                 data_dir: str | None) -> Iterator[PointResult]:
    try:
        import ray
    except ImportError:
        raise StudyError("--ray needs Ray: pip install 'modsnn[ray]' (or pip install ray)") from None
    started = not ray.is_initialized()
    if started:
        try:
            if address == "local":
                ray.init(num_cpus=jobs, include_dashboard=False, log_to_driver=False)
            else:
                ray.init(address=address, log_to_driver=False)
        except Exception as error:             # no cluster at that address, a version mismatch, ...
            raise StudyError(f"--ray {address}: cannot start or join Ray ({type(error).__name__}: {error}); "
                             f"use --ray local to start one on this machine") from None
    try:
        task: Any = ray.remote(num_cpus=1, max_retries=0)(run_point)
        pending = [task.remote(p, str(out.resolve() / p.name), data_dir) for p in points]
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            for ref in done:
                yield ray.get(ref)
    finally:
        if started:
            ray.shutdown()


def run_study(study: Study, out: Path, *, jobs: int = 1, ray_address: str | None = None,
              data_dir: str | None = None, say: Callable[[str], None] | None = None) -> list[PointResult]:
    """Run every point of ``study`` into ``out`` (skipping finished points), print progress with
    ``say``, then write ``study.json``, the results tables and the plots. Returns one result per
    point in study order."""
    from .report import write_study_outputs

    say = say or (lambda s: print(s, file=sys.stderr, flush=True))
    points = study.points()
    out.mkdir(parents=True, exist_ok=True)
    (out / "study.json").write_text(json.dumps(_study_record(study, points), indent=2) + "\n")
    todo = [p for p in points if point_state(p, out / p.name) != "done"]
    where = f"Ray ({ray_address})" if ray_address else f"{jobs} local process{'es' if jobs > 1 else ''}"
    say(f"study {study.name!r}: {len(points)} point{'s' if len(points) != 1 else ''}, "
        f"{len(points) - len(todo)} already finished, "
        f"{len(todo)} to run on {where}; output in {out}")
    results: dict[str, PointResult] = {}
    for p in points:
        if p not in todo:
            results[p.name] = run_point(p, str(out / p.name), data_dir)     # reads the summary only
    t0 = time.perf_counter()
    stream = (_ray_results(todo, out, ray_address, jobs, data_dir) if ray_address
              else _local_results(todo, out, jobs, data_dir))
    for n, result in enumerate(stream, 1):
        results[result.name] = result
        elapsed = time.perf_counter() - t0
        eta = elapsed / n * (len(todo) - n)
        if result.status == "failed":
            line = f"FAILED: {result.error}"
        else:
            assert result.summary is not None
            line = f"test {result.summary['test_accuracy']:.4f} ({result.seconds:.0f} s)"
        say(f"[{n}/{len(todo)}] {result.name}: {line}; elapsed {elapsed:.0f} s, about {eta:.0f} s to go")
    ordered = [results[p.name] for p in points]
    write_study_outputs(study, points, ordered, out)
    return ordered


def _study_record(study: Study, points: list[Point]) -> dict[str, Any]:
    grid = {k: [dict(v.fields, label=v.label) if isinstance(v, Variant) else v for v in values]
            for k, values in study.grid}
    return {"name": study.name, "config": study.base, "grid": grid,
            "seeds": list(study.seeds), "models": list(study.models),
            "set": {k: v for k, v in study.overrides}, "plot": study.x_field,
            "points": [p.name for p in points]}
