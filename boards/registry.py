"""The boards modsnn builds for, and everything a build needs to know about each.

=============  ===========================  ========  ============  ==========  =============  ========
board          device                       clock in  USB serial    preset      default clock  baud max
=============  ===========================  ========  ============  ==========  =============  ========
``icebreaker`` iCE40 UP5K (SG48)            12 MHz    FT2232H       icebreaker  24 MHz         3 Mbaud
``ulx3s-85f``  LFE5U-85F-6 (CABGA381)       25 MHz    FT231X        ecp5-85f    100 MHz        3 Mbaud
``ecpix5-85f`` LFE5UM5G-85F-8 (CABGA554)    100 MHz   FT2232        ecp5-85f    100 MHz        3 Mbaud
``orangecrab`` LFE5U-85F-8 (CSFBGA285)      48 MHz    none [#]_     ecp5-85f    96 MHz         3 Mbaud
=============  ===========================  ========  ============  ==========  =============  ========

.. [#] Build only: its USB goes to the FPGA; the UART is on header pins 0 (rx) and 1 (tx).

``baud`` is the fastest rate of the USB-serial chip; the build uses the fastest FTDI rate up to it
that the clock makes (:func:`modsnn.boards.top.uart_rate`). ``default_clock`` is a clock the
*current* RTL closes timing at on that board (measured: ``docs/boards.md``), so ``modsnn build
--board B`` succeeds end to end; ``target_clock`` is the clock the board is meant to run at once the
pipelined RTL lands (issue 8). ``--clock`` overrides. ``default_seed`` is the nextpnr placement
seed of that measurement (``--seed`` overrides).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from .devices import DEVICES, Device

__all__ = ["BOARDS", "Board", "LedPin", "board_named"]


@dataclasses.dataclass(frozen=True)
class LedPin:
    """A platform LED: resource ``name``/``number``, and the colour ``subsignal`` of an RGB LED."""

    name: str
    number: int
    subsignal: str | None = None


@dataclasses.dataclass(frozen=True)
class Board:
    """One board: platform, device facts, preset, clocks, UART and LEDs.

    ``platform`` builds the amaranth-boards platform (a factory, so importing the registry does
    not import every platform). ``uart`` is the platform resource of the USB-serial bridge
    (``None``: no bridge on the board); ``leds`` maps ``busy``, ``error`` and ``heartbeat`` to
    LEDs. ``programmer`` holds the openFPGALoader arguments naming the board's cable/board,
    ``None`` for a build-only board.
    """

    name: str
    title: str
    device: Device
    platform: Callable[[], Any]
    clock_in: float
    default_clock: float
    target_clock: float
    preset: str
    uart: tuple[str, int]
    usb_serial: str
    baud: int
    leds: dict[str, LedPin]
    programmer: tuple[str, ...] | None
    bitstream_suffix: str
    default_seed: int = 1

    @property
    def family(self) -> str:
        return self.device.family


def _icebreaker() -> Any:
    from amaranth_boards.icebreaker import ICEBreakerPlatform

    platform = ICEBreakerPlatform()
    platform.add_resources(platform.break_off_pmod)       # the five LEDs of the snap-off PMOD
    return platform


def _ulx3s_85f() -> Any:
    from amaranth_boards.ulx3s import ULX3S_85F_Platform

    return ULX3S_85F_Platform()


def _ecpix5_85f() -> Any:
    from amaranth_boards.ecpix5 import ECPIX585Platform

    return ECPIX585Platform()


def _orangecrab() -> Any:
    from amaranth.build import Attrs
    from amaranth_boards.orangecrab_r0_2 import OrangeCrabR0_2_85FPlatform
    from amaranth_boards.resources import UARTResource

    class OrangeCrab85F(OrangeCrabR0_2_85FPlatform):
        """Without the ``dfu-suffix`` step (not on PyPI; only needed to flash over USB DFU)."""

        @property
        def required_tools(self) -> list[str]:
            return [t for t in super().required_tools if t != "dfu-suffix"]

        @property
        def command_templates(self) -> list[str]:
            return [c for c in super().command_templates if "dfu-suffix" not in c]

    platform = OrangeCrab85F()
    platform.add_resources([UARTResource(0, rx="0", tx="1", conn=("io", 0), attrs=Attrs(IO_TYPE="LVCMOS33"))])
    return platform


MHZ = 1e6

BOARDS: dict[str, Board] = {b.name: b for b in (
    Board("icebreaker", "iCEBreaker", DEVICES["iCE40UP5K"], _icebreaker, clock_in=12 * MHZ,
          default_clock=24 * MHZ, target_clock=24 * MHZ, preset="icebreaker", uart=("uart", 0), default_seed=4,
          usb_serial="FT2232H", baud=3_000_000,
          leds={"busy": LedPin("led_g", 0), "error": LedPin("led_r", 0), "heartbeat": LedPin("led_g", 1)},
          programmer=("-b", "ice40_generic"), bitstream_suffix="bin"),
    Board("ulx3s-85f", "ULX3S-85F", DEVICES["LFE5U-85F"], _ulx3s_85f, clock_in=25 * MHZ,
          default_clock=100 * MHZ, target_clock=100 * MHZ, preset="ecp5-85f", uart=("uart", 0), default_seed=4,
          usb_serial="FT231X", baud=3_000_000,
          leds={"busy": LedPin("led", 0), "error": LedPin("led", 1), "heartbeat": LedPin("led", 7)},
          programmer=("-b", "ulx3s"), bitstream_suffix="bit"),
    Board("ecpix5-85f", "ECPIX-5-85F", DEVICES["LFE5UM5G-85F"], _ecpix5_85f, clock_in=100 * MHZ,
          default_clock=100 * MHZ, target_clock=100 * MHZ, preset="ecp5-85f", uart=("uart", 0),
          usb_serial="FT2232", baud=3_000_000,
          leds={"busy": LedPin("rgb_led", 0, "g"), "error": LedPin("rgb_led", 0, "r"),
                "heartbeat": LedPin("rgb_led", 1, "b")},
          programmer=("-b", "ecpix5"), bitstream_suffix="bit"),
    Board("orangecrab", "OrangeCrab r0.2 85F (build only)", DEVICES["LFE5U-85F"], _orangecrab, clock_in=48 * MHZ,
          default_clock=96 * MHZ, target_clock=96 * MHZ, preset="ecp5-85f", uart=("uart", 0),
          usb_serial="none (UART on header pins 0/1)", baud=3_000_000,
          leds={"busy": LedPin("rgb_led", 0, "g"), "error": LedPin("rgb_led", 0, "r"),
                "heartbeat": LedPin("rgb_led", 0, "b")},
          programmer=None, bitstream_suffix="bit"),
)}


def board_named(name: str) -> Board:
    """The board called ``name``; :class:`KeyError` with the list of boards otherwise."""
    try:
        return BOARDS[name]
    except KeyError:
        raise KeyError(f"unknown board {name!r}; boards are: {', '.join(BOARDS)}") from None
