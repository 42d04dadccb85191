"""The host side of the link without a simulator: protocol images, the reference checks, the
driver's error handling (one line each, never a hang) and `modsnn link-rate`."""

from __future__ import annotations

import collections
import json

import pytest
import sliplib

from modsnn.boards.driver import (
    END,
    BoardDriver,
    ConfigurationMismatch,
    LinkError,
    LinkTimeout,
    RequestRefused,
    SerialTransport,
    encode_frame,
)
from modsnn.cli import main
from modsnn.golden_model.config import Config, load_config
from modsnn.hw.control_port import Command, Csr
from modsnn.hw.formats import Region
from modsnn.hw.link.protocol import (
    BLOCK_ARGS,
    SLIP_END,
    SLIP_ESC,
    SLIP_ESC_END,
    SLIP_ESC_ESC,
    Identity,
    Opcode,
    SampleReply,
    Status,
    block_args,
    check_request,
    crc16,
    identity_bytes,
    link_limits,
    request_body,
    sample_args,
    unpack,
)
from modsnn.hw.memory_map import address_windows, mmio_address


class CannedBoard:
    """A Transport that answers each request with the next canned reply body (or silence)."""

    def __init__(self, replies: list[bytes | None]) -> None:
        self.replies = collections.deque(replies)
        self.sent: list[bytes] = []
        self.pending = b""

    def write(self, data: bytes) -> None:
        self.sent.append(data)
        if data.strip(END) and self.replies:
            body = self.replies.popleft()
            if body is not None:                       # a board's reply: a trailing END only
                self.pending += sliplib.encode(body + crc16(body).to_bytes(2, "big")) + END

    def read(self, timeout: float) -> bytes:
        data, self.pending = self.pending, b""
        return data

    def close(self) -> None:
        pass


def reply(opcode: Opcode, seq: int, status: Status = Status.OK, payload: bytes = b"") -> bytes:
    return bytes([opcode.value, seq, status.value]) + payload


def test_frame_images(tiny: Config) -> None:
    body = request_body(Opcode.READ, 7, block_args(0x1234, 3, 2, True))
    assert body == bytes([3, 7, 0x34, 0x12, 0, 0, 3, 0, 0x81])
    args = unpack(BLOCK_ARGS, body[2:])
    assert (int(args.address), int(args.count), int(args.format.size), int(args.format.signed)) == (0x1234, 3, 1, 1)
    wire = encode_frame(body)
    assert wire[0] == SLIP_END and wire[-1] == SLIP_END and SLIP_END not in wire[1:-1]
    assert sliplib.decode(wire[1:-1]) == body + crc16(body).to_bytes(2, "big")
    # END and ESC in the body are escaped: header, arguments and payload of END/ESC bytes
    body = request_body(Opcode.WRITE, SLIP_END, block_args(0xDBC0, 1, 1), bytes([SLIP_ESC]))
    assert body == bytes([4, 0xC0, 0xC0, 0xDB, 0, 0, 1, 0, 0, 0xDB])
    crc = crc16(body).to_bytes(2, "big")
    escaped = {SLIP_END: bytes([SLIP_ESC, SLIP_ESC_END]), SLIP_ESC: bytes([SLIP_ESC, SLIP_ESC_ESC])}
    assert encode_frame(body) == END + b"".join(escaped.get(b, bytes([b])) for b in body + crc) + END
    assert encode_frame(body)[1:4] == bytes([4, SLIP_ESC, SLIP_ESC_END])
    assert sample_args(Command.TRAIN, 4, cycles=True, levels=True) == bytes([2, 4, 0b101])
    with pytest.raises(ValueError, match="expected 7 bytes, not 6"):
        unpack(BLOCK_ARGS, bytes(6))


