"""Host driver of a modsnn board: the link protocol (:mod:`modsnn.hw.link.protocol`) as Python calls.

Synchronous, on a small :class:`Transport` (write bytes; read what arrived within a timeout). The
same driver runs against a board through :class:`SerialTransport` (pyserial) and against the RTL in
simulation through the cocotb transports of :mod:`modsnn.sim.link`, so the bytes a board sees are
the bytes that are tested. Addresses come only from :mod:`modsnn.hw.memory_map` and weight images
from its :func:`~modsnn.hw.memory_map.weight_images`, exactly as the cocotb driver of the control
port (:mod:`modsnn.sim.accelerator`) uses them.

Every failure is a :class:`LinkError` with a one-line message: a missing port, no answer within
the timeout, a garbled or out-of-order reply, a refused request (:class:`RequestRefused`, with its
:class:`~modsnn.hw.link.protocol.Status`), a board built for another configuration
(:class:`ConfigurationMismatch`, naming both hashes). Nothing waits forever.
"""

from __future__ import annotations

import collections
import dataclasses
import errno
from collections.abc import Iterable, Iterator
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
import sliplib

from ..golden_model.config import Config
from ..golden_model.cycles import PhaseCycles
from ..golden_model.network import Network
from ..hw.control_port import Command, Csr
from ..hw.formats import Region
from ..hw.link.protocol import (
    REPLY_HEADER,
    RUN_STATUS,
    SLIP_END,
    Identity,
    LinkLimits,
    Opcode,
    SampleReply,
    Status,
    block_args,
    crc16,
    link_limits,
    request_body,
    sample_args,
    unpack,
)
from ..hw.memory_map import WEIGHT_REGIONS, dense_from_images, image_shapes, mmio_address, weight_images

END = bytes([SLIP_END])           # the frame delimiter

__all__ = ["BoardDriver", "ConfigurationMismatch", "LinkError", "LinkTimeout", "RequestRefused", "SerialTransport",
           "Transport", "encode_frame"]


class LinkError(RuntimeError):
    """The link failed; the message is one line saying what and, where it helps, what to do."""


class LinkTimeout(LinkError):
    """No (complete) reply within the timeout."""


class RequestRefused(LinkError):
    """The board answered a request with an error status."""

    def __init__(self, message: str, status: Status) -> None:
        super().__init__(message)
        self.status = status


class ConfigurationMismatch(LinkError):
    """The board was built from another configuration."""


class Transport(Protocol):
    """A byte pipe to a board."""

    def write(self, data: bytes) -> None:
        """Send ``data``."""

    def read(self, timeout: float) -> bytes:
        """Whatever arrived, at least one byte, or ``b""`` when nothing arrived within ``timeout``
        seconds (of the transport's time: wall-clock for a board, simulated for the RTL)."""

    def close(self) -> None:
        """Release the port."""


class SerialTransport:
    """A board's USB serial port (pyserial), 8N1 at ``baud``."""

    def __init__(self, port: str, baud: int) -> None:
        import serial

        self.port = port
        try:
            self._serial = serial.Serial(port, baud, timeout=0.1, write_timeout=5.0)
        except serial.SerialException as error:
            reason = getattr(error, "errno", None) or (error.args[0] if error.args else None)
            if reason == errno.ENOENT or "No such file" in str(error) or "FileNotFound" in str(error):
                raise LinkError(f"serial port {port} not found (is the board plugged in? "
                                f"`python -m serial.tools.list_ports` lists the ports)") from None
            text = str(error).splitlines()[0] if str(error) else type(error).__name__
            raise LinkError(f"cannot open serial port {port}: {text}") from None
        except (OSError, ValueError) as error:
            raise LinkError(f"cannot open serial port {port}: {error}") from None

    def write(self, data: bytes) -> None:
        import serial

        try:
            self._serial.write(data)
        except serial.SerialTimeoutException:
            raise LinkTimeout(f"serial port {self.port}: writing timed out (is the board powered?)") from None
        except serial.SerialException as error:
            raise LinkError(f"serial port {self.port}: {error}") from None

    def read(self, timeout: float) -> bytes:
        import serial

        try:
            self._serial.timeout = timeout
            return bytes(self._serial.read(max(1, self._serial.in_waiting)))
        except serial.SerialException as error:
            raise LinkError(f"serial port {self.port}: {error}") from None

    def close(self) -> None:
        self._serial.close()


