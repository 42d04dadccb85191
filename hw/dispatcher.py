"""Event dispatcher: plays spike lists as words of accumulate commands to every core.

A step of the network is a fixed sequence of *runs*; a run is one or more *segments* played back
to back, then drained (:func:`segments`)::

    run 0: REC_0           (spikes of layer 0 at t−1 → layer 0)      while the encoder sweeps step t
    run 1: FF_0            (input spikes at t → layer 0)
    run l+1: OUT_{l−1}, REC_l, FF_l   for l = 1 … D−1
    run D+1: OUT_{D−1}     (→ readout)

A dense event (``FF``/``REC``, source ``j`` into layer ``l``) is ``q_l = n_l / B`` words at weight
words ``base + j·q_l + a``, bank address ``a = 0 … q_l − 1``; an ``OUT`` event is ``W_l[j]`` routing
words from the pointer ROM. Fetching (list read, pointer read) is pipelined ahead of issuing and
empty segments are skipped without a cycle, so a run of events ``e`` costs exactly
:data:`RUN_OVERHEAD` + ``Σ_e max(1, words_e)`` cycles from ``start`` to ``done`` (an empty run
costs :data:`EMPTY_RUN_CYCLES`); ``done`` rises once the last word's accumulation has been written
in every bank, so a sweep may start in the same cycle.
"""

from __future__ import annotations

import dataclasses

from amaranth.hdl import Array, Assert, Module, Mux, Signal, Value, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from ..golden_model.config import Config
from .bank import ACC_LATENCY
from .core import CORE_LATENCY
from .formats import AccKind, formats_for
from .params import HwParams, bits_for, checked_params

__all__ = ["EMPTY_RUN_CYCLES", "RUN_OVERHEAD", "Dispatcher", "Segment", "runs", "segments"]

#: start registered, fetch (position registered, list read, list data registered, pointer read,
#: hand-over) before the first word, and the drain after the last
RUN_OVERHEAD = 7 + CORE_LATENCY + ACC_LATENCY
EMPTY_RUN_CYCLES = 3


@dataclasses.dataclass(frozen=True)
class Segment:
    """One segment of a run: the events of list ``source`` (0 = inputs, l + 1 = hidden layer l)."""

    name: str
    source: int
    kind: AccKind
    layer: int            # target layer (DENSE) or source layer (OUT)
    weight_base: int      # first weight word (DENSE) — OUT words come from the pointer ROM
    words: int            # q of the target layer (DENSE)
    acc_base: int         # first accumulator word of the target population


def segments(p: HwParams) -> tuple[Segment, ...]:
    """The segments of one step, in order."""
    D = p.layers
    out = []

    def dense(kind: str, l: int) -> Segment:
        ff, rec = p.weight_base[l]
        source = l if kind == "FF" else l + 1
        return Segment(f"{kind}_{l}", source, AccKind.DENSE, l, ff if kind == "FF" else rec, p.words[l], p.pop_base[l])

    out += [dense("REC", 0), dense("FF", 0)]
    for l in range(1, D):
        out += [Segment(f"OUT_{l - 1}", l, AccKind.OUT, l - 1, 0, 0, p.pop_base[D]), dense("REC", l), dense("FF", l)]
    out.append(Segment(f"OUT_{D - 1}", D, AccKind.OUT, D - 1, 0, 0, p.pop_base[D]))
    return tuple(out)


def runs(p: HwParams) -> tuple[tuple[int, int], ...]:
    """``(first, last)`` segment of every run of a step."""
    D = p.layers
    return ((0, 0), (1, 1), *((2 + 3 * (l - 1), 4 + 3 * (l - 1)) for l in range(1, D)), (3 * D - 1, 3 * D - 1))


@dataclasses.dataclass(frozen=True)
class _Fetch:
    """The fetch stages' registers that the issuer and the ``done`` logic read."""

    pending: Signal       # start registered
    running: Signal       # F walks the lists
    a_valid: Signal
    p_valid: Signal
    q_valid: Signal
    e_valid: Signal       # an event waits in E for the issuer
    e_seg: Signal
    e_j: Signal


