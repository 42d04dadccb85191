"""PLL parameters for a requested clock: ECP5 ``EHXPLLL`` and iCE40 ``SB_PLL40_*``.

Both searches are those of the Project Trellis / IceStorm calculators (``ecppll``, ``icepll``),
with their frequency limits, done in exact rational arithmetic; the unit tests check them against
parameter sets those tools print. A request the PLL cannot meet within ``tolerance`` (relative)
raises :class:`ValueError` naming the requested and the nearest achievable frequency.

**ECP5** (feedback from ``CLKOP``): ``f_pfd = f_in / CLKI_DIV`` in [3.125, 400] MHz,
``f_out = f_pfd · CLKFB_DIV`` in [10, 400] MHz, ``f_vco = f_out · CLKOP_DIV`` in [400, 800] MHz;
``CLKI_DIV``, ``CLKOP_DIV`` in 1…128, ``CLKFB_DIV`` in 1…80; among equally close results the one
with ``f_vco`` nearest 600 MHz. ``CLKOP_CPHASE = CLKOP_DIV // 2`` (half a period, as ``ecppll``).

**iCE40** (``FEEDBACK_PATH = "SIMPLE"``): ``f_pfd = f_in / (DIVR + 1)`` in [10, 133] MHz,
``f_vco = f_pfd · (DIVF + 1)`` in [533, 1066] MHz, ``f_out = f_vco / 2^DIVQ`` in [16, 275] MHz;
``DIVR`` 0…15, ``DIVF`` 0…127, ``DIVQ`` 1…6; ``FILTER_RANGE`` from ``f_pfd``
(< 17, 26, 44, 66, 101 MHz → 1…5, else 6); the first closest result in search order wins.
"""

from __future__ import annotations

import dataclasses
from fractions import Fraction

__all__ = ["Ecp5Pll", "Ice40Pll", "ecp5_pll", "ice40_pll"]

MHZ = 1_000_000


def _mhz(hz: Fraction | float) -> str:
    return f"{float(hz) / MHZ:.6g} MHz"


@dataclasses.dataclass(frozen=True)
class Ecp5Pll:
    """``EHXPLLL`` divider settings; frequencies in Hz."""

    clki_div: int
    clkfb_div: int
    clkop_div: int
    f_in: float
    f_out: float
    f_vco: float

    @property
    def clkop_cphase(self) -> int:
        return self.clkop_div // 2

    def parameters(self) -> dict[str, int | str]:
        """The ``EHXPLLL`` parameters (``p_`` prefix omitted)."""
        return {"PLLRST_ENA": "DISABLED", "INTFB_WAKE": "DISABLED", "STDBY_ENABLE": "DISABLED",
                "DPHASE_SOURCE": "DISABLED", "OUTDIVIDER_MUXA": "DIVA", "CLKOP_ENABLE": "ENABLED",
                "CLKOP_DIV": self.clkop_div, "CLKOP_CPHASE": self.clkop_cphase, "CLKOP_FPHASE": 0,
                "CLKFB_DIV": self.clkfb_div, "CLKI_DIV": self.clki_div, "FEEDBK_PATH": "CLKOP"}


@dataclasses.dataclass(frozen=True)
class Ice40Pll:
    """``SB_PLL40`` divider settings (simple feedback); frequencies in Hz."""

    divr: int
    divf: int
    divq: int
    filter_range: int
    f_in: float
    f_out: float
    f_vco: float

    def parameters(self) -> dict[str, int | str]:
        """The ``SB_PLL40_PAD``/``_CORE`` parameters (``p_`` prefix omitted)."""
        return {"FEEDBACK_PATH": "SIMPLE", "DIVR": self.divr, "DIVF": self.divf, "DIVQ": self.divq,
                "FILTER_RANGE": self.filter_range}


def _check(kind: str, f_in: Fraction, f_out: Fraction, best: Fraction | None, tolerance: float,
           limits: str) -> None:
    if best is None:
        raise ValueError(f"{kind} cannot make any clock from {_mhz(f_in)} ({limits})")
    if abs(best - f_out) > Fraction(tolerance) * f_out:
        raise ValueError(f"{kind} cannot make {_mhz(f_out)} from {_mhz(f_in)}: the nearest achievable "
                         f"is {_mhz(best)} ({limits}); request that, or another clock")


def ecp5_pll(f_in: float, f_out: float, tolerance: float = 1e-3) -> Ecp5Pll:
    """``EHXPLLL`` settings making ``f_out`` Hz from ``f_in`` Hz (within ``tolerance``, relative)."""
    fin, want = Fraction(f_in), Fraction(f_out)
    if not 8 * MHZ <= fin <= 400 * MHZ:
        raise ValueError(f"EHXPLLL input {_mhz(fin)} is outside 8–400 MHz")
    best: tuple[Fraction, Fraction, int, int, int] | None = None    # (error, vco distance, dividers)
    result = None
    for clki in range(1, 129):
        pfd = fin / clki
        if not Fraction(3125, 1000) * MHZ <= pfd <= 400 * MHZ:
            continue
        for clkfb in range(1, 81):
            out = pfd * clkfb
            if not 10 * MHZ <= out <= 400 * MHZ:
                continue
            for clkop in range(max(1, -(-400 * MHZ // out)), min(128, 800 * MHZ // out) + 1):
                vco = out * clkop
                key = (abs(out - want), abs(vco - 600 * MHZ), clki, clkfb, clkop)
                if best is None or key[:2] < best[:2]:
                    best, result = key, (clki, clkfb, clkop, out, vco)
    _check("EHXPLLL", fin, want, result[3] if result else None, tolerance,
           "PFD 3.125–400 MHz, VCO 400–800 MHz, output 10–400 MHz")
    assert result is not None
    clki, clkfb, clkop, out, vco = result
    return Ecp5Pll(clki, clkfb, clkop, float(fin), float(out), float(vco))


def ice40_pll(f_in: float, f_out: float, tolerance: float = 1e-3) -> Ice40Pll:
    """``SB_PLL40`` settings making ``f_out`` Hz from ``f_in`` Hz (within ``tolerance``, relative)."""
    fin, want = Fraction(f_in), Fraction(f_out)
    if not 10 * MHZ <= fin <= 133 * MHZ:
        raise ValueError(f"SB_PLL40 input {_mhz(fin)} is outside 10–133 MHz")
    result: tuple[int, int, int, Fraction, Fraction] | None = None
    for divr in range(16):
        pfd = fin / (divr + 1)
        if not 10 * MHZ <= pfd <= 133 * MHZ:
            continue
        for divf in range(128):
            vco = pfd * (divf + 1)
            if not 533 * MHZ <= vco <= 1066 * MHZ:
                continue
            for divq in range(1, 7):
                out = vco / 2**divq
                if not 16 * MHZ <= out <= 275 * MHZ:
                    continue
                if result is None or abs(out - want) < abs(result[3] - want):
                    result = (divr, divf, divq, out, vco)
    _check("SB_PLL40", fin, want, result[3] if result else None, tolerance,
           "PFD 10–133 MHz, VCO 533–1066 MHz, output 16–275 MHz")
    assert result is not None
    divr, divf, divq, out, vco = result
    pfd_mhz = fin / (divr + 1) / MHZ
    filter_range = next((i + 1 for i, edge in enumerate((17, 26, 44, 66, 101)) if pfd_mhz < edge), 6)
    return Ice40Pll(divr, divf, divq, filter_range, float(fin), float(out), float(vco))
