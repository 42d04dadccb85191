"""The accelerator's memory map as the host sees it, defined once for the cocotb driver
(:mod:`modsnn.sim.accelerator`), the host link (:mod:`modsnn.hw.link`) and the host driver
(:mod:`modsnn.boards.driver`).

* :func:`mmio_address` — the control-port address of ``(region, offset, bank, layer)``, built from
  the named fields of :attr:`~modsnn.hw.formats.Formats.mmio_address` (never by hand).
* :func:`address_windows` — every contiguous run of words the control port maps, with its size and
  access rights; the host link refuses any access outside them.
* :func:`weight_images` / :func:`dense_from_images` — the golden model's dense matrices ↔ the words
  of the banks' weight memories. Layouts as in :mod:`modsnn.hw.params` (``B`` banks; neuron ``i`` in
  bank ``i mod B`` at address ``i div B``): the image of ``FF_l`` has ``n_{l−1}·q_l`` words of ``B``
  banks, word ``j·q_l + a``, bank ``b`` holding ``Wff_l[a·B + b, j]``; ``REC_l`` likewise (its
  diagonal must stay 0: the golden model has no self-connection, and the RTL adds what is stored);
  ``OUT_l`` is the routing-word image of :func:`~modsnn.golden_model.topology.lane_routes`
  ``(mask_l, B)``.
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np
import numpy.typing as npt

from ..golden_model.config import Config
from .formats import Matrix, Region, formats_for
from .params import hw_params

__all__ = ["WEIGHT_REGIONS", "Window", "address_windows", "dense_from_images", "image_shapes", "mmio_address",
           "weight_images"]

WEIGHT_REGIONS: dict[Matrix, Region] = {Matrix.FF: Region.FF, Matrix.REC: Region.REC, Matrix.OUT: Region.OUT}
"""The control-port region of each weight memory."""

IArray = npt.NDArray[np.int64]


def mmio_address(cfg: Config, region: Region, offset: int, bank: int = 0, layer: int = 0) -> int:
    """The control-port address (an integer of ``len(mmio_address)`` bits) of word ``offset`` of
    ``region`` in bank ``bank`` of layer ``layer``."""
    layout = formats_for(cfg).mmio_address
    return int(layout.const({"region": region, "offset": offset, "bank": bank, "layer": layer}).as_bits())


@dataclasses.dataclass(frozen=True)
class Window:
    """``size`` consecutive words of the control port: offsets ``0 … size−1`` of ``region`` in layer
    ``layer``. A ``banked`` window is the same in every bank (any value of the ``bank`` field, all of
    which name a bank); otherwise the bank field is 0. ``readable``/``writable`` say what the
    accelerator implements there; ``read_while_busy`` whether a read is allowed while a sample runs
    (the registers only)."""

    region: Region
    layer: int
    size: int
    readable: bool
    writable: bool
    read_while_busy: bool = False
    banked: bool = False

    def base(self, cfg: Config) -> int:
        """The address of offset 0 (bank 0)."""
        return mmio_address(cfg, self.region, 0, 0, self.layer)

    def address(self, cfg: Config, offset: int, bank: int = 0) -> int:
        return mmio_address(cfg, self.region, offset, bank, self.layer)

    def key_mask(self, cfg: Config) -> int:
        """The address bits that identify the window (all but the offset and, when banked, the bank)."""
        layout = formats_for(cfg).mmio_address
        free = [layout["offset"]] + ([layout["bank"]] if self.banked else [])
        mask = (1 << layout.size) - 1
        for field in free:
            mask &= ~(((1 << field.width) - 1) << field.offset)
        return mask


@functools.lru_cache(maxsize=32)
def address_windows(cfg: Config) -> tuple[Window, ...]:
    """Every window of the control port of the accelerator for ``cfg``:

    ===========  ======  =====================================  ============
    region       banks   size (offsets)                         access
    ===========  ======  =====================================  ============
    ``CSR``      —       ``Csr.LEVEL + n_classes``              read/write; read also while busy
    ``INPUT``    —       ``n_inputs``                           write
    ``FF`` l     all     ``n_{l−1}·q_l`` words                  read/write
    ``REC`` l    all     ``n_l·q_l`` words                      read/write
    ``OUT`` l    all     readout routing words of layer l       read/write
    ``STATE`` l  —       ``4 · n_l``                            read
    ``READOUT``  —       ``n_readout``                          read
    ===========  ======  =====================================  ============

    A banked window spans every value of the bank field only when ``lanes × cores`` fills it (it
    is a power of two, so it does when it is 2 or more); with one bank the field must be 0.
    """
    from .control_port import Csr

    p = hw_params(cfg)
    banked = p.banks > 1
    windows = [Window(Region.CSR, 0, int(Csr.LEVEL) + cfg.n_classes, True, True, True),
               Window(Region.INPUT, 0, cfg.n_inputs, False, True)]
    for (matrix, layer), (words, _) in image_shapes(cfg).items():
        windows.append(Window(WEIGHT_REGIONS[matrix], layer, words, True, True, banked=banked))
    windows += [Window(Region.STATE, layer, 4 * n, True, False) for layer, n in enumerate(cfg.hidden)]
    windows.append(Window(Region.READOUT, 0, cfg.n_readout, True, False))
    return tuple(windows)


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