def test_identity_round_trip(tiny: Config) -> None:
    limits = link_limits(tiny, 4)
    identity = Identity.from_bytes(identity_bytes(tiny, limits, clock_hz=12_000_000, divisor=4, read_latency=1))
    assert identity.config_hash == tiny.hash() and identity.slots == 4 and identity.baud == 3_000_000
    assert (identity.n_inputs, identity.hidden, identity.lanes, identity.slot_bytes) == (64, (32,), 1, 256)
    deep = load_config("tiny", ["hidden=[32, 16, 8]", "threshold=[32, 24, 24]", "init_ff=[16, 16, 16]",
                                "init_rec=[4, 4, 4]", "lr_shift_hidden=[12, 12, 12]", "cores=2"])
    identity = Identity.from_bytes(identity_bytes(deep, link_limits(deep), clock_hz=12_000_000, divisor=4,
                                                  read_latency=5))
    assert (identity.hidden, identity.layers, identity.cores, identity.read_latency) == ((32, 16, 8), 3, 2, 5)
    with pytest.raises(ValueError, match="not a modsnn board: magic 0x00000000"):
        Identity.from_bytes(bytes(len(identity_bytes(tiny, limits, clock_hz=1, divisor=1, read_latency=1))))


def test_link_limits() -> None:
    assert link_limits(load_config("mnist")).slot_bytes == 1024
    with pytest.raises(ValueError, match="slots must be a power of two ≥ 2, not 3"):
        link_limits(load_config("tiny"), 3)


def test_sample_reply(tiny: Config) -> None:
    limits = link_limits(tiny)
    raw = bytes([0b10, 7]) + b"".join(v.to_bytes(4, "little") for v in (100, 20, 11, 5)) + bytes(range(10)) + \
        bytes([0xFF] * 10)
    r = SampleReply.from_bytes(raw, limits, True, True, True)
    assert (r.refused, r.busy, r.prediction) == (True, False, 7)
    assert r.cycles is not None and (r.cycles.integration, r.cycles.sweep, r.cycles.plasticity) == (100, 31, 5)
    assert r.counts == list(range(10)) and r.levels == [-1] * 10
    with pytest.raises(ValueError, match="a SAMPLE reply with these flags has 2 payload bytes, not 3"):
        SampleReply.from_bytes(bytes(3), limits, False, False, False)


@pytest.mark.parametrize(("body", "status"), [
    (request_body(Opcode.IDENTIFY, 1), Status.OK),
    (request_body(Opcode.IDENTIFY, 1, b"\x00"), Status.BAD_LENGTH),
    (request_body(9, 1), Status.UNKNOWN_COMMAND),
    (request_body(Opcode.SAMPLE, 1, sample_args(Command.TRAIN, 10)), Status.BAD_ARGUMENT),
    (request_body(Opcode.SAMPLE, 1, sample_args(Command.INFER, 200)), Status.OK),
    (request_body(Opcode.READ, 1, block_args(0, 0, 4)), Status.BAD_ARGUMENT),
    (request_body(Opcode.READ, 1, block_args(1 << 20, 1, 4)), Status.BAD_ADDRESS),
])
def test_check_request(tiny: Config, body: bytes, status: Status) -> None:
    limits = link_limits(tiny)
    assert check_request(tiny, limits, body + crc16(body).to_bytes(2, "big")) == status
    assert check_request(tiny, limits, body + b"\x00\x00") in (Status.BAD_CRC, Status.BAD_LENGTH)


def test_windows_cover_the_memory_map(tiny: Config) -> None:
    cfg = load_config("tiny", ["lanes=2", "cores=2", "hidden=[32, 16]", "threshold=[32, 24]", "init_ff=[16, 16]",
                               "init_rec=[4, 4]", "lr_shift_hidden=[12, 12]"])
    windows = {(w.region, w.layer): w for w in address_windows(cfg)}
    assert windows[(Region.CSR, 0)].size == int(Csr.LEVEL) + 10 and windows[(Region.CSR, 0)].read_while_busy
    assert windows[(Region.FF, 1)].size == 32 * 16 // 4 and windows[(Region.FF, 1)].banked
    assert windows[(Region.STATE, 1)].size == 4 * 16 and not windows[(Region.STATE, 1)].writable
    assert not windows[(Region.INPUT, 0)].readable and windows[(Region.READOUT, 0)].size == 20
    # every bank of a banked window is the same window; an unbanked one takes bank 0 only
    ff = windows[(Region.FF, 1)]
    assert ff.address(cfg, 3, 3) & ff.key_mask(cfg) == ff.base(cfg)
    state = windows[(Region.STATE, 0)]
    assert state.address(cfg, 3, 1) & state.key_mask(cfg) != state.base(cfg)


