"""The host-link protocol, defined once for the gateware, the host driver and the testbenches.

Frames
------
Every request and every reply is one **frame**::

    END | SLIP( header | arguments | payload | CRC-16 ) | END

* The body (``header | arguments | payload``) is protected by CRC-16/IBM-3740 (also known as
  CRC-16/CCITT-FALSE: polynomial 0x1021, init 0xFFFF, not reflected, no final XOR), appended
  **most significant byte first**, so that the CRC over body and CRC is the residue 0.
  The gateware uses :data:`CRC_ALGORITHM` (``amaranth.lib.crc``), the host the PyPI ``crc``
  package with the same parameters (:func:`crc16`); a test checks that they agree.
* The body and CRC are SLIP-encoded (RFC 1055, exactly as the PyPI ``sliplib`` package): the byte
  :data:`SLIP_END` (0xC0) occurs only as the frame delimiter; a 0xC0 of the frame is sent as
  :data:`SLIP_ESC` :data:`SLIP_ESC_END` (0xDB 0xDC), a 0xDB as :data:`SLIP_ESC` :data:`SLIP_ESC_ESC`
  (0xDB 0xDD). Requests are sent with a leading END as well: it closes whatever garbage preceded
  the frame; replies end with END only. Empty frames (two delimiters in a row) are ignored. (SLIP,
  not COBS, since protocol version 2: its encoder is a stateless byte substitution, where COBS must
  hold up to 254 bytes until their block's code byte is known — a 256-byte ring and ~100 logic
  cells, which the iCEBreaker's UP5K does not have.)
* Multi-byte fields are little-endian; every layout below is a ``data.StructLayout`` whose bit 0
  is bit 0 of the first byte, so ``layout.const({...}).as_bits().to_bytes(n, "little")`` is the
  wire image (:func:`pack`, :func:`unpack`).

Requests
--------
``REQUEST_HEADER`` = ``opcode`` (:class:`Opcode`), ``seq`` (any byte, echoed in the reply); then
per opcode:

============  ===================================  ==================================================
opcode        arguments and payload                reply payload (after ``REPLY_HEADER``)
============  ===================================  ==================================================
``IDENTIFY``  —                                    ``IDENTITY`` (:func:`identity_bytes`)
``STATUS``    —                                    one byte ``RUN_STATUS`` (the ``COMMAND`` register)
``READ``      ``BLOCK_ARGS``                       ``count`` words of ``size`` bytes (each word's low
                                                   bytes; the host sign-extends when ``signed``)
``WRITE``     ``BLOCK_ARGS``, ``count`` words      —
              of ``size`` bytes (sign-extended to
              32 bits when ``signed``, else zero-)
``SAMPLE``    ``SAMPLE_ARGS``, then either nothing ``RUN_STATUS``, prediction (1 byte), then as
              (run on the inputs already loaded)   ``flags`` asks: 4 cycle counters (4 bytes each:
              or ``n_inputs`` intensity bytes      integration, sweep, decide, plasticity), ``C``
                                                   class counts (``count_bytes`` each), ``C``
                                                   levels (``level_bytes`` each, signed)
============  ===================================  ==================================================

``BLOCK_ARGS`` = ``address`` (32 bits: a control-port address, ``len(mmio_address)`` bits, built on
the host with :func:`~modsnn.hw.memory_map.mmio_address`; higher bits must be 0), ``count``
(16 bits, ≥ 1), ``format`` (``WORD_FORMAT``: ``size`` 0/1/2 = 1/2/4 bytes, ``signed``). Word ``i``
goes to the address whose ``offset`` field is the start's plus ``i`` (the other fields — region,
lane — stay), so one block stays inside one :class:`~modsnn.hw.memory_map.Window`.

``SAMPLE`` writes the intensities to ``INPUT`` 0…``n_inputs``−1 (if present), ``label`` to
``LABEL``, ``mode`` (:class:`~modsnn.hw.top.Command`: INFER 1, TRAIN 2) to ``COMMAND``, waits for the
sample to finish and replies. ``LR_EXTRA`` and the sample counter are plain registers (``WRITE``).

Replies and checks
------------------
Every non-empty frame gets exactly one reply, in order: ``REPLY_HEADER`` = ``opcode`` and ``seq``
as received (0 when the frame was shorter), ``status`` (:class:`Status`), then the payload when the
status is ``OK``. A request is executed only after the whole frame was received and checked, in
this order (the first failing check is the status; :func:`check_request` is the reference):

1. ``FRAMING`` — an escape byte followed by anything but ESC_END or ESC_ESC (or by the delimiter),
   or a UART framing/overrun error;
2. ``OVERSIZE`` — more than ``slot_bytes`` bytes (body and CRC) decoded;
3. ``BAD_LENGTH`` — fewer than 4 bytes (header and CRC);
4. ``BAD_CRC``;
5. ``UNKNOWN_COMMAND``;
6. ``BAD_LENGTH`` — the body length is not the opcode's;
7. ``BAD_ARGUMENT`` — ``size`` 3 or reserved format bits, ``count`` 0, a ``READ`` reply over
   ``max_data`` bytes; a ``mode`` that is not INFER/TRAIN, reserved ``flags`` bits, TRAIN with
   ``label ≥ n_classes``;
8. ``BAD_ADDRESS`` — a block not inside one window, or a write to a read-only window / read of a
   write-only one;
9. ``BUSY`` — a sample is running (started by a ``WRITE`` to ``COMMAND``): only ``IDENTIFY``,
   ``STATUS`` and reads of the registers are served.

A refused frame changes nothing in the accelerator.
"""

