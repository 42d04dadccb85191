"""The FPGA devices modsnn targets: one table of the resources a build may use.

The fit check (:mod:`modsnn.boards.fit`) and the build reports (:mod:`modsnn.boards.build`) read
the same :class:`Device` records, so "how much is there" is written once. Figures are the
datasheet totals, which are also what nextpnr reports as ``available`` (checked against real
reports in ``tests/test_boards.py``):

============  ======  ======  =================================  ==================  ===========
device        LUT4    FF      block RAM                          large RAM           multipliers
============  ======  ======  =================================  ==================  ===========
iCE40 UP5K    5,280   5,280   30 × 4 Kbit ``SB_RAM40_4K``        4 × 16K×16 SPRAM    8 ``SB_MAC16``
ECP5-85F      83,640  83,640  208 × 18 Kbit ``DP16KD`` (EBR)     —                   156 18×18
============  ======  ======  =================================  ==================  ===========

Block-RAM *geometries* are the (depth, width) aspect ratios one block can take in the simple
dual-port mode (one read and one write port) that every modsnn memory uses; the fit check picks
the cheapest one per memory, as Yosys' ``memory_libmap`` does.
"""

from __future__ import annotations

import dataclasses

__all__ = ["DEVICES", "Device"]


@dataclasses.dataclass(frozen=True)
class Device:
    """One FPGA part: its resources and how the open toolchain names it.

    ``bram_geometries`` are the (depth, width) shapes of one block RAM (``bram_bits`` in all);
    ``spram_geometry`` the shape of one single-port large RAM (``spram`` of them, no
    initial contents). ``family`` is ``"ice40"`` or ``"ecp5"``.
    """

    name: str
    family: str
    lut4: int
    ff: int
    bram: int
    bram_bits: int
    bram_geometries: tuple[tuple[int, int], ...]
    bram_primitive: str
    spram: int = 0
    spram_geometry: tuple[int, int] = (0, 0)
    dsp: int = 0
    dsp_primitive: str = ""

    @property
    def bram_kbits(self) -> int:
        return self.bram * self.bram_bits // 1024

    def fraction(self, resource: str, used: int) -> float:
        """``used`` as a fraction of the device's ``resource`` (``lut4``, ``ff``, ``bram``, ``spram``, ``dsp``)."""
        total = getattr(self, resource)
        return used / total if total else 0.0


_ICE40_BRAM = ((256, 16), (512, 8), (1024, 4), (2048, 2))
_ECP5_EBR = ((16384, 1), (8192, 2), (4096, 4), (2048, 9), (1024, 18), (512, 36))

DEVICES: dict[str, Device] = {d.name: d for d in (
    Device("iCE40UP5K", "ice40", lut4=5280, ff=5280, bram=30, bram_bits=4096, bram_geometries=_ICE40_BRAM,
           bram_primitive="SB_RAM40_4K", spram=4, spram_geometry=(16384, 16), dsp=8, dsp_primitive="SB_MAC16"),
    Device("LFE5U-85F", "ecp5", lut4=83640, ff=83640, bram=208, bram_bits=18432, bram_geometries=_ECP5_EBR,
           bram_primitive="DP16KD", dsp=156, dsp_primitive="MULT18X18D"),
    Device("LFE5UM5G-85F", "ecp5", lut4=83640, ff=83640, bram=208, bram_bits=18432, bram_geometries=_ECP5_EBR,
           bram_primitive="DP16KD", dsp=156, dsp_primitive="MULT18X18D"),
)}
