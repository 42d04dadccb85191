"""Layouts and the bank mapping: widths follow the configuration; payloads round-trip through
const/from_bits; weight images round-trip and put every weight where the bank mapping says."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from modsnn.golden_model.config import load_config
from modsnn.golden_model.network import Network
from modsnn.hw.formats import HostTarget, JobOp, Matrix, Population, Region, formats_for
from modsnn.hw.memory_map import dense_from_images, image_shapes, weight_images
from modsnn.hw.params import hw_params

TWO_LAYERS = ["hidden=[32, 16]", "threshold=[32, 24]", "init_ff=[16, 16]", "init_rec=[4, 4]",
              "lr_shift_hidden=[12, 12]"]


@pytest.mark.parametrize("preset", ["tiny", "digits", "mnist"])
@pytest.mark.parametrize(("lanes", "cores"), [(1, 1), (4, 1), (4, 2)])
def test_widths_follow_the_configuration(preset: str, lanes: int, cores: int) -> None:
    cfg = load_config(preset, [f"lanes={lanes}", f"cores={cores}"])
    p, fmt = hw_params(cfg), formats_for(cfg)
    B = lanes * cores
    assert p.banks == B and p.words == tuple(n // B for n in cfg.hidden)
    assert p.readout_words * B >= cfg.n_readout > (p.readout_words - 1) * B
    assert 2 ** p.neuron_bits >= max(cfg.n_inputs, cfg.n_readout, *cfg.hidden)
    assert p.forward_weight_bits == cfg.weight_bits - cfg.weight_frac
    fan_in = max(cfg.n_inputs + cfg.hidden[0], sum(cfg.hidden))
    assert 2 ** (p.acc_bits - 1) > fan_in * 2 ** (p.forward_weight_bits - 1)     # the accumulator never wraps
    assert 2 ** p.xsum_bits > cfg.timesteps * cfg.x_max and 2 ** p.h_bits > cfg.timesteps
    assert 2 ** (p.level_bits - 1) > cfg.mod_levels and 2 ** p.count_bits > cfg.pop * cfg.timesteps
    assert 2 ** (p.product_bits - 1) > cfg.n_classes * cfg.mod_levels * cfg.timesteps ** 2 * cfg.x_max
    assert 2 ** p.weight_word_bits >= max(p.weight_depth, p.out_depth)
    assert fmt.state_word.size == cfg.membrane_bits + cfg.trace_bits + p.h_bits + p.xsum_bits


def test_memory_regions_are_disjoint_and_complete() -> None:
    cfg = load_config("tiny", [*TWO_LAYERS, "lanes=2", "cores=2"])
    p = hw_params(cfg)
    spans = []
    for l, (ff, rec) in enumerate(p.weight_base):
        spans += [(ff, ff + cfg.layer_inputs(l) * p.words[l]), (rec, rec + cfg.hidden[l] * p.words[l])]
    assert spans[0][0] == 0 and spans[-1][1] == p.weight_depth
    assert all(a[1] == b[0] for a, b in itertools.pairwise(spans))
    assert p.pop_base == (0, 8, 12) and p.state_depth == 12 + 5            # q = 8, 4; readout 20 → 5 words
    assert p.out_base[1] == p.routes[0].n_words and p.out_depth == sum(r.n_words for r in p.routes)


def test_payloads_round_trip() -> None:
    fmt = formats_for(load_config("tiny", ["lanes=2", "cores=2"]))
    view = fmt.spike_event.from_bits(fmt.spike_event.const({"pop": Population.READOUT, "layer": 0,
                                                            "addr": 9}).as_bits())
    assert view.pop == Population.READOUT and view.addr == 9
    job = fmt.job.from_bits(fmt.job.const({"op": JobOp.SR, "matrix": Matrix.REC, "a": 7,
                                           "args": {"sr": {"waddr": 300, "j": 31, "x": 4000}}}).as_bits())
    sr = job.args.sr
    assert (job.op, job.matrix, int(job.a), int(sr.waddr), int(sr.j), int(sr.x)) == (JobOp.SR, Matrix.REC, 7, 300,
                                                                                      31, 4000)
    sign = fmt.job.from_bits(fmt.job.const({"op": JobOp.SIGN, "args": {"sign": {"m": -15, "last": 1}}}).as_bits())
    assert (int(sign.args.sign.m), int(sign.args.sign.last)) == (-15, 1)
    host = fmt.host_command.from_bits(fmt.host_command.const({"target": HostTarget.OUT, "bank": 3, "addr": 77,
                                                              "wdata": -2047, "we": 1}).as_bits())
    assert host.target == HostTarget.OUT and int(host.bank) == 3 and int(host.wdata) == -2047
    view = fmt.mmio_address.from_bits(fmt.mmio_address.const({"region": Region.OUT, "bank": 3, "offset": 77,
                                                               "layer": 0}).as_bits())
    assert view.region == Region.OUT and view.bank == 3 and view.offset == 77
    assert fmt.mmio_address.size <= 32                                           # fits one host-link word


@pytest.mark.parametrize(("lanes", "cores"), [(1, 1), (2, 1), (2, 2), (4, 2)])
def test_weight_images_round_trip(lanes: int, cores: int) -> None:
    cfg = load_config("tiny", [*TWO_LAYERS, f"lanes={lanes}", f"cores={cores}", "readout_density=0.3"])
    net = Network(cfg)
    B = lanes * cores
    images = weight_images(cfg, net.ff, net.rec, net.out)
    assert {k: v.shape for k, v in images.items()} == image_shapes(cfg)
    q0 = cfg.hidden[0] // B
    # word j·q + a, bank b holds W[a·B + b, j]
    assert images[(Matrix.FF, 0)][3 * q0 + 1, B - 1] == net.ff[0][B + B - 1, 3]
    assert images[(Matrix.REC, 1)][5 * (16 // B), 0] == net.rec[1][0, 5]
    for got, want in zip(dense_from_images(cfg, images), (net.ff, net.rec, net.out), strict=True):
        for g, w in zip(got, want, strict=True):
            np.testing.assert_array_equal(g, w)