from __future__ import annotations

import dataclasses
import functools
import math

from amaranth.hdl import unsigned
from amaranth.lib import data, enum
from amaranth.lib.crc import catalog

from ...golden_model.config import Config
from ...golden_model.cycles import PhaseCycles
from ..control_port import Command
from ..formats import formats_for
from ..memory_map import Window, address_windows

__all__ = [
    "BLOCK_ARGS",
    "CRC_ALGORITHM",
    "IDENTITY",
    "MAGIC",
    "PROTOCOL_VERSION",
    "REPLY_HEADER",
    "REQUEST",
    "REQUEST_HEADER",
    "RUN_STATUS",
    "SAMPLE_ARGS",
    "SAMPLE_FLAGS",
    "SLIP_END",
    "SLIP_ESC",
    "SLIP_ESC_END",
    "SLIP_ESC_ESC",
    "START_TIMEOUT",
    "WORD_FORMAT",
    "Identity",
    "LinkLimits",
    "Opcode",
    "SampleReply",
    "Status",
    "block_args",
    "check_request",
    "crc16",
    "identity_bytes",
    "link_limits",
    "pack",
    "request_body",
    "sample_args",
    "unpack",
]

PROTOCOL_VERSION = 2
"""1: COBS framing; 2: SLIP framing (the frames' contents are unchanged)."""
SLIP_END, SLIP_ESC, SLIP_ESC_END, SLIP_ESC_ESC = 0xC0, 0xDB, 0xDC, 0xDD
"""The SLIP framing bytes (RFC 1055): frame delimiter, escape, and the escaped END and ESC."""
MAGIC = int.from_bytes(b"MSNN", "little")
CRC_ALGORITHM = catalog.CRC16_IBM_3740
"""The frame CRC (gateware side): CRC-16/IBM-3740, a.k.a. CRC-16/CCITT-FALSE."""
START_TIMEOUT = 16
"""Clock cycles the link waits for ``busy`` after writing ``COMMAND``; a command that does not start
within them was refused by the accelerator (its ``refused`` bit then says so)."""


class Opcode(enum.Enum, shape=8):
    IDENTIFY = 0x01
    STATUS = 0x02
    READ = 0x03
    WRITE = 0x04
    SAMPLE = 0x05


