"""Configuration presets (TOML); see :mod:`modsnn.golden_model.config`."""
