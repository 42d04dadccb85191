"""cocotb testbench: :class:`modsnn.hw.plasticity.PlasticityEngine` against the golden model.

For golden training samples: load the network's current weights and the sample's eligibility
factors (``H``, ``X`` of the hidden layer, ``X`` of the inputs), set the modulatory levels, the
sample counter and a random learning-rate decay, start the engine with its write-back stream
under random back-pressure, then read every weight back and compare it with the golden model's
update; the number of words written must equal the number of words with a gated-on synapse.
"""

from __future__ import annotations

import cocotb
import numpy as np
from cocotb.triggers import FallingEdge, ReadOnly, RisingEdge

from modsnn.golden_model.data import load_dataset
from modsnn.golden_model.network import Network
from modsnn.hw.formats import formats_for, readout_routes
from modsnn.hw.memory_map import dense_from_images, weight_images
from modsnn.sim.streams import start, stimulus_random
from modsnn.sim.tb_router import load_weights
from modsnn.sim.tbparams import golden_config, tb_params

INPUTS = ("load__valid", "load__payload", "elig_sel", "elig_addr", "elig_data", "elig_we", "rd_matrix", "rd_addr",
          "rd_en", "start", "m", "sample", "lr_extra", "wb_ready")


def expected_writes(cfg, net: Network, fwd, report) -> int:
    """Words with at least one gated-on synapse (the engine writes exactly these)."""
    L, n, C = cfg.lanes, cfg.hidden[0], cfg.n_classes
    routes = readout_routes(cfg)
    targets = routes.targets()
    m = report.modulation
    writes = 0
    for j in np.flatnonzero(fwd.X[0][0]):
        for word in range(routes.start[j], routes.start[j] + routes.words[j]):
            k = targets[word]
            writes += bool(np.any((k >= 0) & (m[np.maximum(k, 0) % C] != 0)))
    if cfg.learn_hidden:
        gated = set(report.hidden_rows[0].tolist())
        for group in range(n // L):
            rows = [group * L + lane for lane in range(L) if group * L + lane in gated]
            if rows:
                writes += cfg.n_inputs + sum(any(r != k for r in rows) for k in range(n))
    return writes


@cocotb.test()
async def plasticity_matches_golden(dut) -> None:
    cfg, samples = tb_params(3)
    await start(dut, INPUTS)
    rnd = stimulus_random(dut._log)
    fmt = formats_for(cfg)
    net = Network(golden_config(cfg))
    data = load_dataset(cfg.dataset, "train")
    level_bits = cfg.mod_levels.bit_length() + 1
    for sample in range(samples):
        await load_weights(dut, cfg, net, rnd)
        fwd = net.forward(data.x[sample:sample + 1])
        for sel, values in enumerate((fwd.H[0][0], fwd.X[0][0], fwd.X_in[0])):
            for addr, value in enumerate(values):
                await FallingEdge(dut.clk)
                dut.elig_sel.value, dut.elig_addr.value, dut.elig_data.value = sel, addr, int(value)
                dut.elig_we.value = 1
            await FallingEdge(dut.clk)
            dut.elig_we.value = 0
        lr_extra = rnd.randrange(3)
        updates = net.updates
        report = net.learn(fwd, int(data.y[sample]), lr_extra)
        packed = 0
        for c, level in enumerate(report.modulation.tolist()):
            packed |= (int(level) & ((1 << level_bits) - 1)) << (c * level_bits)
        dut.m.value, dut.sample.value, dut.lr_extra.value = packed, updates, lr_extra
        dut.start.value = 1
        await FallingEdge(dut.clk)
        dut.start.value = 0
        writes = 0
        while True:
            dut.wb_ready.value = int(rnd.random() >= 0.3)
            await ReadOnly()
            writes += int(dut.wb_fire.value)
            busy = int(dut.busy.value)
            await FallingEdge(dut.clk)
            if not busy:
                break
        dut.wb_ready.value = 0
        images = {}
        for matrix, image in weight_images(cfg, net.ff[0], net.rec[0], net.out[0]).items():
            got = np.zeros_like(image)
            for word in range(image.shape[0]):
                dut.rd_matrix.value, dut.rd_addr.value, dut.rd_en.value = matrix.value, word, 1
                await RisingEdge(dut.clk)
                await FallingEdge(dut.clk)
                view = fmt.weight_word.from_bits(int(dut.rd_weights.value))
                got[word] = [int(view[lane]) for lane in range(cfg.lanes)]
            images[matrix] = got
        dut.rd_en.value = 0
        ff, rec, out = dense_from_images(cfg, images)
        for name, rtl, gold in (("ff", ff, net.ff[0]), ("rec", rec, net.rec[0]), ("out", out, net.out[0])):
            diff = np.argwhere(rtl != gold)
            assert diff.size == 0, f"sample {sample}: {len(diff)} {name} weights differ, first {diff[0].tolist()}"
        want = expected_writes(cfg, net, fwd, report)
        assert writes == want, f"sample {sample}: {writes} words written, {want} gated on"
        dut._log.info(f"sample {sample}: m = {report.modulation.tolist()}, lr_extra {lr_extra}, {writes} words "
                      f"written, weights match the golden model")