class Dispatcher(wiring.Component):
    """Plays the runs of a step (``start`` with ``run``) into accumulate commands on ``acc``.

    ``counts[s]`` is the length of list ``s`` (0 inputs, l + 1 hidden layer l); list entries are
    read through ``list_addr``/``list_sel``/``list_data`` (one cycle; ``list_en`` only for an entry
    that exists, ``list_addr < counts[list_sel]``, so never the one being appended) and readout pointers through
    ``ptr_addr``/``ptr_data`` (one cycle).
    """

    def __init__(self, cfg: Config) -> None:
        self._p = p = checked_params(self, cfg)
        fmt = formats_for(cfg)
        self._segments, self._runs = segments(p), runs(p)
        largest = max(cfg.n_inputs, *cfg.hidden)
        super().__init__({
            "start": In(1), "run": In(range(len(self._runs))), "done": Out(1),
            "counts": In(data.ArrayLayout(unsigned(bits_for(largest + 1)), p.layers + 1)),
            "list_sel": Out(range(p.layers + 1)), "list_addr": Out(bits_for(largest)), "list_en": Out(1),
            "list_data": In(p.neuron_bits),
            "ptr_addr": Out(bits_for(p.pointer_depth)), "ptr_en": Out(1), "ptr_data": In(fmt.pointer),
            "acc": Out(fmt.stream(fmt.acc_command)),
        })

    def _next_nonempty(self, m: Module, after: Value, end: Value, name: str) -> tuple[Value, Value]:
        """``(found, segment)``: the first segment ``s`` with ``after < s ≤ end`` whose list is not empty."""
        found, seg = Signal(name=f"{name}_found"), Signal(range(len(self._segments)), name=f"{name}_seg")
        for index in reversed(range(len(self._segments))):
            with m.If((index > after) & (index <= end) & (self.counts[self._segments[index].source] != 0)):
                m.d.comb += [found.eq(1), seg.eq(index)]
        return found, seg

    def elaborate(self, platform: object) -> Module:
        m = Module()
        # stall = e_valid & ~accept, kept in a register (it enables every fetch stage and the list
        # memory: as logic it is a high-fan-out path at 100 MHz), loaded by the issuer
        stall = Signal()
        fetch = self._fetch(m, stall)
        remaining = self._issue(m, fetch, stall)
        # ---- done: nothing left to fetch or issue, and the last write has landed
        in_flight = fetch.a_valid | fetch.p_valid | fetch.q_valid | fetch.e_valid | (remaining != 0)
        drain = Signal(range(CORE_LATENCY + ACC_LATENCY + 2))
        with m.If(in_flight):                                   # an event is under way
            m.d.sync += drain.eq(CORE_LATENCY + ACC_LATENCY)
        with m.Elif(drain != 0):
            m.d.sync += drain.eq(drain - 1)
        m.d.comb += self.done.eq(~fetch.running & ~in_flight & (drain == 0) & ~fetch.pending)
        return m

    def _fetch(self, m: Module, stall: Signal) -> _Fetch:
        """The fetch stages F, A, P, Q and E: list position → list entry ``j`` → readout pointer of
        ``j`` → the event waiting for the issuer (all held while ``stall``)."""
        p, segs = self._p, self._segments
        n_seg = len(segs)
        seg_count = Array(self.counts[s.source] for s in segs)
        first = Array(a for a, _ in self._runs)
        last = Array(b for _, b in self._runs)
        # ---- F: the position (seg, k) is resolved in the same cycle to the next event that exists
        # (k past the end of its list, or an empty list, moves on to the next non-empty segment), so
        # empty segments and segment boundaries cost nothing. The list lengths are read live from
        # the second cycle after `start`: the sweep that wrote the last spike may have finished in the very
        # cycle of the `start`.
        seg, k = Signal(range(n_seg)), Signal(range(max(p.cfg.n_inputs, *p.cfg.hidden) + 1))
        end = Signal(range(n_seg))
        running = Signal()
        here = k < seg_count[seg]
        next_found, next_seg = self._next_nonempty(m, seg, end, "next")
        f_seg, f_k, f_valid = Signal.like(seg), Signal.like(k), Signal()
        m.d.comb += [f_seg.eq(Mux(here, seg, next_seg)), f_k.eq(Mux(here, k, 0)),
                     f_valid.eq(running & (here | next_found))]
        # `start` and `run` are registered first (`pending`): the sequencer's phase logic that
        # raises `start` is not in front of the fetch registers
        pending, run = Signal(), Signal.like(self.run)
        m.d.sync += pending.eq(self.start)
        with m.If(self.start):
            m.d.sync += run.eq(self.run)
        with m.If(pending):
            m.d.sync += [seg.eq(first[run]), end.eq(last[run]), k.eq(0), running.eq(1)]
        with m.Elif(running & ~stall):
            m.d.sync += [seg.eq(f_seg), k.eq(f_k + 1), running.eq(f_valid)]
        # ---- A: the list position is registered before it addresses the list memory (the search
        # for the next non-empty segment and a LUT-RAM read do not fit one cycle at 100 MHz)
        a_valid, a_seg, a_k = Signal(), Signal(range(n_seg)), Signal.like(k)
        with m.If(~stall):
            m.d.sync += [a_valid.eq(f_valid), a_seg.eq(f_seg), a_k.eq(f_k)]
        m.d.comb += [self.list_sel.eq(Array(s.source for s in segs)[a_seg]), self.list_addr.eq(a_k),
                     self.list_en.eq(a_valid & ~stall), self.ptr_en.eq(~stall)]
        # ---- P: the source j is on list_data (a block RAM); registered before it addresses the
        # pointer ROM (another block RAM)
        p_valid, p_seg = Signal(), Signal(range(n_seg))
        q_valid, q_seg, q_j = Signal(), Signal(range(n_seg)), Signal.like(self.list_data)
        with m.If(~stall):
            m.d.sync += [p_valid.eq(a_valid), p_seg.eq(a_seg), q_valid.eq(p_valid), q_seg.eq(p_seg),
                         q_j.eq(self.list_data)]
        # ---- Q: read the readout pointer of j
        m.d.comb += self.ptr_addr.eq(Array(p.pointer_base[s.layer] for s in segs)[q_seg] + q_j)
        # ---- E: the event (first word, word count) waits for the issuer
        e_valid, e_seg, e_j = Signal(), Signal(range(n_seg)), Signal.like(self.list_data)
        with m.If(~stall):
            m.d.sync += [e_valid.eq(q_valid), e_seg.eq(q_seg), e_j.eq(q_j)]
        return _Fetch(pending, running, a_valid, p_valid, q_valid, e_valid, e_seg, e_j)

    def _issue(self, m: Module, fetch: _Fetch, stall: Signal) -> Signal:
        """The issuer: one word per cycle of the event in E; it takes the next event in the cycle of
        its last word. An event without words (an OUT source with no readout targets) still takes
        one cycle. Returns ``remaining``, the words of the current event still to issue."""
        p, segs = self._p, self._segments
        e_valid, e_seg, e_j = fetch.e_valid, fetch.e_seg, fetch.e_j
        is_out = Array(s.kind == AccKind.OUT for s in segs)[e_seg]
        e_start = Signal.like(self.acc.payload.waddr)
        e_words = Signal(range(max(p.max_route_words, *p.words) + 1))
        # dense: base + j·q, with q a constant of each segment (a shift-and-add, not a multiplier)
        dense_start = Array(s.weight_base + e_j * max(1, s.words) for s in segs)[e_seg]
        m.d.comb += [e_start.eq(Mux(is_out, self.ptr_data.start, dense_start)),
                     e_words.eq(Mux(is_out, self.ptr_data.words, Array(s.words for s in segs)[e_seg]))]
        remaining = Signal.like(e_words)
        live = Signal()
        waddr, a = Signal.like(e_start), Signal.like(self.acc.payload.a)
        kind, base = Signal(AccKind), Signal.like(self.acc.payload.base)
        accept = Signal()
        m.d.comb += accept.eq(remaining <= 1)
        # the stall register, loaded from the next values of e_valid and remaining
        e_valid_next = Mux(stall, e_valid, fetch.q_valid)
        more_next = Mux(e_valid & accept, e_words > 1, remaining > 2)
        m.d.sync += stall.eq(e_valid_next & more_next)
        m.d.sync += Assert(stall == (e_valid & ~accept), "dispatcher: the stall register = e_valid & remaining > 1")
        m.d.comb += [self.acc.valid.eq((remaining != 0) & live), self.acc.payload.kind.eq(kind),
                     self.acc.payload.waddr.eq(waddr), self.acc.payload.a.eq(a), self.acc.payload.base.eq(base)]
        with m.If(remaining != 0):
            m.d.sync += [remaining.eq(remaining - 1), waddr.eq(waddr + 1), a.eq(a + 1)]
        with m.If(e_valid & accept):
            m.d.sync += [remaining.eq(Mux(e_words == 0, 1, e_words)), live.eq(e_words != 0), waddr.eq(e_start), a.eq(0),
                         kind.eq(Mux(is_out, AccKind.OUT, AccKind.DENSE)),
                         base.eq(Array(s.acc_base for s in segs)[e_seg])]
        return remaining