# ---------------------------------------------------------------------------------- the driver
def test_connect_refuses_another_configuration(tiny: Config) -> None:
    other = load_config("tiny", ["seed=2"])
    ident = identity_bytes(other, link_limits(other), clock_hz=12_000_000, divisor=4, read_latency=1)
    board = CannedBoard([reply(Opcode.IDENTIFY, 1, payload=ident)])
    with pytest.raises(ConfigurationMismatch, match=f"built from configuration {other.hash()}, not {tiny.hash()}"):
        BoardDriver(board, tiny).connect(quiet=0)


def test_connect_and_words(tiny: Config) -> None:
    ident = identity_bytes(tiny, link_limits(tiny, 4), clock_hz=12_000_000, divisor=4, read_latency=1)
    board = CannedBoard([reply(Opcode.IDENTIFY, 1, payload=ident), reply(Opcode.READ, 2, payload=b"\xfe\xff\x05\x00"),
                         reply(Opcode.WRITE, 3), reply(Opcode.WRITE, 4)])
    driver = BoardDriver(board, tiny)
    assert driver.connect(quiet=0).slots == 4 and driver.limits.slots == 4
    assert driver.read_words(Region.FF, 0, 2, size=2, signed=True) == [-2, 5]
    driver.write_words(Region.FF, 0, list(range(130)), size=2, signed=True)       # two frames of ≤ 122 words
    sent = [sliplib.decode(frame.strip(END)) for frame in board.sent[-2:]]
    assert [unpack(BLOCK_ARGS, s[2:9]).count for s in sent] == [122, 8]
    assert int(unpack(BLOCK_ARGS, sent[1][2:9]).address) == mmio_address(tiny, Region.FF, 122)
    with pytest.raises(ValueError, match="40000 does not fit a signed 2-byte word"):
        driver.write_words(Region.FF, 0, [40000], size=2, signed=True)