class Status(enum.Enum, shape=8):
    OK = 0
    FRAMING = 1
    OVERSIZE = 2
    BAD_LENGTH = 3
    BAD_CRC = 4
    UNKNOWN_COMMAND = 5
    BAD_ARGUMENT = 6
    BAD_ADDRESS = 7
    BUSY = 8


WORD_FORMAT = data.StructLayout({"size": unsigned(2), "reserved": unsigned(5), "signed": unsigned(1)})
"""``size``: 0, 1, 2 = words of 1, 2, 4 bytes (3 is refused); ``signed``: sign-extend written words."""

REQUEST_HEADER = data.StructLayout({"opcode": unsigned(8), "seq": unsigned(8)})
BLOCK_ARGS = data.StructLayout({"address": unsigned(32), "count": unsigned(16), "format": WORD_FORMAT})
SAMPLE_FLAGS = data.StructLayout({"cycles": unsigned(1), "counts": unsigned(1), "levels": unsigned(1),
                                  "reserved": unsigned(5)})
SAMPLE_ARGS = data.StructLayout({"mode": unsigned(8), "label": unsigned(8), "flags": SAMPLE_FLAGS})
REQUEST = data.StructLayout({"header": REQUEST_HEADER,
                             "args": data.UnionLayout({"block": BLOCK_ARGS, "sample": SAMPLE_ARGS})})
"""The first ``REQUEST.size // 8`` bytes of a request, as the command layer parses them."""
REPLY_HEADER = data.StructLayout({"opcode": unsigned(8), "seq": unsigned(8), "status": unsigned(8)})
RUN_STATUS = data.StructLayout({"busy": unsigned(1), "refused": unsigned(1), "reserved": unsigned(6)})
"""The low byte of the ``COMMAND`` register: a sample is running; the last command was refused."""

#: layers an IDENTIFY reply describes (the configuration allows at most this many)
MAX_LAYERS = 4

IDENTITY = data.StructLayout({
    "magic": unsigned(32), "version": unsigned(8), "slots": unsigned(8), "slot_bytes": unsigned(16),
    "max_data": unsigned(16), "config_hash": unsigned(64), "clock_hz": unsigned(32), "divisor": unsigned(16),
    "read_latency": unsigned(8), "address_bits": unsigned(8), "n_inputs": unsigned(16),
    "hidden": data.ArrayLayout(unsigned(16), MAX_LAYERS),
    "layers": unsigned(8), "classes": unsigned(8), "pop": unsigned(8), "timesteps": unsigned(8),
    "lanes": unsigned(8), "cores": unsigned(8), "weight_bits": unsigned(8), "count_bytes": unsigned(8),
    "level_bytes": unsigned(8),
})
"""The ``IDENTIFY`` reply (a ROM generated at elaboration from the configuration and the clock)."""

