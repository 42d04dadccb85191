"""cocotb testbench: the whole :class:`modsnn.hw.top.Accelerator` against the golden model.

Parameters in the environment: ``MODSNN_TB_CONFIG`` (preset), ``MODSNN_TB_SET`` (JSON list of
``FIELD=VALUE``), ``MODSNN_TB_SAMPLES``. The bench loads the golden network's initial weights,
then for every sample (every third one inference only, the others a training step) compares
with exact equality: the hidden and readout spikes of every time step, the class counts, the
modulatory levels, the prediction, the hidden state (membranes, traces, ``H``, ``X``), all weights
after the update, and the cycles of every phase against :func:`~modsnn.golden_model.cycles.sample_cycles`.
With ``MODSNN_TB_TRACE`` set, it also writes everything the RTL showed (spikes, counts, levels,
predictions, state, weights after every sample) to that ``.npz`` file, so that runs of the same
network at different ``lanes`` can be compared with each other, not only with the golden model.
"""

from __future__ import annotations

import os

import cocotb
import numpy as np

from modsnn.golden_model.cycles import sample_cycles
from modsnn.golden_model.data import load_dataset
from modsnn.golden_model.network import Network
from modsnn.hw.formats import Population, Region
from modsnn.hw.top import Command, Csr
from modsnn.sim.accelerator import SimAccelerator, SpikeMonitor
from modsnn.sim.streams import start
from modsnn.sim.tbparams import golden_config, tb_params

INPUTS = ("bus__addr", "bus__wdata", "bus__we", "bus__re")


def assert_weights(sample: int, got: tuple, net: Network) -> None:
    for name, rtl, gold in zip(("ff", "rec", "out"), got, (net.ff[0], net.rec[0], net.out[0]), strict=True):
        diff = np.argwhere(rtl != gold)
        assert diff.size == 0, (f"sample {sample}: {len(diff)} {name} weights differ, first at {diff[0].tolist()}: "
                                f"RTL {rtl[tuple(diff[0])]} golden {gold[tuple(diff[0])]}")


@cocotb.test()
async def top_matches_golden(dut) -> None:
    cfg, samples = tb_params(4)
    await start(dut, INPUTS)
    acc = SimAccelerator(dut, cfg)
    net = Network(golden_config(cfg))
    await acc.load_weights(net)
    assert_weights(-1, await acc.read_weights(), net)
    monitor = SpikeMonitor(dut, cfg)
    cocotb.start_soon(monitor.run())
    data = load_dataset(cfg.dataset, "train")
    trace: dict[str, np.ndarray] = {}
    for sample in range(samples):
        u, label = data.x[sample], int(data.y[sample])
        train = sample % 3 != 2
        await acc.load_sample(u)
        monitor.events.clear()
        prediction = await acc.run(Command.TRAIN if train else Command.INFER, label=label)
        fwd = net.forward(u.reshape(1, -1))
        if os.environ.get("MODSNN_TB_DEBUG"):
            dut._log.info(f"events {monitor.events[:40]} input spikes {fwd.input_spikes[:3, 0].sum(axis=1)} "
                          f"hidden {fwd.spikes[0][:3, 0].sum(axis=1)}")
        for t in range(cfg.timesteps):
            for pop, want in ((Population.HIDDEN, fwd.spikes[0][t, 0]), (Population.READOUT, fwd.readout_spikes[t, 0])):
                got = [a for (step, p, a) in monitor.events if step == t and p == pop.value]
                assert got == np.flatnonzero(want).tolist(), f"sample {sample} step {t} {pop.name}: {got}"
        assert prediction == int(fwd.prediction[0]), f"sample {sample}: prediction {prediction}"
        assert await acc.counts() == fwd.counts[0].tolist(), f"sample {sample}: class counts differ"
        state = await acc.read_state()
        for name, want in (("v", fwd.membrane[0][0]), ("x", fwd.trace[0][0]), ("H", fwd.H[0][0]), ("X", fwd.X[0][0])):
            assert state[name] == want.tolist(), f"sample {sample}: hidden {name} differs"
        report = net.learn(fwd, label) if train else None
        levels = await acc.levels()
        if report is not None:
            assert levels == report.modulation.tolist(), f"sample {sample}: modulatory levels differ"
        weights = await acc.read_weights()
        assert_weights(sample, weights, net)
        trace.update({f"{sample}/events": np.array(sorted(monitor.events), np.int64).reshape(-1, 3),
                      f"{sample}/prediction": np.array(prediction), f"{sample}/counts": np.array(await acc.counts()),
                      f"{sample}/levels": np.array(levels), f"{sample}/ff": weights[0], f"{sample}/rec": weights[1],
                      f"{sample}/out": weights[2], **{f"{sample}/state_{k}": np.array(v) for k, v in state.items()}})
        got_cycles = await acc.cycles()
        want_cycles = sample_cycles(cfg, fwd, report=report)
        dut._log.info(f"sample {sample} ({'train' if train else 'infer'}): {len(monitor.events)} spikes, "
                      f"cycles RTL {got_cycles} model {want_cycles}")
        assert got_cycles == want_cycles, f"sample {sample}: cycles RTL {got_cycles} != model {want_cycles}"
    if os.environ.get("MODSNN_TB_TRACE"):
        np.savez(os.environ["MODSNN_TB_TRACE"], **trace)


@cocotb.test()
async def bad_commands_are_refused(dut) -> None:
    """A command that is not INFER/TRAIN, or TRAIN with a label ≥ n_classes, starts nothing, sets
    the error bit and changes no weight; the next good command clears the bit."""
    cfg, _ = tb_params(1)
    await start(dut, INPUTS)
    acc = SimAccelerator(dut, cfg)
    net = Network(cfg)
    await acc.load_weights(net)
    await acc.load_sample(load_dataset(cfg.dataset, "train").x[0])
    for command, label in ((7, 0), (0, 0), (int(Command.TRAIN), cfg.n_classes), (int(Command.TRAIN), 255)):
        await acc.write(Region.CSR, Csr.LABEL, label)
        await acc.write(Region.CSR, Csr.COMMAND, command)
        status = await acc.read(Region.CSR, Csr.COMMAND)
        assert status == 0b10, f"command {command} with label {label}: status {status:#b}, want refused and idle"
    assert_weights(-1, await acc.read_weights(), net)
    await acc.run(Command.INFER)
    assert await acc.read(Region.CSR, Csr.COMMAND) == 0, "a good command clears the error bit"
