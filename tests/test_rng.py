"""The counter-based generator: known answers, twins, and the properties the learning rule needs."""

from __future__ import annotations

import numpy as np
import pytest

from modsnn.golden_model import rng
from modsnn.golden_model.rng import Stream

# Known answers computed with the canonical C code of Bob Jenkins' 32-bit integer hash
# (uint32_t arithmetic), independent of this project's implementation.
KAT = [
    (0x00000000, 0x6B4ED927),
    (0x00000001, 0xB48681B6),
    (0x00000002, 0xE267B84C),
    (0xDEADBEEF, 0x7FF0EADA),
    (0xFFFFFFFF, 0xFE64C182),
    (0x00003039, 0xB6523C53),
    (0x80000000, 0x7E7B3C12),
]


@pytest.mark.parametrize(("word", "expected"), KAT)
def test_hash_known_answers(word: int, expected: int) -> None:
    assert int(rng.hash32(np.uint32(word))) == expected
    assert rng.hash32_int(word) == expected


def test_key_chain_known_answer() -> None:
    # C: k = h(h(h(h(1)^4)^0)^0); row = h(k^3); element = h(row^5)
    row = rng.row_keys(1, Stream.FEEDBACK, 0, 0, np.array([3]))
    assert int(row[0]) == 0x33E60FED
    assert int(rng.element_words(row, np.array([5]))[0, 0]) == 0x0FAE103A
    assert int(rng.key(1, 4, 0, 0, 3)) == 0x33E60FED
    assert rng.key_int(1, 4, 0, 0, 3) == 0x33E60FED


def test_numpy_and_python_twins_agree(stim_rng: np.random.Generator) -> None:
    words = stim_rng.integers(0, 2**32, size=2000, dtype=np.uint64).astype(np.uint32)
    assert [int(v) for v in rng.hash32(words)] == [rng.hash32_int(int(w)) for w in words]


def test_stochastic_round_is_exactly_unbiased() -> None:
    shift = 6
    # Every possible value of the rounding bits once: the mean is exactly v / 2^shift.
    words = (np.arange(1 << shift, dtype=np.uint32) << np.uint32(32 - shift))
    for v in (-1000, -65, -1, 0, 1, 37, 64, 12345):
        out = rng.stochastic_round(np.full(words.shape, v, np.int64), words, shift)
        assert out.sum() == v  # Σ over 2^shift draws = v exactly
        assert set(out.tolist()) <= {v >> shift, (v >> shift) + 1}
    assert rng.stochastic_round(np.array([5, -5]), np.array([0, 0], np.uint32), 0).tolist() == [5, -5]


def test_element_words_do_not_depend_on_how_the_grid_is_cut() -> None:
    rows, cols = np.arange(16), np.arange(40)
    keys = rng.row_keys(9, Stream.ROUND_FF, 17, 0, rows)
    whole = rng.element_words(keys, cols)
    for lanes in (1, 2, 4, 8):
        parts = np.concatenate([rng.element_words(keys, cols[i:i + lanes]) for i in range(0, 40, lanes)], axis=1)
        np.testing.assert_array_equal(parts, whole)
    single = rng.element_words(rng.row_keys(9, Stream.ROUND_FF, 17, 0, np.array([5])), np.array([7]))
    assert single[0, 0] == whole[5, 7]


def test_signs_are_balanced_and_fixed() -> None:
    s = rng.signs(3, Stream.FEEDBACK, 0, 256, 10)
    assert set(np.unique(s).tolist()) == {-1, 1}
    assert abs(s.mean()) < 0.1
    np.testing.assert_array_equal(s, rng.signs(3, Stream.FEEDBACK, 0, 256, 10))
    assert not np.array_equal(s, rng.signs(4, Stream.FEEDBACK, 0, 256, 10))


def test_uniform_int_and_permutation() -> None:
    words = rng.element_words(rng.row_keys(1, Stream.INIT_FF, 0, 0, np.arange(100)), np.arange(100))
    u = rng.uniform_int(words, -3, 3)
    assert u.min() == -3 and u.max() == 3
    counts = np.bincount(u.ravel() + 3)
    assert counts.min() > 1300  # 10,000 draws over 7 values
    p = rng.permutation(1000, 1, 9, 0)
    assert sorted(p.tolist()) == list(range(1000))
    assert not np.array_equal(p, rng.permutation(1000, 1, 9, 1))


def test_negative_key_words_are_rejected() -> None:
    with pytest.raises(ValueError, match="must be non-negative"):
        rng.key(np.array([-1]))
    with pytest.raises(ValueError, match="32-bit non-negative"):
        rng.key_int(1, -2)
