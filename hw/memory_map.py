"""The accelerator's memory map as the host sees it, defined once for the cocotb driver
(:mod:`modsnn.sim.accelerator`), the host link (:mod:`modsnn.hw.link`) and the host driver
(:mod:`modsnn.boards.driver`).

* :func:`mmio_address` — the control-port address of ``(region, offset, lane)``, built from the
  named fields of :attr:`~modsnn.hw.formats.Formats.mmio_address` (never by hand).
* :func:`address_windows` — every contiguous run of words the control port maps, with its size
  and access rights; the host link refuses any access outside them.
* :func:`weight_images` / :func:`dense_from_images` — the dense golden-model matrices ↔ the
  ``L``-lane words of the RTL. The layouts are those of :mod:`modsnn.hw.formats` (``FF``/``REC``
  source-major with targets banked by lane, ``OUT`` in routing-word order).
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np
import numpy.typing as npt

from ..golden_model.config import Config
from .formats import Matrix, Region, formats_for, memory_depths, readout_routes

__all__ = ["WEIGHT_REGIONS", "Window", "address_windows", "dense_from_images", "dense_shapes", "mmio_address",
           "weight_images"]

WEIGHT_REGIONS: dict[Matrix, Region] = {Matrix.FF: Region.FF, Matrix.REC: Region.REC, Matrix.OUT: Region.OUT}
"""The control-port region of each weight memory."""

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


def dense_shapes(cfg: Config) -> list[tuple[int, int]]:
    """Shapes of the dense ``(ff, rec, out)`` matrices of hidden layer 0."""
    n = cfg.hidden[0]
    return [(n, cfg.n_inputs), (n, n), (cfg.n_readout, n)]


def mmio_address(cfg: Config, region: Region, offset: int, lane: int = 0) -> int:
    """The control-port address (an integer of ``len(mmio_address)`` bits) of word ``offset``, lane
    ``lane`` of ``region``."""
    layout = formats_for(cfg).mmio_address
    return int(layout.const({"region": region, "offset": offset, "lane": lane}).as_bits())


@dataclasses.dataclass(frozen=True)
class Window:
    """``size`` consecutive words of the control port: offsets ``0 … size−1`` of ``region``, lane
    ``lane``. ``readable``/``writable`` say what the accelerator implements there;
    ``read_while_busy`` whether a read is allowed while a sample runs (the registers only)."""

    region: Region
    lane: int
    size: int
    readable: bool
    writable: bool
    read_while_busy: bool = False

    def base(self, cfg: Config) -> int:
        """The address of offset 0."""
        return mmio_address(cfg, self.region, 0, self.lane)


@functools.lru_cache(maxsize=32)
def address_windows(cfg: Config) -> tuple[Window, ...]:
    """Every window of the control port of the accelerator for ``cfg``:

    =========  ======  ==================================  ============
    region     lanes   size (offsets)                      access
    =========  ======  ==================================  ============
    ``CSR``    0       ``Csr.LEVEL + n_classes``           read/write; read also while busy
    ``INPUT``  0       ``n_inputs``                        write
    ``FF``     all     words per lane of the FF memory     read/write
    ``REC``    all     words per lane of the REC memory    read/write
    ``OUT``    all     readout routing words               read/write
    ``STATE``  0       ``4 · hidden[0]``                   read
    =========  ======  ==================================  ============
    """
    from .top import Csr

    depths = memory_depths(cfg, formats_for(cfg).route_words)
    windows = [Window(Region.CSR, 0, int(Csr.LEVEL) + cfg.n_classes, True, True, True),
               Window(Region.INPUT, 0, cfg.n_inputs, False, True)]
    for matrix, region in WEIGHT_REGIONS.items():
        windows += [Window(region, lane, depths[matrix.name], True, True) for lane in range(cfg.lanes)]
    windows.append(Window(Region.STATE, 0, 4 * cfg.hidden[0], True, False))
    return tuple(windows)
