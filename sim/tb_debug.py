"""Scratch bench for debugging (not part of the suite)."""
import cocotb
from cocotb.triggers import ClockCycles, FallingEdge
from modsnn.golden_model.data import load_dataset
from modsnn.golden_model.network import Network
from modsnn.hw.control_port import Command, Csr
from modsnn.hw.formats import Region
from modsnn.sim.accelerator import SimAccelerator
from modsnn.sim.streams import start
from modsnn.sim.tbparams import tb_params

@cocotb.test()
async def debug(dut) -> None:
    cfg, _ = tb_params(1)
    await start(dut, ("bus__addr", "bus__wdata", "bus__we", "bus__re"))
    acc = SimAccelerator(dut, cfg)
    net = Network(cfg)
    dut._log.info("loading weights")
    await acc.load_weights(net)
    dut._log.info("loaded")
    data = load_dataset(cfg.dataset, "train")
    await acc.load_sample(data.x[0])
    await acc.write(Region.CSR, Csr.LABEL, int(data.y[0]))
    await acc.write(Region.CSR, Csr.COMMAND, int(Command.TRAIN))
    last = None
    for cycle in range(200000):
        await FallingEdge(dut.clk)
        try:
            ph = (int(dut.sequencer.phase.value), int(dut.sequencer.step.value), int(dut.learner.fsm_state.value), int(dut.learner.layer.value))
        except Exception as e:
            ph = repr(e)
        if ph[0] == 6 and cycle % 50 == 0 and cycle < 19500:
            l = dut.learner
            dut._log.info(f"  c{cycle} active {int(l.w_active.value)} a {int(l.w_a.value)} j {int(l.w_j.value)} inflight {int(l.inflight.value)} rem {int(l.i_remaining.value)} gates {int(l.gates.value):#x} counter {int(l.counter.value)}")
        if ph != last:
            dut._log.info(f"cycle {cycle}: phase/step {ph} busy {int(dut.busy.value)}")
            last = ph
        if cycle > 10 and not int(dut.busy.value):
            break
    dut._log.info(f"cycles {await acc.cycles()}")
