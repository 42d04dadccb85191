"""Formal proofs of gateware blocks with SymbiYosys (``make formal``, ``python -m modsnn.sim.formal``).

Each check wraps one block of :mod:`modsnn.hw` in a small component that states the block's
properties (``Assert``) under assumptions on its environment (``Assume``); :mod:`.harness` converts
the wrapper to RTLIL, writes a ``.sby`` file into ``build/formal/<check>/`` and runs ``yowasp-sby``
with the ``smtbmc yices`` engine. :mod:`.checks` lists the checks, :mod:`.properties` holds the
reusable property builders (stream handshake rules, past-value registers).
"""

from .harness import Check, FormalToolMissing, Result, formal_root, run_check

__all__ = ["Check", "FormalToolMissing", "Result", "formal_root", "run_check"]
