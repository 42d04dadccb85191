"""The UART of the host link: receiver and transmitter against a bit-level line model, with the
baud rate off by up to ±1.5 %, random gaps and back-pressure; divisor validation."""

from __future__ import annotations

import pytest

from modsnn.hw.link.uart import UartRx, UartTx, baud_divisor
from modsnn.sim.link_harness import UartHarness, run_link_bench
from modsnn.sim.runner import icarus_available


@pytest.mark.parametrize(("divisor", "skew"), [
    (4, 0.015),
    pytest.param(7, -0.015, marks=pytest.mark.slow),
    pytest.param(16, 0.015, marks=pytest.mark.slow),
])
def test_uart(divisor: int, skew: float) -> None:
    run_link_bench("uart", lambda: UartHarness(divisor), {"divisor": divisor},
                   env={"MODSNN_TB_DIVISOR": str(divisor), "MODSNN_TB_SKEW": str(skew), "MODSNN_TB_SAMPLES": "48"})


@pytest.mark.icarus
def test_uart_icarus() -> None:
    if not icarus_available():
        pytest.skip("Icarus Verilog is not installed: apt-get install iverilog")
    run_link_bench("uart", lambda: UartHarness(5), {"divisor": 5}, simulator="icarus",
                   env={"MODSNN_TB_DIVISOR": "5", "MODSNN_TB_SKEW": "-0.015", "MODSNN_TB_SAMPLES": "16"})


@pytest.mark.parametrize(("clock", "baud", "divisor"), [
    (12_000_000, 3_000_000, 4), (25_000_000, 115_200, 217), (96_000_000, 12_000_000, 8), (48_000_000, 3_000_000, 16),
])
def test_baud_divisor(clock: int, baud: int, divisor: int) -> None:
    assert baud_divisor(clock, baud) == divisor


@pytest.mark.parametrize(("clock", "baud", "error", "message"), [
    (25_000_000, 3_000_000, ValueError,
     r"baud 3000000 at clock 25000000 Hz: the nearest divisor 8 gives 3125000 baud, an error of 4\.17% "
     r"\(must be below 2%\)"),
    (12_000_000, 6_000_000, ValueError,
     r"baud 6000000 at clock 12000000 Hz is 2\.00 clock cycles per bit; the UART needs at least 4"),
    (12_000_000, 0, TypeError, "baud must be a positive integer, not 0"),
    (12e6, 115200, TypeError, "clock_hz must be a positive integer, not 12000000.0"),
])
def test_baud_divisor_refused(clock: int, baud: int, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        baud_divisor(clock, baud)


@pytest.mark.parametrize("block", [UartRx, UartTx])
@pytest.mark.parametrize("divisor", [3, 4.0, True])
def test_divisor_refused(block: type, divisor: object) -> None:
    with pytest.raises(ValueError, match=f"divisor must be an integer ≥ 4, not {divisor!r}"):
        block(divisor)
