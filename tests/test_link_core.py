"""The framing and command layers of the host link on a model control port: every request class,
every refusal class (checked against the reference `check_request`), read latencies 1–3, 2 and 4
receive buffers, random idle and back-pressure; constructor validation."""

from __future__ import annotations

import pytest

from modsnn.golden_model.config import load_config
from modsnn.hw.link import HostLink, LinkCore
from modsnn.sim.link_harness import CoreHarness, run_link_bench
from modsnn.sim.tbparams import tb_env


@pytest.mark.parametrize(("overrides", "latency", "slots"), [
    ([], 1, 2),
    (["lanes=2"], 2, 4),
    pytest.param(["lanes=4", "readout_density=0.3"], 3, 2, marks=pytest.mark.slow),
])
def test_link_core(overrides: list[str], latency: int, slots: int) -> None:
    cfg = load_config("tiny", overrides)
    env = tb_env("tiny", overrides, 30) | {"MODSNN_TB_LATENCY": str(latency), "MODSNN_TB_SLOTS": str(slots)}
    run_link_bench("core", lambda: CoreHarness(cfg, latency, slots), {"cfg": cfg.hash(), "latency": latency,
                                                                        "slots": slots}, env=env)


@pytest.mark.parametrize(("kwargs", "error", "message"), [
    ({"cfg": "tiny"}, TypeError, "cfg must be a modsnn Config, not 'tiny'"),
    ({"bus_read_latency": 0}, ValueError, "bus_read_latency must be an integer ≥ 1, not 0"),
    ({"slots": 3}, ValueError, "slots must be a power of two ≥ 2, not 3"),
    ({"baud": 3_000_000, "clock_hz": 25_000_000}, ValueError,
     "baud 3000000 at clock 25000000 Hz: the nearest divisor 8 gives 3125000 baud, an error of 4.17%"),
])
def test_host_link_parameters(kwargs: dict, error: type, message: str) -> None:
    args = {"cfg": load_config("tiny"), "clock_hz": 12_000_000, "baud": 3_000_000} | kwargs
    cfg = args.pop("cfg")
    with pytest.raises(error, match=message.replace("(", r"\(").replace(")", r"\)")):
        HostLink(cfg, **args)


def test_link_core_parameters() -> None:
    with pytest.raises(ValueError, match="bus_read_latency must be an integer ≥ 1, not True"):
        LinkCore(load_config("tiny"), clock_hz=12_000_000, divisor=4, bus_read_latency=True)
