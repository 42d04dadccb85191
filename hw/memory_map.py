"""Weight-memory images: the dense golden-model matrices ↔ the ``L``-lane words of the RTL.

The layouts are those of :mod:`modsnn.hw.formats` (``FF``/``REC`` source-major with targets banked
by lane, ``OUT`` in routing-word order). Testbenches, the host driver and :mod:`modsnn.sim` load and
read back weights through these functions only.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from ..golden_model.config import Config
from .formats import Matrix, readout_routes

__all__ = ["dense_from_images", "weight_images"]

IArray = npt.NDArray[np.int64]


def weight_images(cfg: Config, ff: IArray, rec: IArray, out: IArray) -> dict[Matrix, IArray]:
    """``(depth, L)`` images of the stored weights of hidden layer 0 (``n × n_pre``, ``n × n``,
    ``n_out × n``). Word ``j·(n/L) + a``, lane ``ℓ`` of ``FF`` holds ``ff[a·L + ℓ, j]``."""
    L = cfg.lanes
    return {Matrix.FF: np.asarray(ff, np.int64).T.reshape(-1, L),
            Matrix.REC: np.asarray(rec, np.int64).T.reshape(-1, L),
            Matrix.OUT: readout_routes(cfg).pack(np.asarray(out, np.int64))}


def dense_from_images(cfg: Config, images: dict[Matrix, IArray]) -> tuple[IArray, IArray, IArray]:
    """Inverse of :func:`weight_images`: ``(ff, rec, out)`` dense matrices."""
    n = cfg.hidden[0]
    ff = np.asarray(images[Matrix.FF]).reshape(cfg.n_inputs, n).T
    rec = np.asarray(images[Matrix.REC]).reshape(n, n).T
    out = readout_routes(cfg).unpack(np.asarray(images[Matrix.OUT]))
    return ff.astype(np.int64), rec.astype(np.int64), out.astype(np.int64)
