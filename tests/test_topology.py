"""Small-world masks, their statistics, and the compressed routing table."""

from __future__ import annotations

import numpy as np
import pytest

from modsnn.golden_model.topology import routing_table, small_world_mask, small_world_stats


@pytest.mark.parametrize(("n_out", "n_pre", "p", "beta"), [(100, 256, 0.05, 0.2), (20, 32, 0.5, 0.0),
                                                           (100, 128, 1.0, 0.3), (7, 50, 0.1, 1.0)])
def test_every_readout_neuron_has_exactly_d_inputs(n_out: int, n_pre: int, p: float, beta: float) -> None:
    mask = small_world_mask(n_out, n_pre, p, beta, seed=1)
    d = max(1, round(p * n_pre))
    assert mask.shape == (n_out, n_pre)
    assert (mask.sum(axis=1) == d).all()
    assert mask.mean() == pytest.approx(d / n_pre)


def test_beta_zero_is_a_ring_of_local_blocks() -> None:
    mask = small_world_mask(10, 100, 0.1, 0.0, seed=1)
    for k in range(10):
        cols = np.flatnonzero(mask[k])
        centre = ((2 * k + 1) * 100) // 20
        assert cols.tolist() == sorted(((centre - 5 + np.arange(10)) % 100).tolist())


def test_mask_is_fixed_by_seed() -> None:
    a = small_world_mask(100, 256, 0.05, 0.2, seed=1)
    np.testing.assert_array_equal(a, small_world_mask(100, 256, 0.05, 0.2, seed=1))
    assert not np.array_equal(a, small_world_mask(100, 256, 0.05, 0.2, seed=2))
    assert not np.array_equal(a, small_world_mask(100, 256, 0.05, 0.2, seed=1, layer=1))


def test_rewiring_fraction_tracks_beta() -> None:
    lattice = small_world_mask(100, 256, 0.05, 0.0, seed=1)
    for beta in (0.1, 0.3):
        mask = small_world_mask(100, 256, 0.05, beta, seed=1)
        moved = (mask & ~lattice).sum() / lattice.sum()
        assert abs(moved - beta) < 0.06


def test_small_world_statistics() -> None:
    sw = small_world_stats(100, 256, 0.05, 0.1, seed=1)
    lattice = small_world_stats(100, 256, 0.05, 0.0, seed=1)
    assert sw.density == pytest.approx(13 / 256)
    # High clustering like the lattice, short paths like the random graph: small-world.
    assert sw.clustering > 1.5 * sw.random_clustering
    assert sw.path_length < 0.6 * lattice.path_length
    assert sw.path_length < 1.5 * sw.random_path_length
    assert sw.sigma > 1.3
    assert lattice.clustering > sw.clustering


def test_routing_table_views_agree() -> None:
    mask = small_world_mask(100, 256, 0.05, 0.2, seed=3)
    table = routing_table(mask)
    np.testing.assert_array_equal(table.to_mask(), mask)
    assert table.nnz == mask.sum() == table.fanout().sum() == table.fanin().sum()
    np.testing.assert_array_equal(table.fanin(), mask.sum(axis=1))
    # Target-major weight words: word w belongs to target k with col_ptr[k] <= w < col_ptr[k+1].
    for e in range(table.nnz):
        k, w = table.target[e], table.weight_addr[e]
        assert table.col_ptr[k] <= w < table.col_ptr[k + 1]
        j = np.searchsorted(table.row_ptr, e, side="right") - 1
        assert table.source[w] == j
    # Each source's entries are in ascending target order.
    for j in range(256):
        row = table.target[table.row_ptr[j]:table.row_ptr[j + 1]]
        assert (np.diff(row) > 0).all()


def test_bad_mask_parameters() -> None:
    with pytest.raises(ValueError, match=r"density must be in \(0, 1\], not 0"):
        small_world_mask(10, 10, 0, 0.1, seed=1)
    with pytest.raises(ValueError, match=r"beta must be in \[0, 1\], not 1.5"):
        small_world_mask(10, 10, 0.5, 1.5, seed=1)
    with pytest.raises(ValueError, match="n_out ≥ 1"):
        small_world_mask(0, 10, 0.5, 0.1, seed=1)
