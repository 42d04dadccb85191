"""Dataset loaders: shapes, fixed splits, IDX parsing, and the messages for bad data."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest

from modsnn.golden_model.data import FASHION_DIR, DatasetError, load_dataset, read_idx


def test_digits_split_is_fixed_and_disjoint() -> None:
    train, test = load_dataset("digits", "train"), load_dataset("digits", "test")
    assert train.x.shape == (1437, 64) and test.x.shape == (360, 64)
    assert train.x.dtype == np.uint8 and train.x.max() == 255
    again = load_dataset("digits", "train")
    np.testing.assert_array_equal(train.x, again.x)
    rows = {r.tobytes() + bytes([y]) for r, y in zip(train.x, train.y, strict=True)}
    overlap = sum(r.tobytes() + bytes([y]) in rows for r, y in zip(test.x, test.y, strict=True))
    assert overlap <= 2  # the digits set itself has a few duplicate images
    assert set(np.unique(test.y).tolist()) == set(range(10))


def test_mnist5k_split() -> None:
    train, test = load_dataset("mnist5k", "train"), load_dataset("mnist5k", "test")
    assert train.x.shape == (4000, 784) and test.x.shape == (1000, 784)
    assert np.bincount(test.y, minlength=10).min() > 60  # shuffled, not class-ordered


def write_idx(path: Path, array: np.ndarray, compress: bool) -> None:
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(struct.pack(">I", n) for n in array.shape)
    blob = header + array.astype(np.uint8).tobytes()
    path.write_bytes(gzip.compress(blob) if compress else blob)


@pytest.mark.parametrize("compress", [False, True])
def test_idx_folder_round_trip(tmp_path: Path, compress: bool) -> None:
    images = np.arange(5 * 28 * 28, dtype=np.int64).reshape(5, 28, 28) % 256
    labels = np.array([0, 1, 2, 3, 9])
    suffix = ".gz" if compress else ""
    write_idx(tmp_path / f"t10k-images-idx3-ubyte{suffix}", images, compress)
    write_idx(tmp_path / f"t10k-labels-idx1-ubyte{suffix}", labels, compress)
    test = load_dataset("idx", "test", tmp_path)
    assert test.x.shape == (5, 784)
    np.testing.assert_array_equal(test.x, images.reshape(5, -1))
    np.testing.assert_array_equal(test.y, labels)
    # Only the test split is present: loading it needed no train files; train names what is missing.
    with pytest.raises(DatasetError, match="has no train-images-idx3-ubyte or train-labels-idx1-ubyte"):
        load_dataset("idx", "train", tmp_path)


def test_malformed_idx_files(tmp_path: Path) -> None:
    bad = tmp_path / "bad"
    bad.write_bytes(b"\x12\x34\x08\x03")
    with pytest.raises(DatasetError, match="is not an IDX file \\(bad magic number\\)"):
        read_idx(bad, 3)
    write_idx(bad, np.zeros((2, 3, 3)), False)
    bad.write_bytes(bad.read_bytes()[:-4])
    with pytest.raises(DatasetError, match="truncated or padded: header promises 18 bytes of data, file has 14"):
        read_idx(bad, 3)
    write_idx(bad, np.zeros(4), False)
    with pytest.raises(DatasetError, match="has 1 dimensions, expected 3"):
        read_idx(bad, 3)
    bad.write_bytes(b"\x1f\x8b garbage")
    with pytest.raises(DatasetError, match="damaged gzip file"):
        read_idx(bad, 3)


def test_mismatched_counts(tmp_path: Path) -> None:
    write_idx(tmp_path / "train-images-idx3-ubyte", np.zeros((3, 2, 2)), False)
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.zeros(4), False)
    with pytest.raises(DatasetError, match="has 3 images but train-labels-idx1-ubyte has 4 labels"):
        load_dataset("idx", "train", tmp_path)


def test_missing_data_says_how_to_get_it(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="apt-get install dataset-fashion-mnist"):
        load_dataset("fashion", "test", tmp_path / "nowhere")
    with pytest.raises(DatasetError, match="needs a folder: pass --data-dir DIR"):
        load_dataset("idx", "test")
    with pytest.raises(DatasetError, match="unknown dataset 'cifar'; datasets are: digits, mnist5k, fashion, idx"):
        load_dataset("cifar")
    with pytest.raises(DatasetError, match="unknown split 'valid'"):
        load_dataset("digits", "valid")


@pytest.mark.skipif(not FASHION_DIR.is_dir(),
                    reason="Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)")
def test_fashion_test_split() -> None:
    test = load_dataset("fashion", "test")
    assert test.x.shape == (10000, 784) and np.bincount(test.y).tolist() == [1000] * 10
