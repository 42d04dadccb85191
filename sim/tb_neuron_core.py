"""cocotb testbench: :class:`modsnn.hw.neuron_core.NeuronCore` against the golden model.

Parameters arrive in the environment (``MODSNN_TB_CONFIG``: preset name; ``MODSNN_TB_SET``:
JSON list of ``FIELD=VALUE`` overrides; ``MODSNN_TB_SAMPLES``: samples to run). For each
sample the bench replays the golden model's synaptic events of hidden layer 0 step by step
(feed-forward events of the input spikes at ``t``, recurrent events of the layer's spikes at
``t−1``), with random idle cycles, holds the spike output under random back-pressure, and
compares every step's spike addresses and membranes, and after the sample ``H``, ``X`` and the
traces, with exact equality. It also checks the sweep's cycle count against the cycle model.
"""

from __future__ import annotations

import cocotb
import numpy as np
from cocotb.triggers import ReadOnly, RisingEdge

from modsnn.golden_model.cycles import CycleCosts
from modsnn.golden_model.data import load_dataset
from modsnn.golden_model.network import Network
from modsnn.hw.formats import formats_for
from modsnn.sim.streams import StreamSink, StreamSource, start, stimulus_random
from modsnn.sim.tbparams import golden_config, tb_params

INPUTS = ("step", "clear", "hold", "rd_addr", "syn__valid", "syn__payload", "spikes__ready")


async def strobe(dut, signal) -> int:
    """Pulse ``signal`` for one cycle, wait for the core to go busy and idle again; return the
    cycles from the pulse to the first idle cycle."""
    signal.value = 1
    await RisingEdge(dut.clk)
    signal.value = 0
    cycles, started = 1, False
    while True:
        await ReadOnly()
        busy = bool(dut.busy.value)
        await RisingEdge(dut.clk)
        if started and not busy:
            return cycles
        started |= busy
        cycles += 1
        assert cycles < 100_000, "the core never finished"


async def read_state(dut, n: int) -> dict[str, list[int]]:
    state: dict[str, list[int]] = {"v": [], "x": [], "h": [], "xsum": []}
    for i in range(n):
        dut.rd_addr.value = i
        await RisingEdge(dut.clk)          # the read port registers the address
        await ReadOnly()
        state["v"].append(dut.rd_v.value.to_signed())
        state["x"].append(int(dut.rd_x.value))
        state["h"].append(int(dut.rd_h.value))
        state["xsum"].append(int(dut.rd_xsum.value))
        await RisingEdge(dut.clk)
    return state


@cocotb.test()
async def neuron_core_matches_golden(dut) -> None:
    cfg, samples = tb_params(2)
    await start(dut, INPUTS)
    rnd = stimulus_random(dut._log)
    net = Network(golden_config(cfg))
    fmt = formats_for(cfg)
    L = cfg.lanes
    data = load_dataset(cfg.dataset, "test")
    n = cfg.hidden[0]
    w_ff = net.forward_weights(net.ff[0]).astype(np.int64)
    w_rec = net.forward_weights(net.rec[0]).astype(np.int64)
    spikes_out = StreamSink(dut, "spikes", dut.clk, rnd, backpressure=0.3)
    cocotb.start_soon(spikes_out.run())
    for sample in range(samples):
        fwd = net.forward(data.x[sample:sample + 1], keep_steps=True)
        await strobe(dut, dut.clear)
        for t in range(cfg.timesteps):
            columns = [w_ff[:, j] for j in np.flatnonzero(fwd.input_spikes[t, 0])]
            if t > 0:
                columns += [w_rec[:, k] for k in np.flatnonzero(fwd.spikes[0][t - 1, 0])]
            events = [fmt.synaptic_word.const([{"valid": 1, "addr": a, "weight": int(col[a * L + lane])}
                                               for lane in range(L)]).as_bits()
                      for col in columns for a in range(n // L)]
            await StreamSource(dut, "syn", dut.clk, rnd, idle=0.3).send(events)
            before = len(spikes_out.items)
            cycles = await strobe(dut, dut.step)
            got = [fmt.address_event.from_bits(b).addr for b in spikes_out.items[before:]]
            want = np.flatnonzero(fwd.spikes[0][t, 0]).tolist()
            assert got == want, f"sample {sample} step {t}: spikes {got} != golden {want}"
            assert cycles >= n + CycleCosts().sweep_latency
        state = await read_state(dut, n)
        assert state["h"] == fwd.H[0][0].tolist(), f"sample {sample}: H differs"
        assert state["xsum"] == fwd.X[0][0].tolist(), f"sample {sample}: X differs"
        assert state["x"] == fwd.trace[0][0].tolist(), f"sample {sample}: traces differ"
        assert state["v"] == fwd.membrane[0][0].tolist(), f"sample {sample}: membranes differ"
        dut._log.info(f"sample {sample}: {int(fwd.spikes[0].sum())} hidden spikes match the golden model")


@cocotb.test()
async def sweep_takes_n_plus_latency_cycles(dut) -> None:
    cfg, _ = tb_params(2)
    await start(dut, INPUTS)
    dut.spikes__ready.value = 1
    await strobe(dut, dut.clear)
    cycles = await strobe(dut, dut.step)
    assert cycles == cfg.hidden[0] + CycleCosts().sweep_latency, cycles
