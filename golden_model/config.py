"""The one configuration object every part of modsnn takes.

A :class:`Config` is frozen and validated at construction: every field is checked against the
range the golden model and the hardware support, and a violation raises :class:`ConfigError`
naming the field, the value and the allowed range. Presets live as TOML files in ``configs/``
(``tiny``, ``digits``, ``mnist``, ``fashion``); tables in those files only group fields for the
reader, the field names are flat and unique, so ``--set FIELD=VALUE`` addresses any of them.

Units used throughout:

* weights are stored with ``weight_bits`` bits (two's complement, saturating at
  ``±(2^(weight_bits-1) - 1)``); the forward pass uses ``w >> weight_frac`` (arithmetic shift,
  floor), so the low ``weight_frac`` bits are learning-only;
* membrane potentials, thresholds and synaptic input are in forward-weight LSBs;
* traces are unsigned ``trace_bits``-bit integers.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import tomllib
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

__all__ = ["PRESETS", "Config", "ConfigError", "load_config", "preset_path"]

PRESETS = ("tiny", "digits", "mnist", "fashion", "icebreaker", "ecp5-85f", "mnist-ecp5")
DATASETS = ("digits", "mnist5k", "fashion", "idx")
ELIGIBILITY_MODES = ("factored", "synaptic")
TEACHING_MODES = ("v1", "margin")
MODELS = ("int", "float")


class ConfigError(ValueError):
    """An invalid or infeasible configuration. The message names the field and the limit."""


@dataclasses.dataclass(frozen=True)
class Config:
    """Sizes, widths, shifts, seeds, connectivity and parallelism of one modsnn network.

    See ``configs/*.toml`` for documented presets and ``docs/algorithm.md`` for the equations each
    field enters.
    """

    # --- identity and data ---
    name: str = "custom"
    seed: int = 1
    dataset: str = "digits"
    data_dir: str = ""
    # --- network shape ---
    n_inputs: int = 64
    hidden: tuple[int, ...] = (128,)
    n_classes: int = 10
    pop: int = 10
    timesteps: int = 16
    # --- widths ---
    weight_bits: int = 12
    weight_frac: int = 4
    membrane_bits: int = 16
    trace_bits: int = 8
    # --- neuron dynamics ---
    leak_shift: int = 3
    trace_shift: int = 2
    trace_amp: int = 64
    threshold: tuple[int, ...] = (64,)
    readout_threshold: int = 64
    boxcar_lo_q4: int = 2
    boxcar_hi_q4: int = 6
    # --- initial weights (uniform integers in [-scale, scale], forward LSBs) ---
    init_ff: tuple[int, ...] = (16,)
    init_rec: tuple[int, ...] = (4,)
    init_out: int = 8
    # --- small-world readout projection ---
    readout_density: float = 1.0
    rewire_beta: float = 0.2
    # --- teaching and modulation ---
    target_rate: float = 0.25
    teaching: str = "v1"
    teach_margin: int = 0
    mod_shift: int = 3
    mod_levels: int = 15
    # --- plasticity ---
    eligibility: str = "factored"
    learn_hidden: bool = True
    lr_shift_out: int = 8
    lr_shift_hidden: tuple[int, ...] = (12,)
    lr_decay_epochs: int = 0
    # --- training schedule ---
    epochs: int = 10
    train_limit: int = 0
    test_limit: int = 0
    # --- hardware parallelism (never changes results) ---
    lanes: int = 1
    cores: int = 1
    weight_ports: int = 2          # 2: dual-port weight RAM (block RAM); 1: single-port (iCE40 SPRAM)
    hash_stages: int = 6           # registers in the plasticity engine's hash: 6, 3 or 2 (fewer: shorter
                                   # pipelines and passes, a slower clock; 2 for the iCE40 UP5K)
    memory_delays: bool = False    # the plasticity pipeline's longest delay lines in block RAM instead of
                                   # flip-flops (same cycles; for the iCE40 UP5K's few logic cells)

    def __post_init__(self) -> None:
        _validate(self)

    # ----- derived quantities (documented read-only properties) -----
    @property
    def n_hidden_layers(self) -> int:
        return len(self.hidden)

    @property
    def n_readout(self) -> int:
        """Readout neurons, ``C·P``; neuron ``k`` belongs to class ``k mod C``."""
        return self.n_classes * self.pop

    @property
    def w_max(self) -> int:
        """Saturation bound of stored weights, ``2^(weight_bits-1) - 1``."""
        return (1 << (self.weight_bits - 1)) - 1

    @property
    def v_min(self) -> int:
        return -(1 << (self.membrane_bits - 1))

    @property
    def v_max(self) -> int:
        return (1 << (self.membrane_bits - 1)) - 1

    @property
    def x_max(self) -> int:
        """Trace saturation, ``2^trace_bits - 1``."""
        return (1 << self.trace_bits) - 1

    @property
    def target_count(self) -> int:
        """Target population spike count ``R = floor(ρ·P·T + 1/2)`` of the labelled class."""
        return math.floor(self.target_rate * self.pop * self.timesteps + 0.5)

    @property
    def eligibility_shift(self) -> int:
        """Extra shift of the factored eligibility, ``ceil(log2 T)``: ``E = H·X / 2^this``."""
        return 0 if self.eligibility == "synaptic" else max(0, math.ceil(math.log2(self.timesteps)))

    def boxcar(self, layer: int) -> tuple[int, int]:
        """``(lo, hi)`` membrane bounds of the pseudo-derivative of hidden layer ``layer``."""
        theta = self.threshold[layer]
        return (theta * self.boxcar_lo_q4) >> 2, (theta * self.boxcar_hi_q4) >> 2

    def layer_inputs(self, layer: int) -> int:
        return self.n_inputs if layer == 0 else self.hidden[layer - 1]

    def replace(self, **changes: Any) -> Config:
        """A copy with ``changes`` applied (validated again)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return {f.name: (list(v) if isinstance(v := getattr(self, f.name), tuple) else v)
                for f in dataclasses.fields(self)}

    def hash(self) -> str:
        """First 16 hex digits of the SHA-256 of the canonical JSON of every field (``hash_stages`` and
        ``memory_delays`` only when they are not their defaults, so the configurations that predate
        them keep their hash)."""
        fields = self.to_dict()
        if fields["hash_stages"] == 6:
            del fields["hash_stages"]
        if not fields["memory_delays"]:
            del fields["memory_delays"]
        blob = json.dumps(fields, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    def to_toml(self) -> str:
        """The configuration as a flat TOML document that :func:`load_config` reads back."""
        lines = [f"# modsnn configuration, hash {self.hash()}"]
        for key, value in self.to_dict().items():
            lines.append(f"{key} = {_toml_value(value)}")
        return "\n".join(lines) + "\n"

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], *, source: str = "configuration") -> Config:
        """Build from a (possibly table-grouped) mapping; unknown keys are errors."""
        flat: dict[str, Any] = {}
        for key, value in data.items():
            if isinstance(value, Mapping):
                for sub_key, sub_value in value.items():
                    _put(flat, sub_key, sub_value, source)
            else:
                _put(flat, key, value, source)
        fields = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(flat) - set(fields))
        if unknown:
            raise ConfigError(f"{source}: unknown field(s) {', '.join(map(repr, unknown))}; "
                              f"known fields are: {', '.join(fields)}")
        kwargs = {k: _coerce(k, fields[k].default, v) for k, v in flat.items()}
        return cls(**kwargs)

    def with_overrides(self, assignments: list[str]) -> Config:
        """Apply ``FIELD=VALUE`` strings (VALUE parsed as TOML, bare words as strings)."""
        data = self.to_dict()
        fields = {f.name for f in dataclasses.fields(self)}
        for item in assignments:
            if "=" not in item:
                raise ConfigError(f"--set {item!r}: expected FIELD=VALUE, e.g. readout_density=0.05")
            key, text = (s.strip() for s in item.split("=", 1))
            if key not in fields:
                raise ConfigError(f"--set {item!r}: unknown field {key!r}; known fields are: "
                                  f"{', '.join(sorted(fields))}")
            try:
                value = tomllib.loads(f"v = {text}")["v"]
            except tomllib.TOMLDecodeError:
                value = text
            data[key] = value
        return Config.from_mapping(data, source="--set")


def _put(flat: dict[str, Any], key: str, value: Any, source: str) -> None:
    if key in flat:
        raise ConfigError(f"{source}: field {key!r} is given twice")
    flat[key] = value


def _coerce(name: str, default: Any, value: Any) -> Any:
    """Convert TOML values to the field's type; type errors name the field."""
    if isinstance(default, tuple):
        if isinstance(value, int) and not isinstance(value, bool):
            return (value,)
        if not isinstance(value, list | tuple):
            raise ConfigError(f"field {name!r} must be a list of integers, not {value!r}")
        return tuple(value)
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ConfigError(f"field {name!r} must be true or false, not {value!r}")
        return value
    if isinstance(default, float) and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return repr(value)


def _check_int(cfg: Config, name: str, lo: int, hi: int, value: Any = None, what: str = "") -> None:
    v = getattr(cfg, name) if value is None else value
    label = f"{name}{what}"
    if not isinstance(v, int) or isinstance(v, bool) or not lo <= v <= hi:
        raise ConfigError(f"config field {label} = {v!r} is out of range: "
                          f"must be an integer in [{lo}, {hi}]")


def _check_float(cfg: Config, name: str, lo: float, hi: float, lo_open: bool = False) -> None:
    v = getattr(cfg, name)
    ok = isinstance(v, float) and (lo < v if lo_open else lo <= v) and v <= hi
    if not ok:
        bracket = "(" if lo_open else "["
        raise ConfigError(f"config field {name} = {v!r} is out of range: "
                          f"must be a number in {bracket}{lo}, {hi}]")


def _check_choice(cfg: Config, name: str, choices: tuple[str, ...]) -> None:
    v = getattr(cfg, name)
    if v not in choices:
        raise ConfigError(f"config field {name} = {v!r} is not one of {', '.join(map(repr, choices))}")


def _check_per_layer(cfg: Config, name: str, lo: int, hi: int) -> None:
    values = getattr(cfg, name)
    if not isinstance(values, tuple) or len(values) != len(cfg.hidden):
        raise ConfigError(f"config field {name} = {values!r} must have one entry per hidden layer "
                          f"({len(cfg.hidden)} entries, as in hidden = {list(cfg.hidden)!r})")
    for index, v in enumerate(values):
        _check_int(cfg, name, lo, hi, value=v, what=f"[{index}]")


def _validate(cfg: Config) -> None:
    if not isinstance(cfg.name, str) or not cfg.name:
        raise ConfigError(f"config field name = {cfg.name!r} must be a non-empty string")
    _check_int(cfg, "seed", 0, 2**32 - 1)
    _check_choice(cfg, "dataset", DATASETS)
    _check_int(cfg, "n_inputs", 1, 4096)
    if not isinstance(cfg.hidden, tuple) or not 1 <= len(cfg.hidden) <= 4:
        raise ConfigError(f"config field hidden = {cfg.hidden!r} must list 1 to 4 layer sizes")
    for index, n in enumerate(cfg.hidden):
        _check_int(cfg, "hidden", 1, 4096, value=n, what=f"[{index}]")
    _check_int(cfg, "n_classes", 2, 64)
    _check_int(cfg, "pop", 1, 64)
    _check_int(cfg, "timesteps", 1, 256)
    _check_int(cfg, "weight_bits", 2, 18)
    _check_int(cfg, "weight_frac", 0, cfg.weight_bits - 2)
    _check_int(cfg, "membrane_bits", 8, 32)
    _check_int(cfg, "trace_bits", 2, 16)
    _check_int(cfg, "leak_shift", 1, cfg.membrane_bits - 1)
    _check_int(cfg, "trace_shift", 1, cfg.trace_bits)
    _check_int(cfg, "trace_amp", 1, cfg.x_max)
    _check_per_layer(cfg, "threshold", 1, cfg.v_max)
    _check_int(cfg, "readout_threshold", 1, cfg.v_max)
    _check_int(cfg, "boxcar_lo_q4", 0, 16)
    _check_int(cfg, "boxcar_hi_q4", cfg.boxcar_lo_q4 + 1, 32)
    w_fwd_max = cfg.w_max >> cfg.weight_frac
    _check_per_layer(cfg, "init_ff", 0, w_fwd_max)
    _check_per_layer(cfg, "init_rec", 0, w_fwd_max)
    _check_int(cfg, "init_out", 0, w_fwd_max)
    _check_float(cfg, "readout_density", 0.0, 1.0, lo_open=True)
    _check_float(cfg, "rewire_beta", 0.0, 1.0)
    _check_float(cfg, "target_rate", 0.0, 1.0, lo_open=True)
    _check_choice(cfg, "teaching", TEACHING_MODES)
    _check_int(cfg, "teach_margin", 0, cfg.pop * cfg.timesteps)
    _check_int(cfg, "mod_shift", 0, 16)
    _check_int(cfg, "mod_levels", 1, 127)
    _check_choice(cfg, "eligibility", ELIGIBILITY_MODES)
    _check_int(cfg, "lr_shift_out", 1, 30)
    _check_per_layer(cfg, "lr_shift_hidden", 1, 30)
    _check_int(cfg, "lr_decay_epochs", 0, 1000)
    _check_int(cfg, "epochs", 0, 10000)
    _check_int(cfg, "train_limit", 0, 10**7)
    _check_int(cfg, "test_limit", 0, 10**7)
    _check_int(cfg, "lanes", 1, 64)
    if cfg.lanes & (cfg.lanes - 1):
        raise ConfigError(f"config field lanes = {cfg.lanes!r} must be a power of two (1, 2, 4, ... 64)")
    _check_int(cfg, "cores", 1, min(32, *cfg.hidden))       # a core holds at least one neuron of every layer
    if cfg.cores & (cfg.cores - 1):
        raise ConfigError(f"config field cores = {cfg.cores!r} must be a power of two (1, 2, 4, ... 32)")
    _check_int(cfg, "weight_ports", 1, 2)
    if cfg.hash_stages not in (2, 3, 6):
        raise ConfigError(f"config field hash_stages = {cfg.hash_stages!r} must be 2, 3 or 6 (registers in the "
                          f"six-stage hash)")
    # Feasibility across fields.
    for layer, n_post in enumerate(cfg.hidden):
        if round(cfg.readout_density * n_post) < 1:
            raise ConfigError(
                f"config field readout_density = {cfg.readout_density!r} gives readout neurons no "
                f"input from hidden layer {layer} ({n_post} neurons): need readout_density ≥ "
                f"{1 / n_post:.4g}")
    # Exactness of float64 products: |Σ w·s| ≤ fan-in · max|w_fwd| must stay below 2^53.
    fan_in = max(cfg.layer_inputs(i) + cfg.hidden[i] for i in range(len(cfg.hidden)))
    fan_in = max(fan_in, sum(cfg.hidden))
    if fan_in * (w_fwd_max + 1) >= 2**53:
        raise ConfigError(f"fan-in {fan_in} × weight range {w_fwd_max} exceeds 2^53: float64 products "
                          f"would not be exact; reduce weight_bits or layer sizes")
    # The largest plasticity product must fit comfortably in int64.
    learn_max = cfg.n_classes * cfg.mod_levels * cfg.timesteps * cfg.timesteps * cfg.x_max
    if learn_max >= 2**62:
        raise ConfigError(f"plasticity products up to {learn_max} overflow int64; reduce timesteps "
                          f"or trace_bits")


def preset_path(name: str) -> Path:
    """Path of the preset ``name`` shipped with the package (``configs/NAME.toml``)."""
    if name not in PRESETS:
        raise ConfigError(f"unknown preset {name!r}; presets are: {', '.join(PRESETS)}")
    return Path(str(resources.files("modsnn.configs").joinpath(f"{name}.toml")))


def load_config(path_or_preset: str | Path, overrides: list[str] | None = None) -> Config:
    """Load a TOML file (or a preset name such as ``digits``) and apply ``FIELD=VALUE`` overrides."""
    path = Path(path_or_preset)
    if not path.exists():
        if str(path_or_preset) in PRESETS:
            path = preset_path(str(path_or_preset))
        else:
            raise ConfigError(f"configuration file {str(path_or_preset)!r} does not exist; give a TOML "
                              f"file or one of the presets: {', '.join(PRESETS)}")
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: not valid TOML: {error}") from None
    cfg = Config.from_mapping(data, source=str(path))
    return cfg.with_overrides(overrides) if overrides else cfg
