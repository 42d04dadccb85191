"""`modsnn board train|eval` without a board: a pseudo-terminal stands in for the USB serial port.

The session body itself (:mod:`modsnn.boards.session`) is what ``modsnn sim --link`` runs against
the RTL (``tests/test_link_system.py``); here the command line's errors: no port, a silent board, a
board built from another configuration, bad arguments. Each is one line and a non-zero exit,
within the timeout.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator

import numpy as np
import pytest
import sliplib

from modsnn.boards.session import board_network, eval_session
from modsnn.cli import main
from modsnn.golden_model.config import Config, load_config
from modsnn.golden_model.data import Dataset
from modsnn.golden_model.network import Network
from modsnn.hw.link.protocol import SLIP_END, Opcode, Status, crc16, identity_bytes, link_limits

END = bytes([SLIP_END])


class PtyBoard:
    """A pseudo-terminal whose far end answers every request frame with ``answer(body)`` (or not)."""

    def __init__(self, answer: object) -> None:
        self.master, slave = os.openpty()
        self.port = os.ttyname(slave)
        self._slave = slave
        self.answer = answer
        self.requests: list[bytes] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        import select

        buf = b""
        while not self._stop.is_set():
            ready, _, _ = select.select([self.master], [], [], 0.05)
            if not ready:
                continue
            buf += os.read(self.master, 4096)
            *frames, buf = buf.split(END)
            for frame in filter(None, frames):
                body = sliplib.decode(frame)[:-2]
                self.requests.append(body)
                if callable(self.answer) and (reply := self.answer(body)) is not None:
                    os.write(self.master, sliplib.encode(reply + crc16(reply).to_bytes(2, "big")) + END)

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        os.close(self.master)
        os.close(self._slave)


@pytest.fixture
def pty_board() -> Iterator[type[PtyBoard]]:
    boards: list[PtyBoard] = []

    def make(answer: object) -> PtyBoard:
        boards.append(PtyBoard(answer))
        return boards[-1]

    yield make  # type: ignore[misc]
    for board in boards:
        board.close()


def test_missing_port(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["board", "train", "--board", "icebreaker", "--port", "/dev/modsnn-missing"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("modsnn: error: serial port /dev/modsnn-missing not found") and "\n" not in err


def test_silent_board_times_out(pty_board: type[PtyBoard], capsys: pytest.CaptureFixture[str]) -> None:
    board = pty_board(None)
    started = time.perf_counter()
    assert main(["board", "eval", "--board", "icebreaker", "--port", board.port, "--timeout", "0.3"]) == 1
    assert time.perf_counter() - started < 5
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("modsnn: error: no reply from the board within 0.3 s on " + board.port)
    assert "is the board programmed (`modsnn flash --board icebreaker`)" in err
    assert board.requests and board.requests[-1][0] == Opcode.IDENTIFY.value   # it did ask


def test_board_of_another_configuration(pty_board: type[PtyBoard], capsys: pytest.CaptureFixture[str]) -> None:
    other = load_config("tiny")
    ident = identity_bytes(other, link_limits(other), clock_hz=12_000_000, divisor=4, read_latency=1)

    def answer(body: bytes) -> bytes | None:
        return bytes([body[0], body[1], Status.OK.value]) + ident if body[0] == Opcode.IDENTIFY.value else None

    board = pty_board(answer)
    expected = load_config("icebreaker")
    assert main(["board", "train", "--board", "icebreaker", "--port", board.port, "--timeout", "1"]) == 1
    err = capsys.readouterr().err.strip()
    assert err == (f"modsnn: error: the board was built from configuration {other.hash()}, not {expected.hash()} "
                   f"('icebreaker'); rebuild it or pass its configuration")


@pytest.mark.parametrize(("args", "message"), [
    (["train", "--samples", "0"], "--samples must be ≥ 1, not 0"),
    (["eval", "--test-samples", "999999"], "--test-samples 999999: the digits test split has 360 samples"),
    (["eval", "--run", "/nonexistent-run"], "/nonexistent-run is not a modsnn run folder"),
    (["train", "--board", "nosuch"], "nosuch"),
    (["train", "--config", "nosuch"], "configuration file 'nosuch' does not exist"),
])
def test_bad_arguments(args: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["board", args[0], "--board", "icebreaker", "--port", "/dev/modsnn-missing", *args[1:]]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("modsnn: error:") and message in err and "\n" not in err


class GoldenBoard:
    """A driver stand-in whose "board" is a golden network: what eval_session sees from a correct board."""

    def __init__(self, net: Network, cfg: Config, corrupt: int | None = None) -> None:
        self.net, self.cfg, self.corrupt = net, cfg, corrupt

    def run_batch(self, samples: Iterator[tuple[np.ndarray, int, bool]], *, cycles: bool = False) -> Iterator[object]:
        from modsnn.golden_model.cycles import sample_cycles
        from modsnn.hw.link.protocol import SampleReply

        for i, (u, _, _) in enumerate(samples):
            fwd = self.net.forward(np.asarray(u)[None], learning=False)
            prediction = int(fwd.prediction[0]) if i != self.corrupt else (int(fwd.prediction[0]) + 1) % 10
            yield SampleReply(busy=False, refused=False, prediction=prediction, cycles=sample_cycles(self.cfg, fwd),
                              counts=None, levels=None)

    def read_weights(self) -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]]:
        return self.net.ff, self.net.rec, self.net.out

    def sample_counter(self) -> int:
        return self.net.updates


@pytest.mark.parametrize("corrupt", [None, 3])
def test_eval_session_checks_every_prediction(tiny: Config, corrupt: int | None) -> None:
    net = Network(tiny)
    rng = np.random.default_rng(5)
    test = Dataset("synthetic", "test", rng.integers(0, 256, (8, tiny.n_inputs), dtype=np.uint8),
                   rng.integers(0, 10, 8).astype(np.int64))
    board = GoldenBoard(net, tiny, corrupt)
    assert np.array_equal(board_network(board, tiny).ff[0], net.ff[0])  # type: ignore[arg-type]
    result = eval_session(board, tiny, net, test, 8)  # type: ignore[arg-type]
    assert result["bit_exact"] == (corrupt is None)
    if corrupt is not None:
        assert result["mismatches"] and result["mismatches"][0].startswith("test sample 3: prediction")

