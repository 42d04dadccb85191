"""Counter-based random generator shared, bit for bit, by the golden model and the hardware.

Every random bit modsnn uses (stochastic rounding, fixed feedback signs, initial weights, the
small-world rewiring, the data order) is a pure function of a tuple of 32-bit words, so any
number of lanes or cores reproduces exactly the same bits: there is no generator state.

**Mixer** — Bob Jenkins' 32-bit integer hash (six shift/add/xor stages, multiply-free, so a
circuit needs only adders and XORs; all arithmetic modulo 2^32)::

    a = (a + 0x7ed55d16) + (a << 12)
    a = (a ^ 0xc761c23c) ^ (a >> 19)
    a = (a + 0x165667b1) + (a << 5)
    a = (a + 0xd3a2646c) ^ (a << 9)
    a = (a + 0xfd7046c5) + (a << 3)
    a = (a ^ 0xb55a4f09) ^ (a >> 16)

**Keys** — ``key(w0, w1, ..., wn) = H(...H(H(w0) ^ w1)... ^ wn)``: a chain of the mixer, XOR-ing
in one word per stage. A *row key* is ``key(seed, stream, sample, layer, i)``; the word for one
element ``(i, j)`` of a row is ``H(rowkey_i ^ j)``. Hardware computes a row key once per row
(five mixer passes) and one mixer pass per synapse.

**Stochastic rounding** of ``v / 2^s``: ``(v + r) >> s`` with ``r`` the top ``s`` bits of the
element word (``r = word >> (32 - s)``; ``r = 0`` when ``s = 0``). Because ``r`` is uniform on
``[0, 2^s)``, ``E[(v + r) >> s] = v / 2^s`` exactly, for negative ``v`` too.

**Signs** — bit 31 of an element word: 1 → +1, 0 → −1.
"""

from __future__ import annotations

import enum
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = [
    "Stream",
    "element_words",
    "hash32",
    "hash32_int",
    "key",
    "key_int",
    "permutation",
    "row_keys",
    "signs",
    "stochastic_round",
    "uniform_int",
]

U32 = np.uint32
MASK32 = 0xFFFF_FFFF
UArray = npt.NDArray[np.uint32]
IArray = npt.NDArray[np.int64]


class Stream(enum.IntEnum):
    """Independent random streams (the second key word)."""

    ROUND_FF = 1     # stochastic rounding, feed-forward hidden weights
    ROUND_REC = 2    # stochastic rounding, recurrent hidden weights
    ROUND_OUT = 3    # stochastic rounding, readout weights
    FEEDBACK = 4     # fixed broadcast-alignment signs B_ic
    INIT_FF = 5      # initial weights
    INIT_REC = 6
    INIT_OUT = 7
    TOPOLOGY = 8     # small-world rewiring
    ORDER = 9        # training-set order per epoch
    SPLIT = 10       # train/test split of datasets without an official one


_HASH_ADD = tuple(U32(c) for c in (0x7ED55D16, 0x165667B1, 0xD3A2646C, 0xFD7046C5))
_HASH_XOR = tuple(U32(c) for c in (0xC761C23C, 0xB55A4F09))


def hash32(a: Any) -> Any:
    """Jenkins' six-stage integer hash of uint32 scalars or arrays (see module docstring).

    Works on one copy of ``a`` in place, with one scratch array (the six stages are the module
    docstring's, in that order; uint32 arithmetic wraps modulo 2^32).
    """
    a = np.array(a, dtype=U32)
    t = np.empty_like(a)
    add0, add2, add3, add4 = _HASH_ADD
    xor1, xor5 = _HASH_XOR
    np.left_shift(a, 12, out=t)
    a += add0
    a += t                                   # (a + 0x7ed55d16) + (a << 12)
    np.right_shift(a, 19, out=t)
    a ^= xor1
    a ^= t                                   # (a ^ 0xc761c23c) ^ (a >> 19)
    np.left_shift(a, 5, out=t)
    a += add2
    a += t                                   # (a + 0x165667b1) + (a << 5)
    np.left_shift(a, 9, out=t)
    a += add3
    a ^= t                                   # (a + 0xd3a2646c) ^ (a << 9)
    np.left_shift(a, 3, out=t)
    a += add4
    a += t                                   # (a + 0xfd7046c5) + (a << 3)
    np.right_shift(a, 16, out=t)
    a ^= xor5
    a ^= t                                   # (a ^ 0xb55a4f09) ^ (a >> 16)
    return a[()] if a.ndim == 0 else a