def encode_frame(body: bytes) -> bytes:
    """The wire bytes of a request body: ``END | SLIP(body | CRC-16, MSB first) | END``."""
    return END + sliplib.encode(body + crc16(body).to_bytes(2, "big")) + END


@dataclasses.dataclass(frozen=True)
class Reply:
    opcode: int
    seq: int
    status: Status
    payload: bytes


class BoardDriver:
    """Talks to the host link of a board (or of the RTL) over ``transport``.

    ``cfg`` is the configuration the host expects; :meth:`connect` refuses a board built from
    another one. ``timeout`` bounds every wait for a reply (seconds of the transport's time).
    """

    def __init__(self, transport: Transport, cfg: Config, *, timeout: float = 2.0) -> None:
        self.transport, self.cfg, self.timeout = transport, cfg, timeout
        self.limits: LinkLimits = link_limits(cfg)
        self.identity: Identity | None = None
        self._seq = 0
        self._rx = bytearray()
        self._frames: collections.deque[bytes] = collections.deque()

    # ------------------------------------------------------------------ frames
    def send(self, opcode: Opcode, args: bytes = b"", payload: bytes = b"") -> int:
        """Send one request; returns its sequence number (for :meth:`receive`)."""
        self._seq = (self._seq + 1) & 0xFF
        self.transport.write(encode_frame(request_body(opcode, self._seq, args, payload)))
        return self._seq

    def receive(self, opcode: Opcode, seq: int) -> bytes:
        """The payload of the next reply, which must answer ``(opcode, seq)`` with ``OK``."""
        reply = self.next_reply()
        if reply.status != Status.OK:
            raise RequestRefused(f"the board refused {opcode.name} (seq {seq}): {reply.status.name}", reply.status)
        if (reply.opcode, reply.seq) != (opcode.value, seq):
            raise LinkError(f"reply out of order: expected {opcode.name} seq {seq}, got opcode {reply.opcode} "
                            f"seq {reply.seq}")
        return reply.payload

    def request(self, opcode: Opcode, args: bytes = b"", payload: bytes = b"") -> bytes:
        return self.receive(opcode, self.send(opcode, args, payload))

    def next_reply(self) -> Reply:
        """The next reply frame, decoded and CRC-checked."""
        raw = self._next_frame()
        try:
            body = sliplib.decode(raw)
        except sliplib.ProtocolError:
            raise LinkError(f"garbled reply from the board (SLIP: a bad escape in {len(raw)} bytes)") from None
        if len(body) < 5 or crc16(body[:-2]) != int.from_bytes(body[-2:], "big"):
            raise LinkError(f"garbled reply from the board ({len(body)} bytes, bad CRC)")
        head = unpack(REPLY_HEADER, body[:3])
        try:
            status = Status(int(head.status))
        except ValueError:
            raise LinkError(f"reply with an unknown status {int(head.status)}") from None
        return Reply(int(head.opcode), int(head.seq), status, bytes(body[3:-2]))

    def _next_frame(self) -> bytes:
        limit = 2 * (self.limits.slot_bytes + 64)
        while True:
            while self._frames:
                frame = self._frames.popleft()
                if frame:
                    return frame
            data = self.transport.read(self.timeout)
            if not data:
                raise LinkTimeout(f"no reply from the board within {self.timeout:g} s")
            self._rx += data
            *frames, rest = bytes(self._rx).split(END)
            self._frames.extend(frames)
            self._rx = bytearray(rest)
            if len(self._rx) > limit:
                raise LinkError(f"the board sent {len(self._rx)} bytes without a frame delimiter")

    def drain(self, quiet: float) -> int:
        """Discard whatever arrives until nothing has for ``quiet`` seconds; returns the bytes dropped."""
        dropped = len(self._rx) + sum(len(f) for f in self._frames)
        self._rx.clear()
        self._frames.clear()
        while data := self.transport.read(quiet):
            dropped += len(data)
        return dropped

    # ------------------------------------------------------------------ identity
    def identify(self) -> Identity:
        try:
            return Identity.from_bytes(self.request(Opcode.IDENTIFY))
        except ValueError as error:
            raise LinkError(f"IDENTIFY: {error}") from None

    def connect(self, quiet: float | None = None) -> Identity:
        """Resynchronise (a delimiter, then drop stray bytes), identify the board and check that it
        was built from this driver's configuration; adopt its buffer count."""
        self.transport.write(END)
        self.drain(self.timeout / 20 if quiet is None else quiet)
        identity = self.identify()
        if identity.config_hash != self.cfg.hash():
            raise ConfigurationMismatch(
                f"the board was built from configuration {identity.config_hash}, not {self.cfg.hash()} "
                f"({self.cfg.name!r}); rebuild it or pass its configuration")
        self.limits = link_limits(self.cfg, identity.slots)
        self.identity = identity
        return identity

    # ------------------------------------------------------------------ words
    def write_words(self, region: Region, offset: int, values: Iterable[int], *, bank: int = 0, layer: int = 0,
                    size: int = 4, signed: bool = False) -> None:
        """Write consecutive words from ``offset`` of ``region`` (in bank ``bank`` of layer ``layer``),
        ``size`` bytes each on the wire (each value must fit), in as few frames as the board's
        buffers allow."""
        words = [int(v) for v in values]
        per_frame = self.limits.max_data // size
        lo, hi = (-(1 << (8 * size - 1)), 1 << (8 * size - 1)) if signed else (0, 1 << (8 * size))
        for start in range(0, len(words), per_frame):
            chunk = words[start:start + per_frame]
            bad = [v for v in chunk if not lo <= v < hi]
            if bad:
                raise ValueError(f"{bad[0]} does not fit a {'signed' if signed else 'unsigned'} {size}-byte word")
            payload = b"".join(v.to_bytes(size, "little", signed=signed) for v in chunk)
            address = mmio_address(self.cfg, region, offset + start, bank, layer)
            self.request(Opcode.WRITE, block_args(address, len(chunk), size, signed), payload)

    def read_words(self, region: Region, offset: int, count: int, *, bank: int = 0, layer: int = 0, size: int = 4,
                   signed: bool = False) -> list[int]:
        """Read ``count`` consecutive words (each word's low ``size`` bytes, sign-extended when
        ``signed``)."""
        per_frame = self.limits.max_data // size
        words: list[int] = []
        for start in range(0, count, per_frame):
            n = min(per_frame, count - start)
            address = mmio_address(self.cfg, region, offset + start, bank, layer)
            raw = self.request(Opcode.READ, block_args(address, n, size, signed))
            if len(raw) != n * size:
                raise LinkError(f"READ of {n} words returned {len(raw)} bytes")
            words += [int.from_bytes(raw[i:i + size], "little", signed=signed) for i in range(0, len(raw), size)]
        return words

    def write_register(self, register: Csr, value: int) -> None:
        self.write_words(Region.CSR, int(register), [value & 0xFFFF_FFFF], size=4)

    def read_register(self, register: Csr, signed: bool = False) -> int:
        return self.read_words(Region.CSR, int(register), 1, size=4, signed=signed)[0]

    # ------------------------------------------------------------------ weights and state
    def load_weights(self, net: Network) -> None:
        """Load the stored weights of ``net`` (every layer) into every bank's weight memories."""
        images = weight_images(self.cfg, net.ff, net.rec, net.out)
        for (matrix, layer), image in images.items():
            for bank in range(image.shape[1]):
                self.write_words(WEIGHT_REGIONS[matrix], 0, image[:, bank].tolist(), bank=bank, layer=layer,
                                 size=self.limits.weight_bytes, signed=True)

    def read_weights(self) -> tuple[list[npt.NDArray[np.int64]], list[npt.NDArray[np.int64]],
                                    list[npt.NDArray[np.int64]]]:
        """The dense ``(ff, rec, out)`` stored weights, one matrix per layer each."""
        images = {}
        for (matrix, layer), (words, banks) in image_shapes(self.cfg).items():
            image = np.zeros((words, banks), np.int64)
            for bank in range(banks):
                image[:, bank] = self.read_words(WEIGHT_REGIONS[matrix], 0, words, bank=bank, layer=layer,
                                                 size=self.limits.weight_bytes, signed=True)
            images[(matrix, layer)] = image
        return dense_from_images(self.cfg, images)

    def read_state(self, layer: int = 0) -> dict[str, list[int]]:
        """State of hidden layer ``layer`` after the last sample: membranes ``v``, traces ``x``, ``H``, ``X``."""
        n = self.cfg.hidden[layer]
        raw = self.read_words(Region.STATE, 0, 4 * n, layer=layer, size=self.limits.state_bytes)
        size = 8 * self.limits.state_bytes
        v = [w - (1 << size) if w >> (size - 1) else w for w in raw[0::4]]
        return {"v": v, "x": raw[1::4], "H": raw[2::4], "X": raw[3::4]}

    # ------------------------------------------------------------------ registers
    def status(self) -> tuple[bool, bool]:
        """``(busy, refused)``: a sample is running; the last command was refused."""
        run = unpack(RUN_STATUS, self.request(Opcode.STATUS))
        return bool(run.busy), bool(run.refused)

    def set_sample_counter(self, value: int) -> None:
        """The update counter (the ``sample`` word of the stochastic-rounding keys)."""
        self.write_register(Csr.SAMPLE, value)

    def sample_counter(self) -> int:
        return self.read_register(Csr.SAMPLE)

    def set_lr_extra(self, shift: int) -> None:
        """The learning-rate decay shift (0–7) of the following training samples."""
        self.write_register(Csr.LR_EXTRA, shift)

    def cycles(self) -> PhaseCycles:
        """The cycle counters of the last sample (integration, sweep + decide, plasticity)."""
        w = self.read_words(Region.CSR, int(Csr.CYCLES_INTEGRATION), 4, size=4)
        return PhaseCycles(w[0], w[1] + w[2], w[3])

    def counts(self) -> list[int]:
        return self.read_words(Region.CSR, int(Csr.COUNT), self.cfg.n_classes, size=self.limits.count_bytes)

    def levels(self) -> list[int]:
        return self.read_words(Region.CSR, int(Csr.LEVEL), self.cfg.n_classes, size=self.limits.level_bytes,
                               signed=True)

    # ------------------------------------------------------------------ samples
    def send_sample(self, u: Any, *, train: bool, label: int = 0, cycles: bool = False, counts: bool = False,
                    levels: bool = False) -> tuple[int, tuple[bool, bool, bool]]:
        """Send a ``SAMPLE`` (``u``: ``n_inputs`` intensities, or ``None`` to rerun the loaded ones)."""
        payload = b""
        if u is not None:
            arr = np.asarray(u).reshape(-1)
            if arr.size != self.cfg.n_inputs or np.any(arr < 0) or np.any(arr > 255):
                raise ValueError(f"a sample is {self.cfg.n_inputs} intensities in [0, 255]")
            payload = arr.astype(np.uint8).tobytes()
        mode = Command.TRAIN if train else Command.INFER
        seq = self.send(Opcode.SAMPLE, sample_args(mode, label, cycles, counts, levels), payload)
        return seq, (cycles, counts, levels)

    def receive_sample(self, ticket: tuple[int, tuple[bool, bool, bool]]) -> SampleReply:
        seq, flags = ticket
        raw = self.receive(Opcode.SAMPLE, seq)
        try:
            return SampleReply.from_bytes(raw, self.limits, *flags)
        except ValueError as error:
            raise LinkError(f"SAMPLE: {error}") from None

    def run(self, u: Any, *, train: bool, label: int = 0, cycles: bool = False, counts: bool = False,
            levels: bool = False) -> SampleReply:
        """Run one sample (training with ``label`` when ``train``) and return the prediction and
        what was asked for."""
        return self.receive_sample(self.send_sample(u, train=train, label=label, cycles=cycles, counts=counts,
                                                    levels=levels))

    def run_batch(self, samples: Iterable[tuple[Any, int, bool]], *, cycles: bool = False, counts: bool = False,
                  levels: bool = False) -> Iterator[SampleReply]:
        """Run ``(u, label, train)`` samples back to back: up to ``slots`` requests are outstanding, so
        the board receives the next sample while it runs the current one. Yields the replies in order."""
        pending: collections.deque[tuple[int, tuple[bool, bool, bool]]] = collections.deque()
        for u, label, train in samples:
            if len(pending) == self.limits.slots:
                yield self.receive_sample(pending.popleft())
            pending.append(self.send_sample(u, train=train, label=label, cycles=cycles, counts=counts,
                                            levels=levels))
        while pending:
            yield self.receive_sample(pending.popleft())

