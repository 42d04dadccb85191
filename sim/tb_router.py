"""cocotb testbench: :class:`modsnn.hw.router.Router` (with its synapse memory) against the golden model.

Loads the golden network's weights, replays the routing requests of golden samples (every input
spike on ``FF``, every hidden spike of ``t−1`` on ``REC``, every hidden spike on ``OUT``) with
random idle cycles, holds both outputs under random back-pressure, and compares every synaptic
word with the one the golden weights and the routing image predict. Without back-pressure, each
event must keep the router busy ``K + event_overhead`` cycles (cycle model).
"""

from __future__ import annotations

import cocotb
import numpy as np
from cocotb.triggers import FallingEdge, ReadOnly, RisingEdge

from modsnn.golden_model.cycles import CycleCosts
from modsnn.golden_model.data import load_dataset
from modsnn.golden_model.network import Network
from modsnn.hw.formats import Projection, formats_for, readout_routes
from modsnn.hw.memory_map import weight_images
from modsnn.sim.streams import StreamSink, StreamSource, start, stimulus_random
from modsnn.sim.tbparams import golden_config, tb_params

INPUTS = ("load__valid", "load__payload", "req__valid", "req__payload", "hidden_syn__ready", "readout_syn__ready")


async def load_weights(dut, cfg, net, rnd) -> None:
    fmt = formats_for(cfg)
    items = [fmt.weight_write.const({"matrix": matrix, "addr": word, "data": [int(v) for v in row],
                                     "en": (1 << cfg.lanes) - 1}).as_bits()
             for matrix, image in weight_images(cfg, net.ff[0], net.rec[0], net.out[0]).items()
             for word, row in enumerate(image)]
    await StreamSource(dut, "load", dut.clk, rnd).send(items)


def expected_words(cfg, net, proj: Projection, j: int) -> list[int]:
    """The synaptic words the router must emit for source ``j`` on ``proj``."""
    fmt = formats_for(cfg)
    L, n = cfg.lanes, cfg.hidden[0]
    if proj == Projection.OUT:
        routes = readout_routes(cfg)
        w = net.forward_weights(net.out[0]).astype(np.int64)
        words = []
        for word in range(routes.start[j], routes.start[j] + routes.words[j]):
            lanes = []
            for lane in range(L):
                k = routes.addr[word, lane] * L + lane
                valid = bool(routes.valid[word, lane])
                lanes.append({"valid": valid, "addr": int(routes.addr[word, lane]),
                              "weight": int(w[k, j]) if valid else 0})
            words.append(fmt.synaptic_word.const(lanes).as_bits())
        return words
    dense = net.forward_weights(net.ff[0] if proj == Projection.FF else net.rec[0]).astype(np.int64)
    return [fmt.synaptic_word.const([{"valid": 1, "addr": a, "weight": int(dense[a * L + lane, j])}
                                     for lane in range(L)]).as_bits() for a in range(n // L)]


def masked(cfg, bits: int, readout: bool) -> int:
    """Zero the weights of invalid readout lanes (their weight field is don't-care)."""
    if not readout:
        return bits
    fmt = formats_for(cfg)
    view = fmt.synaptic_word.from_bits(bits)
    return fmt.synaptic_word.const([{"valid": int(view[lane].valid), "addr": int(view[lane].addr),
                                     "weight": int(view[lane].weight) if view[lane].valid else 0}
                                    for lane in range(cfg.lanes)]).as_bits()


@cocotb.test()
async def router_matches_golden(dut) -> None:
    cfg, samples = tb_params(2)
    await start(dut, INPUTS)
    rnd = stimulus_random(dut._log)
    net = Network(golden_config(cfg))
    await load_weights(dut, cfg, net, rnd)
    fmt = formats_for(cfg)
    data = load_dataset(cfg.dataset, "test")
    requests, want_hidden, want_readout = [], [], []
    for sample in range(samples):
        fwd = net.forward(data.x[sample:sample + 1])
        for t in range(cfg.timesteps):
            batch = [(Projection.FF, j) for j in np.flatnonzero(fwd.input_spikes[t, 0])]
            if t > 0:
                batch += [(Projection.REC, k) for k in np.flatnonzero(fwd.spikes[0][t - 1, 0])]
            batch += [(Projection.OUT, j) for j in np.flatnonzero(fwd.spikes[0][t, 0])]
            for proj, j in batch:
                requests.append(fmt.route_request.const({"proj": proj, "addr": int(j)}).as_bits())
                words = expected_words(cfg, net, proj, int(j))
                (want_readout if proj == Projection.OUT else want_hidden).extend(words)
    hidden = StreamSink(dut, "hidden_syn", dut.clk, rnd, backpressure=0.3)
    readout = StreamSink(dut, "readout_syn", dut.clk, rnd, backpressure=0.3)
    h_task = cocotb.start_soon(hidden.run(len(want_hidden)))
    r_task = cocotb.start_soon(readout.run(len(want_readout)))
    await StreamSource(dut, "req", dut.clk, rnd, idle=0.3).send(requests)
    await h_task
    await r_task
    assert hidden.items == want_hidden, "hidden synaptic words differ from the golden model"
    got_readout = [masked(cfg, b, True) for b in readout.items]
    assert got_readout == want_readout, "readout synaptic words differ from the golden model"
    dut._log.info(f"{len(requests)} events, {len(want_hidden)} + {len(want_readout)} words match the golden model")


@cocotb.test()
async def event_cost_matches_cycle_model(dut) -> None:
    cfg, _ = tb_params(2)
    await start(dut, INPUTS)
    fmt = formats_for(cfg)
    dut.hidden_syn__ready.value = 1
    dut.readout_syn__ready.value = 1
    routes = readout_routes(cfg)
    dense = cfg.hidden[0] // cfg.lanes
    for proj, j, words in ((Projection.FF, 3, dense), (Projection.REC, 1, dense),
                           (Projection.OUT, 0, int(routes.words[0])), (Projection.OUT, 5, int(routes.words[5]))):
        await FallingEdge(dut.clk)
        dut.req__payload.value = fmt.route_request.const({"proj": proj, "addr": j}).as_bits()
        dut.req__valid.value = 1
        await RisingEdge(dut.clk)                     # accepted (the router is idle)
        await FallingEdge(dut.clk)
        dut.req__valid.value = 0
        busy = 0
        while True:
            await ReadOnly()
            if not int(dut.busy.value):
                break
            busy += 1
            await RisingEdge(dut.clk)
        assert busy == words + CycleCosts().event_overhead, (proj, j, busy, words)
