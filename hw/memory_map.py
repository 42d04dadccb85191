"""Weight images: the golden model's dense matrices ↔ the words of the banks' weight memories.

Layouts as in :mod:`modsnn.hw.params` (``B`` banks; neuron ``i`` in bank ``i mod B`` at address
``i div B``): the image of ``FF_l`` has ``n_{l−1}·q_l`` words of ``B`` banks, word ``j·q_l + a``,
bank ``b`` holding ``Wff_l[a·B + b, j]``; ``REC_l`` likewise; ``OUT_l`` is the routing-word image
of :func:`~modsnn.golden_model.topology.lane_routes` ``(mask_l, B)``. The control port addresses a
weight by region (matrix), layer, bank and word; testbenches, the host driver and
:mod:`modsnn.sim` load and read back weights through these functions only.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from ..golden_model.config import Config
from .formats import Matrix
from .params import hw_params

__all__ = ["dense_from_images", "image_shapes", "weight_images"]

IArray = npt.NDArray[np.int64]


def weight_images(cfg: Config, ff: list[IArray], rec: list[IArray], out: list[IArray]
                  ) -> dict[tuple[Matrix, int], IArray]:
    """``(words, B)`` images of every weight matrix of every layer, keyed by ``(matrix, layer)``."""
    p = hw_params(cfg)
    B = p.banks
    images: dict[tuple[Matrix, int], IArray] = {}
    for l in range(p.layers):
        images[(Matrix.FF, l)] = np.asarray(ff[l], np.int64).T.reshape(-1, B)
        images[(Matrix.REC, l)] = np.asarray(rec[l], np.int64).T.reshape(-1, B)
        images[(Matrix.OUT, l)] = p.routes[l].pack(np.asarray(out[l], np.int64))
    return images


def image_shapes(cfg: Config) -> dict[tuple[Matrix, int], tuple[int, int]]:
    """The ``(words, B)`` shape of every image of :func:`weight_images`."""
    p = hw_params(cfg)
    shapes = {}
    for l, n in enumerate(cfg.hidden):
        shapes[(Matrix.FF, l)] = (cfg.layer_inputs(l) * p.words[l], p.banks)
        shapes[(Matrix.REC, l)] = (n * p.words[l], p.banks)
        shapes[(Matrix.OUT, l)] = (p.routes[l].n_words, p.banks)
    return shapes


def dense_from_images(cfg: Config, images: dict[tuple[Matrix, int], IArray]
                      ) -> tuple[list[IArray], list[IArray], list[IArray]]:
    """Inverse of :func:`weight_images`: per-layer ``(ff, rec, out)`` dense matrices."""
    p = hw_params(cfg)
    ff, rec, out = [], [], []
    for l, n in enumerate(cfg.hidden):
        ff.append(np.asarray(images[(Matrix.FF, l)]).reshape(cfg.layer_inputs(l), n).T.astype(np.int64))
        rec.append(np.asarray(images[(Matrix.REC, l)]).reshape(n, n).T.astype(np.int64))
        out.append(p.routes[l].unpack(np.asarray(images[(Matrix.OUT, l)])).astype(np.int64))
    return ff, rec, out
