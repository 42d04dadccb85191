"""Known-answer digests: the weights and predictions after training, pinned bit for bit.

The digests were computed by the golden model at commit e4f3367, before the training loop was
made faster (fused hidden/readout loop, flat weight updates, one hash pass per sample). Any change
to the model that alters a single weight, a single prediction or the update counter changes a
digest. A deliberate change of the algorithm updates them, and says so in the commit.

Only the integer model is pinned: its products are integers carried exactly in floating point, so
its digest is the same on any machine. The float64 twin's last bits depend on the BLAS kernel the
machine dispatches to, so its digest is not portable.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from modsnn.golden_model.config import load_config
from modsnn.golden_model.data import load_dataset
from modsnn.golden_model.network import Network

MULTI = ['hidden=[24,16]', 'threshold=[32,24]', 'init_ff=[16,16]', 'init_rec=[4,4]', 'lr_shift_hidden=[12,12]']

# name: (preset, overrides, training samples, model, weights digest, predictions digest)
CASES = {
    "digits": ("digits", [], 300, "int", "afd6965952a6ee8b", "9aecf31ea5e7d85e"),
    "two-layers-synaptic": ("tiny", [*MULTI, 'eligibility="synaptic"'], 100, "int",
                            "3120c9716f229ad9", "2df7eb17ea133f31"),
    "three-layers-sparse": ("tiny", ['hidden=[24,16,12]', 'threshold=[32,24,24]', 'init_ff=[16,16,16]',
                                     'init_rec=[4,4,4]', 'lr_shift_hidden=[12,12,12]', 'readout_density=0.25'],
                            150, "int", "22c8298833ac918f", "33e7b87f8a9a24a6"),
    "digits-sparse-margin": ("digits", ['readout_density=0.05', 'teaching="margin"', 'teach_margin=8'], 300, "int",
                             "dbcbe0befb103e55", "cbc8da3498a9c8ee"),
    "mnist": ("mnist", [], 100, "int", "69d46f8ac2dedd1b", "a54ea37447094ae6"),
}


def weights_digest(net: Network) -> str:
    """SHA-256 (first 16 hex digits) of every weight matrix and the update counter, by name."""
    h = hashlib.sha256()
    for name, value in sorted(net.state_dict().items()):
        h.update(name.encode())
        h.update(np.ascontiguousarray(np.asarray(value, np.int64 if net.exact else np.float64)).tobytes())
    return h.hexdigest()[:16]


def train_and_digest(preset: str, overrides: list[str], samples: int, model: str) -> tuple[str, str]:
    """Train ``samples`` samples (odd samples with the learning rate halved), then predict 200
    test samples in batches of 64; digests of the weights and of all predictions."""
    cfg = load_config(preset, overrides)
    train, test = load_dataset(cfg.dataset, "train"), load_dataset(cfg.dataset, "test")
    net = Network(cfg, model)
    predictions = []
    for i in range(samples):
        fwd, _ = net.train_step(train.x[i], int(train.y[i]), lr_extra=i % 2)
        predictions.append(int(fwd.prediction[0]))
    predictions += net.predict(test.x[:200], batch=64).tolist()
    return weights_digest(net), hashlib.sha256(np.asarray(predictions, np.int64).tobytes()).hexdigest()[:16]


@pytest.mark.parametrize("name", list(CASES))
def test_training_reproduces_the_known_answer(name: str) -> None:
    preset, overrides, samples, model, weights, predictions = CASES[name]
    assert train_and_digest(preset, overrides, samples, model) == (weights, predictions)
