"""cocotb testbench: the whole :class:`modsnn.hw.top.Accelerator` against the golden model.

Parameters in the environment (:mod:`modsnn.sim.tbparams`). The bench loads the golden network's
initial weights, then for every sample (every third one inference only, the others a training step;
samples 3 and 4 with the learning-rate offset ``LR_EXTRA`` = 1, the next epochs' halved rates)
compares with exact equality:

* every hidden and readout spike of every step (the ``mon`` port);
* the state every sweep wrote — membrane, trace, ``H``, ``X`` of every hidden neuron after every
  step and every readout membrane after every step (the ``smon`` port) — against the loop-per-neuron
  :class:`~modsnn.golden_model.reference.Reference`;
* the class counts, the modulatory levels, the prediction, the final state of every layer and of
  the readout read back through the control port, every weight of every layer after the update, and
  the cycles of every phase against :func:`~modsnn.golden_model.cycles.sample_cycles`.

``MODSNN_TB_CORNERS`` (comma-separated) names corners the run must reach, each counted in what the
RTL showed: ``w_max`` (a weight at +w_max), ``w_min`` (−w_max), ``v_max``/``v_min`` (a membrane
clamped at a rail, counted on the reference's pre-reset values, which the RTL's per-step state
matches), ``x_max`` (a trace saturated), ``m_max``/``m_min`` (a level at ±K), ``count_max`` (a class
count at its reachable maximum ``P·(T−1)``: no neuron spikes at ``t = 0``, because no input does).
The bench fails if a named corner is never reached, and logs every count.
With ``MODSNN_TB_TRACE`` set it writes everything the RTL showed to that ``.npz`` file, so that runs
at different ``lanes``/``cores`` can be compared with each other, not only with the golden model.
"""

from __future__ import annotations

import copy
import os
from collections import Counter
from typing import Any

import cocotb
import numpy as np

from modsnn.golden_model.config import Config
from modsnn.golden_model.cycles import sample_cycles
from modsnn.golden_model.data import load_dataset
from modsnn.golden_model.network import Network
from modsnn.golden_model.reference import Reference
from modsnn.hw.control_port import Command, Csr
from modsnn.hw.formats import Population, Region
from modsnn.hw.params import LR_EXTRA_MAX, hw_params
from modsnn.sim.accelerator import SimAccelerator, SpikeMonitor, StateMonitor
from modsnn.sim.streams import start
from modsnn.sim.tbparams import golden_config, tb_params

CLOCK_NS = 10                                # the clock of sim.streams.start
INPUTS = ("bus__addr", "bus__wdata", "bus__we", "bus__re")
CORNERS = ("w_max", "w_min", "v_max", "v_min", "x_max", "m_max", "m_min", "count_max")


def assert_weights(sample: int, got: tuple, net: Network) -> None:
    for name, rtl_layers, gold_layers in zip(("ff", "rec", "out"), got, (net.ff, net.rec, net.out), strict=True):
        for layer, (rtl, gold) in enumerate(zip(rtl_layers, gold_layers, strict=True)):
            diff = np.argwhere(rtl != gold)
            assert diff.size == 0, (f"sample {sample}: {len(diff)} {name}{layer} weights differ, first at "
                                    f"{diff[0].tolist()}: RTL {rtl[tuple(diff[0])]} golden {gold[tuple(diff[0])]}")


def check_steps(sample: int, cfg: Config, states: StateMonitor, ref: dict, corners: Counter) -> None:
    """Per-step state of every hidden layer and the readout membranes, against the reference."""
    D = cfg.n_hidden_layers
    for t in range(cfg.timesteps):
        for layer in range(D):
            got = states.state(t, layer, cfg.hidden[layer])
            want = ref["steps"][layer][t]
            for name in ("v", "x", "H", "X"):
                assert got[name] == want[name], (f"sample {sample} step {t} layer {layer}: {name} differs, "
                                                 f"RTL {got[name][:8]}… reference {want[name][:8]}…")
            corners["x_max"] += sum(x == cfg.x_max for x in got["x"])
        got_out = states.state(t, D, cfg.n_readout)["v"]
        assert got_out == ref["v_out_steps"][t], (f"sample {sample} step {t}: readout membranes differ: RTL {got_out} "
                                                  f"reference {ref['v_out_steps'][t]}")
    for rails in ref["rails"]:
        corners["v_max"] += rails[0]
        corners["v_min"] += rails[1]


