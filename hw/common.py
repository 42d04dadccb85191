"""Helpers shared by the components: parameter checks that fail with a clear message."""

from __future__ import annotations

from ..golden_model.config import Config

__all__ = ["check_rtl_config", "rejected"]


def rejected(component: object, error: Exception) -> Exception:
    """Mark a component whose constructor rejected its parameters as intentionally unused
    (Amaranth warns about elaboratables that are never elaborated), and return ``error``."""
    component._MustUse__silence = True  # type: ignore[attr-defined]
    return error


def check_rtl_config(component: object, cfg: object) -> Config:
    """``cfg`` if the RTL implements it, else raise (marking ``component`` rejected).

    The RTL implements one hidden layer, one core per population, factored eligibility and
    population sizes that are multiples of ``lanes``; every other choice is reported by name.
    """
    if not isinstance(cfg, Config):
        raise rejected(component, TypeError(f"cfg must be a modsnn Config, not {cfg!r}"))
    problems = []
    if cfg.n_hidden_layers != 1:
        problems.append(f"hidden = {list(cfg.hidden)} has {cfg.n_hidden_layers} layers; the RTL implements 1")
    if cfg.cores != 1:
        problems.append(f"cores = {cfg.cores}; the RTL implements 1 core per population so far (set cores=1)")
    if cfg.eligibility != "factored":
        problems.append(f"eligibility = {cfg.eligibility!r}; the RTL implements 'factored'")
    for what, n in (("hidden[0]", cfg.hidden[0]), ("n_readout", cfg.n_readout), ("n_inputs", cfg.n_inputs)):
        if n % cfg.lanes:
            problems.append(f"{what} = {n} is not a multiple of lanes = {cfg.lanes}")
    if problems:
        raise rejected(component, ValueError("configuration not supported by the RTL: " + "; ".join(problems)))
    return cfg
