"""The configuration object: presets, validation messages, overrides, hashing, TOML round trip."""

from __future__ import annotations

import dataclasses
import hashlib
import json

import pytest

from modsnn.golden_model.config import PRESETS, Config, ConfigError, load_config


@pytest.mark.parametrize("name", PRESETS)
def test_presets_load_and_round_trip(name: str, tmp_path) -> None:
    cfg = load_config(name)
    assert cfg.name == name
    path = tmp_path / "c.toml"
    path.write_text(cfg.to_toml())
    again = load_config(path)
    assert again == cfg
    assert again.hash() == cfg.hash()


def test_config_is_frozen() -> None:
    cfg = Config()
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.seed = 3  # type: ignore[misc]


@pytest.mark.parametrize(("changes", "message"), [
    ({"leak_shift": 0}, "config field leak_shift = 0 is out of range: must be an integer in [1, 15]"),
    ({"weight_bits": 40}, "config field weight_bits = 40 is out of range: must be an integer in [2, 18]"),
    ({"weight_frac": 11}, "config field weight_frac = 11 is out of range: must be an integer in [0, 10]"),
    ({"lanes": 3}, "config field lanes = 3 must be a power of two"),
    ({"eligibility": "dense"}, "config field eligibility = 'dense' is not one of 'factored', 'synaptic'"),
    ({"readout_density": 0.0}, "config field readout_density = 0.0 is out of range: must be a number in (0.0, 1.0]"),
    ({"readout_density": 0.001}, "gives readout neurons no input from hidden layer 0"),
    ({"threshold": (1, 2)}, "config field threshold = (1, 2) must have one entry per hidden layer"),
    ({"threshold": (40000,)}, "config field threshold[0] = 40000 is out of range"),
    ({"hidden": ()}, "config field hidden = () must list 1 to 4 layer sizes"),
    ({"cores": 200}, "config field cores = 200 is out of range: must be an integer in [1, 32]"),
    ({"trace_amp": 300}, "config field trace_amp = 300 is out of range: must be an integer in [1, 255]"),
    ({"boxcar_hi_q4": 2}, "config field boxcar_hi_q4 = 2 is out of range: must be an integer in [3, 32]"),
    ({"dataset": "cifar"}, "config field dataset = 'cifar' is not one of"),
    ({"teaching": "wta"}, "config field teaching = 'wta' is not one of 'v1', 'margin'"),
    ({"seed": -1}, "config field seed = -1 is out of range"),
    ({"hash_stages": 4}, "config field hash_stages = 4 must be 2, 3 or 6 (registers in the six-stage hash)"),
])
def test_invalid_fields_name_field_value_and_range(changes: dict, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        Config(**changes)
    assert message in str(info.value)


def test_unknown_field_and_bad_types(tmp_path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("leek_shift = 3\n")
    with pytest.raises(ConfigError, match="unknown field\\(s\\) 'leek_shift'"):
        load_config(path)
    path.write_text("learn_hidden = 1\n")
    with pytest.raises(ConfigError, match="field 'learn_hidden' must be true or false"):
        load_config(path)
    path.write_text("hidden = [\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(path)
    with pytest.raises(ConfigError, match="does not exist; give a TOML file or one of the presets"):
        load_config(tmp_path / "missing.toml")


def test_overrides() -> None:
    cfg = load_config("digits", ["readout_density=0.05", "seed=7", "eligibility=synaptic", "hidden=[64]",
                                 "threshold=[20]", "init_ff=[8]", "init_rec=[2]", "lr_shift_hidden=[12]"])
    assert cfg.readout_density == 0.05 and cfg.seed == 7 and cfg.eligibility == "synaptic"
    assert cfg.hidden == (64,) and cfg.threshold == (20,)
    with pytest.raises(ConfigError, match="expected FIELD=VALUE"):
        load_config("digits", ["readout_density"])
    with pytest.raises(ConfigError, match="unknown field 'density'"):
        load_config("digits", ["density=0.1"])


def test_hash_changes_with_any_field() -> None:
    a = Config()
    assert a.hash() == Config().hash()
    assert a.hash() != Config(seed=2).hash()
    assert len(a.hash()) == 16


def test_derived_quantities() -> None:
    cfg = Config(weight_bits=12, membrane_bits=16, trace_bits=8, pop=10, timesteps=16, target_rate=0.25,
                 threshold=(32,))
    assert cfg.w_max == 2047 and cfg.v_min == -32768 and cfg.v_max == 32767 and cfg.x_max == 255
    assert cfg.target_count == 40 and cfg.n_readout == 100
    assert cfg.boxcar(0) == (16, 48)
    assert cfg.eligibility_shift == 4 and Config(eligibility="synaptic").eligibility_shift == 0


def test_mnist_ecp5_is_the_mnist_network_narrowed_for_the_ecp5() -> None:
    """What the preset's header says differs from `mnist`, and nothing else."""
    ecp5 = load_config("mnist-ecp5")
    narrowed = load_config("mnist").replace(
        name="mnist-ecp5", hidden=(240,), weight_bits=9, weight_frac=3, readout_density=0.25,
        lr_shift_out=11, lr_shift_hidden=(14,), lanes=16)
    assert ecp5 == narrowed
    # the forward rates of `mnist`: stored LSB · 2^-(lr_shift + weight_frac) is unchanged
    assert ecp5.lr_shift_out + ecp5.weight_frac == 10 + 4 and ecp5.lr_shift_hidden[0] + ecp5.weight_frac == 13 + 4


def test_hash_stages_default_keeps_the_hash() -> None:
    """``hash_stages`` and ``memory_delays`` enter the hash only when they are not their defaults (6,
    false: the configurations before them keep theirs)."""
    cfg = Config()
    assert "hash_stages" in cfg.to_dict() and cfg.replace(hash_stages=2).hash() != cfg.hash()
    assert "memory_delays" in cfg.to_dict() and cfg.replace(memory_delays=True).hash() != cfg.hash()
    blob = json.dumps({k: v for k, v in cfg.to_dict().items() if k not in ("hash_stages", "memory_delays")},
                      sort_keys=True, separators=(",", ":"))
    assert cfg.hash() == hashlib.sha256(blob.encode()).hexdigest()[:16]