@cocotb.test()
async def top_matches_golden(dut: Any) -> None:
    cfg, samples = tb_params(4)
    wanted = [c for c in os.environ.get("MODSNN_TB_CORNERS", "").split(",") if c]
    unknown = set(wanted) - set(CORNERS)
    assert not unknown, f"unknown corners {sorted(unknown)}; known: {', '.join(CORNERS)}"
    await start(dut, INPUTS)
    acc = SimAccelerator(dut, cfg)
    net = Network(golden_config(cfg))
    await acc.load_weights(net)
    assert_weights(-1, await acc.read_weights(), net)
    spikes, states = SpikeMonitor(dut, cfg), StateMonitor(dut, cfg)
    cocotb.start_soon(spikes.run())
    cocotb.start_soon(states.run())
    data = load_dataset(cfg.dataset, "train")
    trace: dict[str, np.ndarray] = {}
    corners: Counter = Counter()
    D = cfg.n_hidden_layers
    for sample in range(samples):
        u, label = data.x[sample], int(data.y[sample])
        train = sample % 3 != 2
        lr_extra = (sample // 3) % 2             # samples 3, 4: learning rates halved (LR_EXTRA = 1)
        reference = Reference(net.cfg, net)
        ref = reference.forward([int(v) for v in u])
        reference.run_readout(ref)
        await acc.load_sample(u)
        spikes.events.clear()
        states.words.clear()
        fwd = net.forward(u.reshape(1, -1))      # forward only: the weights change in net.learn below
        # a hang fails fast: twice the sample's exact cycles (the plasticity pass from a copy of the
        # network, which learns below) plus 10,000; Icarus reaches that in minutes, not hours
        trial = copy.deepcopy(net).learn(fwd, label, lr_extra) if train else None
        budget_us = (2 * sample_cycles(cfg, fwd, report=trial).total + 10_000) * CLOCK_NS // 1000 + 1
        prediction = await acc.run(Command.TRAIN if train else Command.INFER, label=label, lr_extra=lr_extra,
                                   timeout_us=budget_us)
        for t in range(cfg.timesteps):
            populations = [(Population.HIDDEN, l, fwd.spikes[l][t, 0]) for l in range(D)]
            populations.append((Population.READOUT, 0, fwd.readout_spikes[t, 0]))
            for pop, layer, want in populations:
                got = [a for (step, p, lay, a) in spikes.events if step == t and p == pop.value and lay == layer]
                assert got == np.flatnonzero(want).tolist(), f"sample {sample} step {t} {pop.name}{layer}: {got}"
        check_steps(sample, cfg, states, ref, corners)
        assert prediction == int(fwd.prediction[0]), f"sample {sample}: prediction {prediction}"
        counts = await acc.counts()
        assert counts == fwd.counts[0].tolist(), f"sample {sample}: class counts differ"
        corners["count_max"] += sum(c == cfg.pop * (cfg.timesteps - 1) for c in counts)
        for layer in range(D):
            state = await acc.read_state(layer)
            for name, want in (("v", fwd.membrane[layer][0]), ("x", fwd.trace[layer][0]), ("H", fwd.H[layer][0]),
                               ("X", fwd.X[layer][0])):
                assert state[name] == want.tolist(), f"sample {sample}: final {name} of layer {layer} differs"
        assert await acc.read_readout_membranes() == fwd.readout_membrane[0].tolist(), \
            f"sample {sample}: final readout membranes differ"
        report = net.learn(fwd, label, lr_extra) if train else None
        levels = await acc.levels()
        if report is not None:
            assert levels == report.modulation.tolist(), f"sample {sample}: modulatory levels differ"
            corners["m_max"] += sum(m == cfg.mod_levels for m in levels)
            corners["m_min"] += sum(m == -cfg.mod_levels for m in levels)
        weights = await acc.read_weights()
        assert_weights(sample, weights, net)
        for w in (*weights[0], *weights[1], *weights[2]):
            corners["w_max"] += int((w == cfg.w_max).sum())
            corners["w_min"] += int((w == -cfg.w_max).sum())
        got_cycles, want_cycles = await acc.cycles(), sample_cycles(cfg, fwd, report=report)
        dut._log.info(f"sample {sample} ({'train' if train else 'infer'}): {len(spikes.events)} spikes, "
                      f"cycles RTL {got_cycles} model {want_cycles}")
        assert got_cycles == want_cycles, f"sample {sample}: cycles RTL {got_cycles} != model {want_cycles}"
        trace.update({f"{sample}/events": np.array(sorted(spikes.events), np.int64).reshape(-1, 4),
                      f"{sample}/prediction": np.array(prediction), f"{sample}/counts": np.array(counts),
                      f"{sample}/levels": np.array(levels)})
        for kind, layers in zip(("ff", "rec", "out"), weights, strict=True):
            trace.update({f"{sample}/{kind}{layer}": w for layer, w in enumerate(layers)})
    dut._log.info("corners reached: " + ", ".join(f"{c} {corners[c]}" for c in CORNERS))
    missed = [c for c in wanted if corners[c] == 0]
    assert not missed, f"corners never reached: {missed} (counts {dict(corners)})"
    if os.environ.get("MODSNN_TB_TRACE"):
        # allow_pickle given (its default) so that mypy does not match **trace against it
        np.savez(os.environ["MODSNN_TB_TRACE"], allow_pickle=True, **trace)


@cocotb.test()
async def bad_commands_are_refused(dut: Any) -> None:
    """A command that is not INFER/TRAIN, or TRAIN with a label ≥ n_classes, starts nothing, sets
    the error bit and changes no weight; the next good command clears the bit. ``LABEL`` and
    ``LR_EXTRA`` saturate (at their first and last out-of-range values too: a label of
    ``2^label_bits`` is refused, not trained as class 0), and the CSR offsets just past the class
    counts and levels read 0."""
    cfg, _ = tb_params(1)
    await start(dut, INPUTS)
    acc = SimAccelerator(dut, cfg)
    net = Network(cfg)
    await acc.load_weights(net)
    await acc.load_sample(load_dataset(cfg.dataset, "train").x[0])
    label_max = 2 ** hw_params(cfg).label_bits - 1
    for written, want in ((label_max, label_max), (label_max + 1, label_max), (2**32 - 1, label_max)):
        await acc.write(Region.CSR, Csr.LABEL, written)
        assert await acc.read(Region.CSR, Csr.LABEL) == want, f"LABEL {written} reads back, want {want}"
    for written, want in ((LR_EXTRA_MAX, LR_EXTRA_MAX), (LR_EXTRA_MAX + 1, LR_EXTRA_MAX), (2**32 - 1, LR_EXTRA_MAX)):
        await acc.write(Region.CSR, Csr.LR_EXTRA, written)
        assert await acc.read(Region.CSR, Csr.LR_EXTRA) == want, f"LR_EXTRA {written} reads back, want {want}"
    await acc.write(Region.CSR, Csr.LR_EXTRA, 0)
    for command, label in ((7, 0), (0, 0), (int(Command.TRAIN), cfg.n_classes), (int(Command.TRAIN), label_max + 1),
                           (int(Command.TRAIN), 255)):
        await acc.write(Region.CSR, Csr.LABEL, label)
        await acc.write(Region.CSR, Csr.COMMAND, command)
        status = await acc.read(Region.CSR, Csr.COMMAND)
        assert status == 0b10, f"command {command} with label {label}: status {status:#b}, want refused and idle"
    assert_weights(-1, await acc.read_weights(), net)
    await acc.run(Command.INFER)
    assert await acc.read(Region.CSR, Csr.COMMAND) == 0, "a good command clears the error bit"
    counts = await acc.read_many([acc.address(Region.CSR, Csr.COUNT + c) for c in range(cfg.n_classes + 1)])
    assert counts[-1] == 0, f"CSR {Csr.COUNT + cfg.n_classes} (past the class counts {counts[:-1]}) reads 0"
    assert await acc.read(Region.CSR, Csr.LEVEL + cfg.n_classes) == 0, "the CSR past the levels reads 0"
    # a write in the bus cycle right after a command finds the accelerator busy (the registered
    # start strobe counts as busy) and is ignored
    await acc.write(Region.CSR, Csr.LABEL, 1)
    await acc.write_many([(acc.address(Region.CSR, Csr.COMMAND), int(Command.INFER)),
                          (acc.address(Region.CSR, Csr.LABEL), 2)])
    await acc.wait_idle()
    assert await acc.read(Region.CSR, Csr.LABEL) == 1, "a write in the cycle after a command is ignored"
