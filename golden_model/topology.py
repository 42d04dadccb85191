"""Fixed small-world readout projections, their statistics, and the compressed routing table.

**Mask** (``n_out × n_pre``, readout neuron ``k`` ← hidden neuron ``j``): readout and hidden
neurons sit on one ring. Readout neuron ``k`` is centred on hidden neuron
``c_k = floor((2k + 1) · n_pre / (2 n_out))`` and takes the ``d = round(p · n_pre)`` hidden neurons
``c_k - floor(d/2) ... c_k - floor(d/2) + d - 1`` (mod ``n_pre``): a ring-local block. Each link is
then, with probability ``β``, moved to a hidden neuron drawn uniformly from those ``k`` does not yet
see (Watts–Strogatz rewiring; every random choice comes from :mod:`.rng` stream ``TOPOLOGY``).
Every readout neuron keeps exactly ``d`` inputs, so the density is exactly ``d / n_pre``. Because
the class of ``k`` is ``k mod C``, neighbouring readout neurons belong to different classes and
every class population spans the whole ring.

**Routing table** (:class:`RoutingTable`): compressed rows indexed by the source address (the
*source-major* view the router walks for each spike), each entry naming the target readout
neuron and the address of its weight in the compressed readout weight memory. The weight memory is
stored *target-major* (row ``k``, then ascending ``j``), the order the plasticity engine walks.
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np
import numpy.typing as npt

from .config import Config
from .rng import Stream, hash32, key, uniform_int

__all__ = ["LaneRoutes", "RoutingTable", "SmallWorldStats", "lane_routes", "readout_routes", "routing_table",
           "small_world_mask", "small_world_stats"]

BArray = npt.NDArray[np.bool_]
IArray = npt.NDArray[np.int64]


def small_world_mask(n_out: int, n_pre: int, density: float, beta: float, seed: int,
                     layer: int = 0) -> BArray:
    """The ``n_out × n_pre`` boolean small-world mask described in the module docstring."""
    if n_out < 1 or n_pre < 1:
        raise ValueError(f"mask needs n_out ≥ 1 and n_pre ≥ 1, not {n_out!r} × {n_pre!r}")
    if not 0.0 < density <= 1.0:
        raise ValueError(f"density must be in (0, 1], not {density!r}")
    if not 0.0 <= beta <= 1.0:
        raise ValueError(f"beta must be in [0, 1], not {beta!r}")
    d = max(1, round(density * n_pre))
    mask = np.zeros((n_out, n_pre), dtype=bool)
    threshold = np.uint64(round(beta * 2**32))
    for k in range(n_out):
        centre = ((2 * k + 1) * n_pre) // (2 * n_out)
        block = (centre - d // 2 + np.arange(d)) % n_pre
        row = np.zeros(n_pre, dtype=bool)
        row[block] = True
        if beta > 0.0 and d < n_pre:
            base = key(seed, int(Stream.TOPOLOGY), layer, k)
            for n, j in enumerate(block):
                word = int(hash32(base ^ np.uint32(2 * n)))
                if np.uint64(word) >= threshold:
                    continue
                free = np.flatnonzero(~row)
                if free.size == 0:
                    break
                pick_word = hash32(base ^ np.uint32(2 * n + 1))
                choice = int(uniform_int(np.asarray([pick_word], dtype=np.uint32), 0, free.size - 1)[0])
                row[j] = False
                row[free[choice]] = True
        mask[k] = row
    return mask


@dataclasses.dataclass(frozen=True)
class SmallWorldStats:
    """Statistics of a readout projection, against a random mask of the same density.

    The projection is a bipartite graph (readout ↔ hidden), which has no triangles, so clustering
    is Latapy's bipartite clustering of the readout neurons: for readout neurons ``k`` and ``k'``
    sharing at least one input, ``c(k, k') = |N(k) ∩ N(k')| / |N(k) ∪ N(k')|``; ``C`` is the mean
    over ``k`` of the mean of ``c(k, ·)`` over those ``k'``. ``L`` is the mean shortest-path
    length between all connected node pairs of the bipartite graph. ``sigma`` is the small-world
    index ``(C / C_rand) / (L / L_rand)``; > 1 means small-world.
    """

    density: float
    clustering: float
    path_length: float
    random_clustering: float
    random_path_length: float

    @property
    def sigma(self) -> float:
        return (self.clustering / self.random_clustering) / (self.path_length / self.random_path_length)


def _bipartite_stats(mask: BArray) -> tuple[float, float]:
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import shortest_path

    n_out, n_pre = mask.shape
    m = mask.astype(np.float64)
    overlap = m @ m.T
    deg = m.sum(axis=1)
    union = deg[:, None] + deg[None, :] - overlap
    share = overlap > 0
    np.fill_diagonal(share, False)
    with np.errstate(invalid="ignore", divide="ignore"):
        pair = np.where(share, overlap / np.where(union > 0, union, 1.0), 0.0)
    partners = share.sum(axis=1)
    local = np.where(partners > 0, pair.sum(axis=1) / np.maximum(partners, 1), 0.0)
    adj = np.zeros((n_out + n_pre, n_out + n_pre), dtype=np.float64)
    adj[:n_out, n_out:] = m
    adj[n_out:, :n_out] = m.T
    dist = shortest_path(csr_matrix(adj), unweighted=True, directed=False)
    finite = dist[np.isfinite(dist) & (dist > 0)]
    return float(local.mean()), float(finite.mean()) if finite.size else float("inf")


def small_world_stats(n_out: int, n_pre: int, density: float, beta: float, seed: int,
                      layer: int = 0) -> SmallWorldStats:
    """Density, clustering and mean path length of the mask and of a random (β = 1) twin."""
    mask = small_world_mask(n_out, n_pre, density, beta, seed, layer)
    rand = small_world_mask(n_out, n_pre, density, 1.0, seed, layer)
    c, length = _bipartite_stats(mask)
    c_r, length_r = _bipartite_stats(rand)
    return SmallWorldStats(float(mask.mean()), c, length, c_r, length_r)


@dataclasses.dataclass(frozen=True)
class RoutingTable:
    """Compressed-row routing image of one sparse projection (``n_pre`` sources → ``n_out`` targets).

    * ``row_ptr[j] .. row_ptr[j+1]`` are the entries of source ``j`` (ascending target);
    * ``target[e]`` is the target neuron of entry ``e``;
    * ``weight_addr[e]`` is the entry's word in the target-major weight memory;
    * ``col_ptr[k] .. col_ptr[k+1]`` are the weight words of target ``k`` and ``source[w]`` the
      source of weight word ``w`` (the plasticity engine's view).
    """

    n_pre: int
    n_out: int
    row_ptr: IArray
    target: IArray
    weight_addr: IArray
    col_ptr: IArray
    source: IArray

    @property
    def nnz(self) -> int:
        return int(self.target.size)

    def fanout(self) -> IArray:
        return np.diff(self.row_ptr)

    def fanin(self) -> IArray:
        return np.diff(self.col_ptr)

    def to_mask(self) -> BArray:
        mask = np.zeros((self.n_out, self.n_pre), dtype=bool)
        for j in range(self.n_pre):
            mask[self.target[self.row_ptr[j]:self.row_ptr[j + 1]], j] = True
        return mask


def routing_table(mask: BArray) -> RoutingTable:
    """Build both compressed views of ``mask`` (``n_out × n_pre``)."""
    n_out, n_pre = mask.shape
    tk, tj = np.nonzero(mask)                     # target-major order: weight word = position
    col_ptr = np.zeros(n_out + 1, dtype=np.int64)
    np.cumsum(np.bincount(tk, minlength=n_out), out=col_ptr[1:])
    word = np.arange(tk.size, dtype=np.int64)
    order = np.lexsort((tk, tj))                  # source-major, ascending target
    row_ptr = np.zeros(n_pre + 1, dtype=np.int64)
    np.cumsum(np.bincount(tj, minlength=n_pre), out=row_ptr[1:])
    return RoutingTable(n_pre, n_out, row_ptr, tk[order].astype(np.int64), word[order],
                        col_ptr, tj.astype(np.int64))


@dataclasses.dataclass(frozen=True)
class LaneRoutes:
    """The readout routing image for ``lanes`` parallel synapse lanes (the RTL's table format).

    The readout accumulators are banked by lane: readout neuron ``k`` lives in bank ``k mod L`` at
    address ``k // L``. Each source ``j`` owns ``words[j]`` consecutive words starting at
    ``start[j]``; lane ``ℓ`` of word ``w`` holds the ``w``-th target of source ``j`` in bank ``ℓ``
    (ascending), so the ``L`` lanes of one word never collide in a bank:

    * ``words[j] = max_ℓ |{k ∈ fan-out(j) : k mod L = ℓ}|`` (``L = 1``: the fan-out);
    * ``valid[w, ℓ]``, ``addr[w, ℓ]`` — whether lane ``ℓ`` of word ``w`` is used, and its bank
      address ``k // L``;
    * the weight of that synapse is stored at the same ``(w, ℓ)`` of the readout weight memory.
    """

    lanes: int
    n_pre: int
    n_out: int
    start: IArray
    words: IArray
    valid: BArray
    addr: IArray

    @property
    def n_words(self) -> int:
        return int(self.valid.shape[0])

    def targets(self) -> IArray:
        """Readout neuron of every ``(word, lane)`` (``-1`` where the lane is unused)."""
        k = self.addr * self.lanes + np.arange(self.lanes)[None, :]
        return np.where(self.valid, k, -1)

    def sources(self) -> IArray:
        """Source neuron of every word."""
        return np.repeat(np.arange(self.n_pre), self.words)

    def pack(self, dense: IArray) -> IArray:
        """The ``(n_words, L)`` image of a dense ``n_out × n_pre`` readout matrix (0 where unused)."""
        k = self.targets()
        j = np.broadcast_to(self.sources()[:, None], k.shape)
        return np.where(self.valid, dense[np.maximum(k, 0), j], 0)

    def unpack(self, image: IArray) -> IArray:
        """The dense ``n_out × n_pre`` matrix of an image made by :meth:`pack`."""
        dense = np.zeros((self.n_out, self.n_pre), dtype=np.asarray(image).dtype)
        k = self.targets()
        j = np.broadcast_to(self.sources()[:, None], k.shape)
        dense[k[self.valid], j[self.valid]] = np.asarray(image)[self.valid]
        return dense


@functools.lru_cache(maxsize=32)
def readout_routes(cfg: Config, layer: int = 0) -> LaneRoutes:
    """The readout routing image of hidden layer ``layer`` of ``cfg`` for ``cfg.lanes`` lanes."""
    mask = small_world_mask(cfg.n_readout, cfg.hidden[layer], cfg.readout_density, cfg.rewire_beta, cfg.seed, layer)
    return lane_routes(mask, cfg.lanes)


def lane_routes(mask: BArray, lanes: int) -> LaneRoutes:
    """Pack ``mask`` (``n_out × n_pre``) into bank-conflict-free words of ``lanes`` lanes."""
    if not isinstance(lanes, int) or lanes < 1:
        raise ValueError(f"lanes must be a positive integer, not {lanes!r}")
    n_out, n_pre = mask.shape
    per_source: list[list[list[int]]] = []
    words = np.zeros(n_pre, dtype=np.int64)
    for j in range(n_pre):
        targets = np.flatnonzero(mask[:, j])
        banks = [[int(k) for k in targets if k % lanes == lane] for lane in range(lanes)]
        per_source.append(banks)
        words[j] = max(len(b) for b in banks)
    start = np.zeros(n_pre, dtype=np.int64)
    np.cumsum(words[:-1], out=start[1:])
    total = int(words.sum())
    valid = np.zeros((total, lanes), dtype=bool)
    addr = np.zeros((total, lanes), dtype=np.int64)
    for j, banks in enumerate(per_source):
        for lane, bank in enumerate(banks):
            for w, k in enumerate(bank):
                valid[start[j] + w, lane] = True
                addr[start[j] + w, lane] = k // lanes
    return LaneRoutes(lanes, n_pre, n_out, start, words, valid, addr)