def hash32_int(a: int) -> int:
    """Pure-Python twin of :func:`hash32` for one word (written like the circuit, for reference)."""
    a &= MASK32
    a = ((a + 0x7ED55D16) + (a << 12)) & MASK32
    a = ((a ^ 0xC761C23C) ^ (a >> 19)) & MASK32
    a = ((a + 0x165667B1) + (a << 5)) & MASK32
    a = ((a + 0xD3A2646C) ^ (a << 9)) & MASK32
    a = ((a + 0xFD7046C5) + (a << 3)) & MASK32
    a = ((a ^ 0xB55A4F09) ^ (a >> 16)) & MASK32
    return a


def _word(w: Any) -> Any:
    if isinstance(w, np.ndarray):
        if w.dtype == U32:
            return w
        if w.dtype.kind == "i":           # index arrays: check the sign once, then narrow
            if w.size and w.min() < 0:
                raise ValueError(f"key words must be non-negative, not {w!r}")
            return w.astype(U32)
    arr = np.asarray(w)
    if arr.dtype.kind == "i" and np.any(arr < 0):
        raise ValueError(f"key words must be non-negative, not {w!r}")
    return (arr.astype(np.uint64) & np.uint64(MASK32)).astype(U32)


def key_int(*words: int) -> int:
    """:func:`key` of plain Python integers (the fast path for scalar prefixes)."""
    if not words:
        raise ValueError("key() needs at least one word")
    h = 0
    for n, w in enumerate(words):
        if not 0 <= w <= MASK32:
            raise ValueError(f"key words must be 32-bit non-negative integers, not {w!r}")
        h = hash32_int(w if n == 0 else h ^ w)
    return h


def key(*words: Any) -> Any:
    """``H(...H(H(w0) ^ w1)... ^ wn)``; words broadcast like NumPy arrays."""
    if not words:
        raise ValueError("key() needs at least one word")
    if all(isinstance(w, int) for w in words):
        return U32(key_int(*words))
    h = hash32(_word(words[0]))
    for w in words[1:]:
        h = hash32(h ^ _word(w))
    return h


def row_keys(seed: int, stream: Stream, sample: int, layer: int, rows: Any) -> UArray:
    """Row keys ``key(seed, stream, sample, layer, i)`` for every ``i`` in ``rows``."""
    prefix = U32(key_int(seed, int(stream), sample & MASK32, layer))
    return hash32(prefix ^ _word(rows))


def element_words(rowkeys: UArray, cols: Any) -> UArray:
    """``H(rowkey_i ^ j)`` for the outer grid of ``rowkeys`` × ``cols``."""
    return hash32(rowkeys[:, None] ^ _word(cols)[None, :])


def stochastic_round(values: IArray, words: UArray, shift: int) -> IArray:
    """``(v + r) >> shift`` with ``r = words >> (32 - shift)``: unbiased rounding of ``v / 2^shift``."""
    if shift == 0:
        return values.astype(np.int64)
    r = (words >> U32(32 - shift)).astype(np.int64)
    return (values + r) >> shift


def signs(seed: int, stream: Stream, layer: int, rows: int, cols: int) -> IArray:
    """A fixed ``rows × cols`` matrix of ±1 (bit 31 of each element word, sample word 0)."""
    words = element_words(row_keys(seed, stream, 0, layer, np.arange(rows)), np.arange(cols))
    return np.where(words >> U32(31), 1, -1).astype(np.int64)


def uniform_int(words: UArray, lo: int, hi: int) -> IArray:
    """Map 32-bit words to integers uniform on ``[lo, hi]``: ``lo + (word · (hi-lo+1)) >> 32``."""
    span = np.uint64(hi - lo + 1)
    return (lo + ((words.astype(np.uint64) * span) >> np.uint64(32)).astype(np.int64))


def permutation(n: int, *words: int) -> IArray:
    """A deterministic permutation of ``range(n)``: indices sorted by ``H(key(*words) ^ index)``
    (ties, which are rare, by index)."""
    h = hash32(key(*words) ^ np.arange(n, dtype=np.uint64).astype(U32))
    return np.lexsort((np.arange(n), h)).astype(np.int64)