HEADER_BYTES = REQUEST_HEADER.size // 8
ARGS_BYTES = {Opcode.IDENTIFY: 0, Opcode.STATUS: 0, Opcode.READ: BLOCK_ARGS.size // 8,
              Opcode.WRITE: BLOCK_ARGS.size // 8, Opcode.SAMPLE: SAMPLE_ARGS.size // 8}
CRC_BYTES = 2


# ---------------------------------------------------------------------------------- byte images
def pack(layout: data.Layout, fields: dict) -> bytes:
    """The wire image of ``layout`` with ``fields``."""
    return int(layout.const(fields).as_bits()).to_bytes(layout.size // 8, "little")


def unpack(layout: data.Layout, raw: bytes) -> data.Const:
    """The fields of the wire image ``raw`` of ``layout``."""
    if len(raw) != layout.size // 8:
        raise ValueError(f"expected {layout.size // 8} bytes, not {len(raw)}")
    return layout.from_bits(int.from_bytes(raw, "little"))


def crc16(body: bytes) -> int:
    """CRC-16/IBM-3740 of ``body`` (the PyPI ``crc`` package)."""
    return _crc_calculator().checksum(body)


@functools.cache
def _crc_calculator():  # type: ignore[no-untyped-def]
    import crc

    return crc.Calculator(crc.Crc16.IBM_3740, optimized=True)


def word_bytes(bits: int) -> int:
    """1, 2 or 4: the word size that holds ``bits`` bits."""
    return 1 if bits <= 8 else 2 if bits <= 16 else 4


SIZE_CODE = {1: 0, 2: 1, 4: 2}


def block_args(address: int, count: int, size: int, signed: bool = False) -> bytes:
    return pack(BLOCK_ARGS, {"address": address, "count": count,
                             "format": {"size": SIZE_CODE[size], "signed": int(signed)}})


def sample_args(mode: Command, label: int, cycles: bool = False, counts: bool = False, levels: bool = False) -> bytes:
    return pack(SAMPLE_ARGS, {"mode": int(mode), "label": label,
                              "flags": {"cycles": int(cycles), "counts": int(counts), "levels": int(levels)}})


def request_body(opcode: Opcode | int, seq: int, args: bytes = b"", payload: bytes = b"") -> bytes:
    """``header | args | payload`` (the frame body, before CRC and SLIP)."""
    return pack(REQUEST_HEADER, {"opcode": int(opcode.value if isinstance(opcode, Opcode) else opcode),
                                 "seq": seq}) + args + payload


# ---------------------------------------------------------------------------------- limits
@dataclasses.dataclass(frozen=True)
class LinkLimits:
    """Sizes of the link for one configuration.

    * ``slots`` frame buffers of ``slot_bytes`` (a power of two, ≥ 256, holding the body and CRC of a
      ``SAMPLE`` with all inputs); the host keeps at most ``slots`` requests outstanding.
    * ``max_data`` — data bytes of one ``WRITE`` or ``READ`` (``slot_bytes`` − header − args − CRC).
    * ``count_bytes``/``level_bytes`` — per-class sizes in the ``SAMPLE`` reply.
    * ``weight_bytes`` — word size for the weight regions; ``state_bytes`` for ``STATE``.
    """

    slots: int
    slot_bytes: int
    max_data: int
    count_bytes: int
    level_bytes: int
    weight_bytes: int
    state_bytes: int
    n_inputs: int
    n_classes: int

    def sample_reply_bytes(self, cycles: bool, counts: bool, levels: bool) -> int:
        """Payload bytes of a ``SAMPLE`` reply."""
        return 2 + 16 * cycles + self.n_classes * (self.count_bytes * counts + self.level_bytes * levels)


def link_limits(cfg: Config, slots: int = 2) -> LinkLimits:
    """The :class:`LinkLimits` of ``cfg`` with ``slots`` receive buffers."""
    if not isinstance(slots, int) or slots < 2 or slots & (slots - 1):
        raise ValueError(f"slots must be a power of two ≥ 2, not {slots!r}")
    sample = HEADER_BYTES + ARGS_BYTES[Opcode.SAMPLE] + cfg.n_inputs + CRC_BYTES
    slot_bytes = max(256, 1 << math.ceil(math.log2(sample)))
    max_count = cfg.pop * cfg.timesteps
    state_bits = max(cfg.membrane_bits, (cfg.timesteps * cfg.x_max).bit_length())
    return LinkLimits(slots, slot_bytes, slot_bytes - HEADER_BYTES - ARGS_BYTES[Opcode.READ] - CRC_BYTES,
                      word_bytes(max_count.bit_length()), word_bytes(cfg.mod_levels.bit_length() + 1),
                      word_bytes(cfg.weight_bits), word_bytes(state_bits), cfg.n_inputs, cfg.n_classes)


# ---------------------------------------------------------------------------------- identity
@dataclasses.dataclass(frozen=True)
class Identity:
    """What a board answers to ``IDENTIFY``."""

    version: int
    config_hash: str
    clock_hz: int
    divisor: int
    slots: int
    slot_bytes: int
    max_data: int
    read_latency: int
    address_bits: int
    n_inputs: int
    hidden: tuple[int, ...]        # the sizes of the `layers` hidden layers
    layers: int
    classes: int
    pop: int
    timesteps: int
    lanes: int
    cores: int
    weight_bits: int
    count_bytes: int
    level_bytes: int

    @property
    def baud(self) -> float:
        return self.clock_hz / self.divisor

    @classmethod
    def from_bytes(cls, raw: bytes) -> Identity:
        if len(raw) != IDENTITY.size // 8:
            raise ValueError(f"an IDENTIFY reply has {IDENTITY.size // 8} bytes, not {len(raw)}")
        v = unpack(IDENTITY, raw)
        if int(v.magic) != MAGIC:
            raise ValueError(f"not a modsnn board: magic {int(v.magic):#010x}, expected {MAGIC:#010x}")
        if int(v.version) != PROTOCOL_VERSION:
            raise ValueError(f"the board speaks link protocol version {int(v.version)}, this driver "
                             f"{PROTOCOL_VERSION}: rebuild and flash the board from this checkout")
        fields = {f.name: int(getattr(v, f.name)) for f in dataclasses.fields(cls)
                  if f.name not in ("config_hash", "hidden")}
        hidden = tuple(int(v.hidden[i]) for i in range(min(fields["layers"], MAX_LAYERS)))
        return cls(config_hash=f"{int(v.config_hash):016x}", hidden=hidden, **fields)


def identity_bytes(cfg: Config, limits: LinkLimits, *, clock_hz: int, divisor: int, read_latency: int) -> bytes:
    """The ``IDENTIFY`` reply payload of a link built for ``cfg``."""
    return pack(IDENTITY, {
        "magic": MAGIC, "version": PROTOCOL_VERSION, "slots": limits.slots, "slot_bytes": limits.slot_bytes,
        "max_data": limits.max_data, "config_hash": int(cfg.hash(), 16), "clock_hz": clock_hz, "divisor": divisor,
        "read_latency": read_latency, "address_bits": formats_for(cfg).mmio_address.size,
        "n_inputs": cfg.n_inputs, "hidden": [*cfg.hidden, *[0] * (MAX_LAYERS - cfg.n_hidden_layers)],
        "layers": cfg.n_hidden_layers, "classes": cfg.n_classes,
        "pop": cfg.pop, "timesteps": cfg.timesteps, "lanes": cfg.lanes, "cores": cfg.cores,
        "weight_bits": cfg.weight_bits, "count_bytes": limits.count_bytes, "level_bytes": limits.level_bytes,
    })


# ---------------------------------------------------------------------------------- sample reply
@dataclasses.dataclass(frozen=True)
class SampleReply:
    """A decoded ``SAMPLE`` reply."""

    busy: bool
    refused: bool
    prediction: int
    cycles: PhaseCycles | None = None          # integration, sweep (+ decide), plasticity
    counts: list[int] | None = None
    levels: list[int] | None = None

    @classmethod
    def from_bytes(cls, raw: bytes, limits: LinkLimits, cycles: bool, counts: bool, levels: bool) -> SampleReply:
        want = limits.sample_reply_bytes(cycles, counts, levels)
        if len(raw) != want:
            raise ValueError(f"a SAMPLE reply with these flags has {want} payload bytes, not {len(raw)}")
        status = unpack(RUN_STATUS, raw[:1])
        pos = 2
        phase = None
        if cycles:
            words = [int.from_bytes(raw[pos + 4 * i:pos + 4 * i + 4], "little") for i in range(4)]
            phase = PhaseCycles(words[0], words[1] + words[2], words[3])
            pos += 16
        C = limits.n_classes
        count_list = level_list = None
        if counts:
            n = limits.count_bytes
            count_list = [int.from_bytes(raw[pos + n * c:pos + n * c + n], "little") for c in range(C)]
            pos += n * C
        if levels:
            n = limits.level_bytes
            level_list = [int.from_bytes(raw[pos + n * c:pos + n * c + n], "little", signed=True) for c in range(C)]
        return cls(bool(status.busy), bool(status.refused), raw[1], phase, count_list, level_list)


# ---------------------------------------------------------------------------------- reference checks
def _window_of(cfg: Config, address: int) -> tuple[Window | None, int]:
    """The window that ``address`` falls in (matching outside the ``offset`` field and, for banked
    windows, the ``bank`` field), and the offset."""
    layout = formats_for(cfg).mmio_address
    field = layout["offset"]
    offset = (address >> field.offset) & ((1 << field.width) - 1)
    if address >> layout.size:
        return None, 0
    for window in address_windows(cfg):
        if window.base(cfg) == address & window.key_mask(cfg):
            return window, offset
    return None, offset


def check_request(cfg: Config, limits: LinkLimits, received: bytes, *, framing_error: bool = False,
                  busy: bool = False) -> Status:
    """The status the link replies to a frame whose SLIP-decoded bytes (body and CRC, all of them,
    even beyond ``slot_bytes``) are ``received`` — the reference the gateware is tested against."""
    n = len(received)
    if framing_error:
        return Status.FRAMING
    if n > limits.slot_bytes:
        return Status.OVERSIZE
    if n < HEADER_BYTES + CRC_BYTES:
        return Status.BAD_LENGTH
    body = received[:-CRC_BYTES]
    if crc16(body) != int.from_bytes(received[-CRC_BYTES:], "big"):
        return Status.BAD_CRC
    try:
        opcode = Opcode(body[0])
    except ValueError:
        return Status.UNKNOWN_COMMAND
    length = len(body) - HEADER_BYTES
    fixed = ARGS_BYTES[opcode]
    raw_args = (body[HEADER_BYTES:HEADER_BYTES + fixed] + bytes(fixed))[:fixed]
    if opcode in (Opcode.READ, Opcode.WRITE):
        args = unpack(BLOCK_ARGS, raw_args)
        size_code, count = int(args.format.size), int(args.count)
        expected = fixed + (count << size_code if opcode == Opcode.WRITE else 0)
        if length < fixed or length != expected:
            return Status.BAD_LENGTH
        if size_code == 3 or int(args.format.reserved) or count == 0 or \
                (opcode == Opcode.READ and count << size_code > limits.max_data):
            return Status.BAD_ARGUMENT
        window, offset = _window_of(cfg, int(args.address))
        allowed = window is not None and (window.readable if opcode == Opcode.READ else window.writable)
        if not allowed or offset + count > window.size:  # type: ignore[union-attr]
            return Status.BAD_ADDRESS
        if busy and not (opcode == Opcode.READ and window.read_while_busy):  # type: ignore[union-attr]
            return Status.BUSY
        return Status.OK
    if opcode == Opcode.SAMPLE:
        if length not in (fixed, fixed + cfg.n_inputs):
            return Status.BAD_LENGTH
        args = unpack(SAMPLE_ARGS, raw_args)
        mode = int(args.mode)
        if mode not in (Command.INFER, Command.TRAIN) or int(args.flags.reserved) or \
                (mode == Command.TRAIN and int(args.label) >= cfg.n_classes):
            return Status.BAD_ARGUMENT
        return Status.BUSY if busy else Status.OK
    return Status.OK if length == fixed else Status.BAD_LENGTH


def reply_echo(received: bytes) -> tuple[int, int]:
    """``(opcode, seq)`` as a reply echoes them: the first two received bytes, 0 where absent."""
    return (received[0] if len(received) > 0 else 0, received[1] if len(received) > 1 else 0)

