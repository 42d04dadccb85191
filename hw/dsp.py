"""Registers in the iCE40 UltraPlus DSP blocks: ``SB_MAC16`` used as storage, not as a multiplier.

The UP5K of the iCEBreaker has eight ``SB_MAC16`` blocks and runs out of logic cells long before
them, and an iCE40 logic cell holds one flip-flop: a register fed by another register (a delay
line) or by a block RAM cannot share its cell with logic, so it costs a whole cell per bit. An
``SB_MAC16`` holds 96 bits of such registers. With its adders bypassed (``OLOADTOP``/``OLOADBOT``
high: the output registers load ``C`` and ``D``; Lattice's *iCE40 DSP Function Usage Guide*, the
Yosys cell model ``ice40/cells_sim.v``) it is:

* :func:`mac16_delay` — up to 32 bits delayed by 1 cycle (output registers) or 2 (``C``/``D``
  input registers, then the output registers);
* :func:`mac16_register` — a 32-bit register loaded when ``load`` is high.

Unlike a gateware register these have no synchronous reset (their reset inputs are asynchronous
and tied low): they hold data whose consumers are qualified by a valid bit kept in logic. Off the
iCE40 UltraPlus the callers build ordinary registers (:func:`~modsnn.hw.bank.delay`); the gate-level
bench (``make test-gatelevel``) runs the iCE40 netlist with the Yosys cell model, and a bench of
its own checks these blocks on the netlist against Python (``tests/test_gatelevel.py``).

Yosys must not treat these blocks as multipliers: ``synth_ice40 -dsp`` re-packs every ``SB_MAC16``
it meets and rewrites its parameters and ports. The board builds therefore rename them to
:data:`MAC16_ALIAS` (a black box with the ``SB_MAC16`` ports) before synthesis and back after it
(:func:`modsnn.boards.build.yosys_after_read`, :func:`~modsnn.boards.build.yosys_after_synth`).
"""

from __future__ import annotations

from amaranth.hdl import ClockSignal, Const, Instance, Module, Signal, Value

__all__ = ["MAC16_ALIAS", "MAC16_BITS", "mac16_delay", "mac16_register"]

#: bits one SB_MAC16 stores (its two 16-bit output registers)
MAC16_BITS = 32
#: the cell type the storage SB_MAC16 blocks carry through ``synth_ice40`` (hidden from ``ice40_dsp``)
MAC16_ALIAS = "MODSNN_MAC16"


def _mac16(m: Module, name: str, value: Value, *, input_registers: bool, hold: Value) -> Signal:
    """One ``SB_MAC16``: ``O`` = ``C:D`` (= ``value``, zero-extended) through the input registers
    when ``input_registers``, then through the output registers, which keep their value while ``hold``."""
    if len(value) > MAC16_BITS:
        raise ValueError(f"an SB_MAC16 holds at most {MAC16_BITS} bits, not {len(value)}")
    wide = Signal(MAC16_BITS, name=f"{name}_in")
    out = Signal(MAC16_BITS, name=f"{name}_out")
    m.d.comb += wide.eq(value)
    zero16, low = Const(0, 16), Const(0, 1)
    reg = int(input_registers)
    m.submodules[name] = Instance(
        "SB_MAC16",
        p_NEG_TRIGGER=Const(0, 1), p_C_REG=Const(reg, 1), p_A_REG=Const(0, 1), p_B_REG=Const(0, 1),
        p_D_REG=Const(reg, 1), p_TOP_8x8_MULT_REG=Const(0, 1), p_BOT_8x8_MULT_REG=Const(0, 1),
        p_PIPELINE_16x16_MULT_REG1=Const(0, 1), p_PIPELINE_16x16_MULT_REG2=Const(0, 1),
        p_TOPOUTPUT_SELECT=Const(1, 2), p_TOPADDSUB_LOWERINPUT=Const(0, 2), p_TOPADDSUB_UPPERINPUT=Const(1, 1),
        p_TOPADDSUB_CARRYSELECT=Const(0, 2), p_BOTOUTPUT_SELECT=Const(1, 2), p_BOTADDSUB_LOWERINPUT=Const(0, 2),
        p_BOTADDSUB_UPPERINPUT=Const(1, 1), p_BOTADDSUB_CARRYSELECT=Const(0, 2), p_MODE_8x8=Const(1, 1),
        p_A_SIGNED=Const(0, 1), p_B_SIGNED=Const(0, 1),
        i_CLK=ClockSignal("sync"), i_CE=Const(1, 1), i_C=wide[16:], i_A=zero16, i_B=zero16, i_D=wide[:16],
        i_AHOLD=low, i_BHOLD=low, i_CHOLD=low, i_DHOLD=low, i_IRSTTOP=low, i_IRSTBOT=low, i_ORSTTOP=low,
        i_ORSTBOT=low, i_OLOADTOP=Const(1, 1), i_OLOADBOT=Const(1, 1), i_ADDSUBTOP=low, i_ADDSUBBOT=low,
        i_OHOLDTOP=hold, i_OHOLDBOT=hold, i_CI=low, i_ACCUMCI=low, i_SIGNEXTIN=low,
        o_O=out)
    return out


def mac16_delay(m: Module, value: Value, cycles: int, name: str) -> Value:
    """``value`` (at most 32 bits) ``cycles`` (1 or 2) cycles later, in one ``SB_MAC16``."""
    if cycles not in (1, 2):
        raise ValueError(f"an SB_MAC16 delays by 1 or 2 cycles, not {cycles!r}")
    return _mac16(m, name, value, input_registers=cycles == 2, hold=Const(0, 1))[:len(value)]


def mac16_register(m: Module, value: Value, load: Value, name: str) -> Value:
    """A register of ``len(value)`` (at most 32) bits in one ``SB_MAC16``: it takes ``value`` at the
    end of every cycle in which ``load`` is high and keeps its contents otherwise."""
    return _mac16(m, name, value, input_registers=False, hold=~load)[:len(value)]
