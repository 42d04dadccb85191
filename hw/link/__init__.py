"""The host link: UART, SLIP framing with CRC-16, and a command layer mastering the accelerator's
control port. The wire protocol is :mod:`modsnn.hw.link.protocol` (documented in ``docs/protocol.md``)."""

from .host_link import HostLink, LinkCore

__all__ = ["HostLink", "LinkCore"]