@pytest.mark.parametrize(("replies", "error", "message"), [
    ([None], LinkTimeout, r"no reply from the board within 0.5 s"),
    ([reply(Opcode.STATUS, 1, Status.BUSY)], RequestRefused, r"the board refused STATUS \(seq 1\): BUSY"),
    ([reply(Opcode.STATUS, 9)], LinkError, r"reply out of order: expected STATUS seq 1, got opcode 2 seq 9"),
    ([b"\x02"], LinkError, r"garbled reply from the board \(3 bytes, bad CRC\)"),
])
def test_driver_errors(tiny: Config, replies: list, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        BoardDriver(CannedBoard(replies), tiny, timeout=0.5).status()


def test_driver_escapes_both_ways(tiny: Config) -> None:
    """A request with seq END and its reply, whose echo and payload are END and ESC bytes: the
    driver sends them escaped and decodes the escaped reply."""
    board = CannedBoard([reply(Opcode.READ, SLIP_END, payload=bytes([SLIP_END, SLIP_ESC, SLIP_ESC, SLIP_END]))])
    driver = BoardDriver(board, tiny)
    driver._seq = SLIP_END - 1                                   # the next request's seq is END
    assert driver.read_words(Region.FF, 0, 2, size=2) == [0xDBC0, 0xC0DB]
    assert board.sent[-1][1:4] == bytes([Opcode.READ.value, SLIP_ESC, SLIP_ESC_END])


@pytest.mark.parametrize("damage", ["bad escape", "escape open at END", "ESC ESC"])
def test_driver_refuses_a_bad_slip_escape(tiny: Config, damage: str) -> None:
    body = reply(Opcode.STATUS, 1, payload=bytes(2))
    encoded = sliplib.encode(body + crc16(body).to_bytes(2, "big"))
    raw = {"bad escape": encoded[:2] + bytes([SLIP_ESC, 0x01]) + encoded[2:],
           "escape open at END": encoded + bytes([SLIP_ESC]),
           "ESC ESC": encoded[:2] + bytes([SLIP_ESC, SLIP_ESC, SLIP_ESC_ESC]) + encoded[2:]}[damage]

    class Garbler(CannedBoard):
        def write(self, data: bytes) -> None:
            self.sent.append(data)
            self.pending = raw + END

    with pytest.raises(LinkError, match=rf"^garbled reply from the board \(SLIP: a bad escape in {len(raw)} bytes\)$"):
        BoardDriver(Garbler([]), tiny, timeout=0.5).status()


def test_babbling_board(tiny: Config) -> None:
    class Babbler(CannedBoard):
        def read(self, timeout: float) -> bytes:
            return b"\x55" * 100

    with pytest.raises(LinkError, match="the board sent 700 bytes without a frame delimiter"):
        BoardDriver(Babbler([]), tiny).status()


def test_missing_serial_port() -> None:
    with pytest.raises(LinkError, match=r"^serial port /dev/modsnn-missing not found \(is the board plugged in\?"):
        SerialTransport("/dev/modsnn-missing", 3_000_000)


# ---------------------------------------------------------------------------------- modsnn link-rate
def test_link_rate(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["link-rate", "--config", "tiny", "--baud", "3000000", "--clock", "12000000", "--samples", "5"]) == 0
    out = capsys.readouterr().out
    assert "custom" in out and "accelerator" in out and "tiny" in out


def test_link_rate_per_board_at_its_clock_and_preset(capsys: pytest.CaptureFixture[str]) -> None:
    """With no ``--config`` each board gets its own preset and ``mnist``, at the clock and baud rate its
    bitstream is built for (the registry's), not an assumed one."""
    from modsnn.boards.registry import BOARDS as REGISTRY

    assert main(["link-rate", "--samples", "2", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    boards = ("icebreaker", "ulx3s-85f", "ecpix5-85f")
    assert {(r["board"], r["config"]) for r in rows} == {
        (name, config) for name in boards for config in (REGISTRY[name].preset, "mnist")}
    for row in rows:
        board = REGISTRY[row["board"]]
        assert row["clock_hz"] == board.default_clock and row["baud"] == board.baud
        assert row["samples_per_second"] <= min(row["link_samples_per_second"], row["accelerator_samples_per_second"])


@pytest.mark.parametrize(("args", "message"), [
    (["--baud", "3000000"], "--baud and --clock go together"),
    (["--baud", "3000000", "--clock", "25000000"], "baud 3000000 at clock 25000000 Hz: the nearest divisor 8"),
])
def test_link_rate_errors(args: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["link-rate", "--config", "tiny", "--samples", "2", *args]) == 2
    assert message in capsys.readouterr().err


def test_link_rate_projection_uses_each_boards_clock(capsys: pytest.CaptureFixture[str]) -> None:
    """The rates themselves, not only the echoed clock, follow each board's clock: the same
    configuration's accelerator rate scales with the clock, the line rate is baud / 10 bits per byte
    of the longer frame, and through the link adds the board-side cycles (inputs, overhead, the
    reply on the line at the board's UART divisor). The notes name each board's clock and divisor."""
    from modsnn.boards.link_rate import BOARD_OVERHEAD, BOARDS, REPLY_AHEAD
    from modsnn.boards.registry import BOARDS as REGISTRY
    from modsnn.hw.link.uart import baud_divisor

    assert main(["link-rate", "--samples", "2", "--json"]) == 0
    rows = {(r["board"], r["config"]): r for r in json.loads(capsys.readouterr().out)}
    # the same configuration on two boards: the accelerator's rate scales with the clock alone
    ice, ulx = rows["icebreaker", "mnist"], rows["ulx3s-85f", "mnist"]
    assert ulx["accelerator_samples_per_second"] / ice["accelerator_samples_per_second"] == pytest.approx(
        REGISTRY["ulx3s-85f"].default_clock / REGISTRY["icebreaker"].default_clock)
    for (name, config), r in rows.items():
        clock, baud = r["clock_hz"], r["baud"]
        cycles = clock / r["accelerator_samples_per_second"]
        assert r["link_samples_per_second"] == pytest.approx(baud / (10 * max(r["request_bytes"], r["reply_bytes"])))
        if r["limited_by"] == "accelerator":            # through/s = clock / board-side cycles
            n_inputs = load_config(config).n_inputs
            board_cycles = (cycles + 3 * n_inputs + BOARD_OVERHEAD
                            + 10 * baud_divisor(clock, baud) * max(0.0, r["reply_bytes"] - REPLY_AHEAD))
            assert r["samples_per_second"] == pytest.approx(clock / board_cycles), (name, config)
    for board in BOARDS:
        assert f"{board.clock_hz / 1e6:g} MHz" in board.note, board
        assert f"divisor {baud_divisor(board.clock_hz, board.baud)}" in board.note, board
