"""Samples per second over the host link, beside the accelerator's own rate (``modsnn link-rate``).

Per training sample in steady state (the driver keeps ``slots`` ≥ 2 requests outstanding, so the
board receives the next sample while it runs the current one):

* **link**: the request (``END | SLIP(header | SAMPLE args | n_inputs bytes | CRC) | END``) and the
  reply (with the cycle counters, as ``modsnn sim --link`` asks) each take 10 bit times per byte,
  in opposite directions: ``1 / max(request, reply)``. Frame sizes are measured on real samples of
  the configuration's dataset with the real encoder.
* **accelerator**: the mean cycles of a training sample from the cycle model
  (:func:`~modsnn.golden_model.cycles.sample_cycles`, exact for the RTL) plus the link's own cycles per
  sample on the board (parse, checks, ``3·n_inputs + ``:data:`BOARD_OVERHEAD` for writing the inputs and
  reading the reply registers, and the reply's time on the line: the command layer hands its
  reply to the UART byte by byte before it takes the next request, ``10·divisor`` cycles per wire
  byte but the last :data:`REPLY_AHEAD`), at the accelerator's clock.
* **through the link**: the smaller of the two. What the host adds — USB latency (an FTDI chip
  holds received bytes up to its latency timer, 16 ms by default, 1 ms at best) — is not modelled:
  it is hidden as long as ``slots`` samples outlast one round trip.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..golden_model.config import Config, load_config
from ..golden_model.cycles import CycleCosts, sample_cycles
from ..golden_model.data import load_dataset
from ..golden_model.network import Network
from ..hw.control_port import Command
from ..hw.link.protocol import Opcode, Status, request_body, sample_args
from ..hw.link.uart import baud_divisor
from .driver import encode_frame

__all__ = ["BOARDS", "BOARD_OVERHEAD", "REPLY_AHEAD", "BoardLink", "LinkRate", "link_rate", "print_link_rates"]

BOARD_OVERHEAD = 64
"""Cycles of the command layer per SAMPLE besides writing the inputs (3 per input): parsing and
checking the request, writing LABEL and COMMAND, reading COMMAND, the prediction and 4 cycle
counters, with bus read latency 1 (measured in ``modsnn sim --link``: see docs/protocol.md)."""


REPLY_AHEAD = 5
"""Wire bytes of a reply still to be sent when the command layer is done with it: its last data
byte (waiting in the reply register), the two CRC bytes, END, and the byte the UART is sending
(measured in ``modsnn sim --link``: ``tests/test_link_system.py``)."""


@dataclasses.dataclass(frozen=True)
class BoardLink:
    """A board's serial link as the projection assumes it: its baud rate at the clock its bitstream
    runs at, and the preset it is built with."""

    name: str
    usb_serial: str
    baud: int
    clock_hz: int
    note: str
    preset: str = ""


def _board_link(name: str, note: str) -> BoardLink:
    """The link of registry board ``name``: its baud rate and preset, at its default clock (the
    clock ``modsnn build`` makes its bitstream for, and that the UART divisor is computed from)."""
    from .registry import BOARDS as REGISTRY

    board = REGISTRY[name]
    return BoardLink(name, board.usb_serial, board.baud, round(board.default_clock), note, board.preset)


BOARDS = (
    _board_link("icebreaker", "3 Mbaud at the board's 24 MHz clock (divisor 8); the FT2232H could do 12 Mbaud "
                "from 48 MHz"),
    _board_link("ulx3s-85f", "3 Mbaud (the FT231X's maximum) at the board's 100 MHz clock (divisor 33, "
                "+1.0 % baud error)"),
    _board_link("ecpix5-85f", "3 Mbaud at the board's 100 MHz clock (divisor 33, +1.0 %); the FT2232 could go "
                "faster"),
)


@dataclasses.dataclass(frozen=True)
class LinkRate:
    config: str
    n_inputs: int
    request_bytes: float                     # mean wire bytes of a training SAMPLE request (with its two ENDs)
    reply_bytes: float                       # ... of its reply (with cycle counters; one delimiter)
    cycles_per_sample: float                 # accelerator, training, from the cycle model
    board_cycles_per_sample: float           # plus the link's own work on the board
    baud: int
    clock_hz: int

    @property
    def link_samples_per_second(self) -> float:
        return self.baud / (10 * max(self.request_bytes, self.reply_bytes))

    @property
    def accelerator_samples_per_second(self) -> float:
        return self.clock_hz / self.cycles_per_sample

    @property
    def board_samples_per_second(self) -> float:
        return self.clock_hz / self.board_cycles_per_sample

    @property
    def samples_per_second(self) -> float:
        """Through the link: the slower of the line and the board."""
        return min(self.link_samples_per_second, self.board_samples_per_second)

    @property
    def limited_by(self) -> str:
        return "link" if self.link_samples_per_second < self.board_samples_per_second else "accelerator"


def link_rate(cfg: Config, *, baud: int, clock_hz: int, samples: int = 30) -> LinkRate:
    """The :class:`LinkRate` of ``cfg`` at ``baud`` and ``clock_hz``, averaged over ``samples``
    training samples of its dataset."""
    baud_divisor(clock_hz, baud)                      # refuses a clock that cannot make the baud rate
    data = load_dataset(cfg.dataset, "train", cfg.data_dir or None)
    net = Network(cfg)
    requests, replies, cycles = [], [], []
    for u, label in zip(data.x[:samples], data.y[:samples], strict=True):
        requests.append(len(encode_frame(request_body(Opcode.SAMPLE, 1, sample_args(Command.TRAIN, int(label),
                                                                                      cycles=True),
                                                      np.asarray(u, np.uint8).tobytes()))))
        fwd, report = net.train_step(u, int(label))
        c = sample_cycles(cfg, fwd, report=report)
        decide = cfg.n_classes + CycleCosts().decide_overhead
        registers = [c.integration, c.sweep - decide, decide, c.plasticity]
        payload = bytes([0, int(fwd.prediction[0])]) + b"".join(v.to_bytes(4, "little") for v in registers)
        replies.append(len(encode_frame(bytes([Opcode.SAMPLE.value, 1, Status.OK.value]) + payload)) - 1)
        cycles.append(c.total)
    mean, reply = float(np.mean(cycles)), float(np.mean(replies))
    on_the_line = 10 * baud_divisor(clock_hz, baud) * max(0.0, reply - REPLY_AHEAD)
    return LinkRate(cfg.name, cfg.n_inputs, float(np.mean(requests)), reply, mean,
                    mean + 3 * cfg.n_inputs + BOARD_OVERHEAD + on_the_line, baud, clock_hz)


def print_link_rates(boards: Sequence[BoardLink], configs: Sequence[str] | None, *, samples: int = 30,
                     as_json: bool = False, stream: Any = None) -> None:
    """The table of ``modsnn link-rate``: every board × configuration (preset or TOML file); with no
    ``configs``, each board's own preset and the MNIST-sized ``mnist`` (784 inputs: the longest frames)."""
    stream = stream or sys.stdout
    rows = [(board, link_rate(load_config(name), baud=board.baud, clock_hz=board.clock_hz, samples=samples))
            for board in boards for name in (configs or [board.preset or "tiny", "mnist"])]
    if as_json:
        print(json.dumps([{"board": b.name, "config": r.config, "baud": r.baud, "clock_hz": r.clock_hz,
                           "request_bytes": r.request_bytes, "reply_bytes": r.reply_bytes,
                           "link_samples_per_second": r.link_samples_per_second,
                           "accelerator_samples_per_second": r.accelerator_samples_per_second,
                           "samples_per_second": r.samples_per_second, "limited_by": r.limited_by}
                          for b, r in rows]), file=stream)
        return
    print(f"{'board':<11} {'baud':>9} {'clock':>8} {'config':<10} {'inputs':>6} {'request':>8} {'reply':>6} "
          f"{'link/s':>8} {'accel/s':>9} {'through/s':>9}  limited by", file=stream)
    for board, r in rows:
        print(f"{board.name:<11} {r.baud:>9,} {r.clock_hz / 1e6:>6g}M {r.config:<8} {r.n_inputs:>6} "
              f"{r.request_bytes:>7.0f}B {r.reply_bytes:>5.0f}B {r.link_samples_per_second:>8,.0f} "
              f"{r.accelerator_samples_per_second:>9,.1f} {r.samples_per_second:>9,.1f}  {r.limited_by}", file=stream)
    print("training samples (reply with cycle counters); link/s = baud / (10 bits × the larger frame), accel/s = "
          "clock / cycle-model cycles, through/s adds the link's board-side cycles (docs/protocol.md)", file=stream)
    for board in boards:
        if board.note:
            print(f"  {board.name}: {board.usb_serial}, {board.note}", file=stream)
