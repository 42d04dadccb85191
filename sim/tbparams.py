"""Testbench parameters, passed from pytest through the environment.

``MODSNN_TB_CONFIG`` (preset or TOML path), ``MODSNN_TB_SET`` (JSON list of ``FIELD=VALUE``
overrides), ``MODSNN_TB_SAMPLES`` and ``MODSNN_TB_GOLDEN_SET`` (overrides applied to the golden
model only: a deliberately wrong golden parameter must make every comparison fail).
"""

from __future__ import annotations

import json
import os

from ..golden_model.config import Config, load_config

__all__ = ["golden_config", "tb_env", "tb_params"]


def tb_params(default_samples: int) -> tuple[Config, int]:
    cfg = load_config(os.environ.get("MODSNN_TB_CONFIG", "tiny"), json.loads(os.environ.get("MODSNN_TB_SET", "[]")))
    return cfg, int(os.environ.get("MODSNN_TB_SAMPLES", str(default_samples)))


def golden_config(cfg: Config) -> Config:
    overrides = json.loads(os.environ.get("MODSNN_TB_GOLDEN_SET", "[]"))
    return cfg.with_overrides(overrides) if overrides else cfg


def tb_env(preset: str, overrides: list[str], samples: int, golden_overrides: list[str] | None = None
           ) -> dict[str, str]:
    """The environment that passes these parameters to a testbench."""
    return {"MODSNN_TB_CONFIG": preset, "MODSNN_TB_SET": json.dumps(overrides), "MODSNN_TB_SAMPLES": str(samples),
            "MODSNN_TB_GOLDEN_SET": json.dumps(golden_overrides or [])}
