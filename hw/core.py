"""A neuron core: ``lanes`` banks fed by one registered copy of the broadcast commands.

Core ``c`` holds banks ``c·L … c·L + L − 1`` (:class:`~modsnn.hw.bank.Bank`). Every command the
global units broadcast (accumulate, sweep, clear, plasticity job, host access) is registered once
at the core's input (:data:`CORE_LATENCY` = 1 cycle), so the fan-out from the global units is one
register per core and the fan-out inside a core is ``L`` banks; so are the sweep's bounds and the
X read-back address. The learning-rate shift and the modulatory levels reach the banks unregistered:
they are held while the plasticity jobs that use them are in flight (the bank asserts it), so a
register would change nothing but the flip-flop count. The core gathers its banks' outputs:
the spike bits and written state of a sweep word, the ``X`` read-back, the host read data of the
addressed bank, the PREFIX result (lane 0) and the SIGN gate results.
"""

from amaranth.hdl import Cat, Module, signed, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from ..golden_model.config import Config
from .bank import HOST_LATENCY, Bank, delay
from .formats import formats_for
from .params import checked_params, rejected

__all__ = ["CORE_LATENCY", "NeuronCore"]

CORE_LATENCY = 1


class NeuronCore(wiring.Component):
    """Core ``core`` of the neuron array of ``cfg``."""

    def __init__(self, cfg: Config, core: int) -> None:
        self._p = p = checked_params(self, cfg)
        fmt = formats_for(cfg)
        if not isinstance(core, int) or not 0 <= core < cfg.cores:
            raise rejected(self, ValueError(f"core must be an integer in [0, {cfg.cores - 1}], not {core!r}"))
        self._cfg, self._core = cfg, core
        L = cfg.lanes
        super().__init__({
            "acc": In(fmt.stream(fmt.acc_command)),
            "sweep": In(fmt.stream(fmt.sweep_command)),
            "theta": In(signed(cfg.membrane_bits)), "lo": In(signed(cfg.membrane_bits)),
            "hi": In(signed(cfg.membrane_bits)),
            "clear": In(fmt.stream(unsigned(p.state_addr_bits))),
            "job": In(fmt.stream(fmt.job)),
            "shift": In(5),
            "levels": In(data.ArrayLayout(signed(p.level_bits), cfg.n_classes)),
            "host": In(fmt.stream(fmt.host_command)),
            "host_rdata": Out(signed(cfg.weight_bits)),
            "host_state": Out(fmt.state_word),
            "spikes": Out(L),
            "mon": Out(data.ArrayLayout(fmt.state_word, L)),
            "x_addr": In(p.state_addr_bits), "x_en": In(1),
            "x_data": Out(data.ArrayLayout(unsigned(p.xsum_bits), L)),
            "prefix": Out(32),
            "gated": Out(1), "gated_valid": Out(1),
        })

    def elaborate(self, platform: object) -> Module:
        cfg, L = self._cfg, self._cfg.lanes
        m = Module()
        banks = []
        for lane in range(L):
            bank = Bank(cfg, self._core * L + lane)
            m.submodules[f"bank{lane}"] = bank
            banks.append(bank)
        for name in ("acc", "sweep", "clear", "job", "host"):
            port = getattr(self, name)
            valid, payload = delay(m, port.valid, 1, f"{name}_v"), delay(m, port.payload, 1, name)
            for bank in banks:
                target = getattr(bank, name)
                m.d.comb += [target.valid.eq(valid), target.payload.eq(payload)]
        bounds = [delay(m, getattr(self, name), 1, name) for name in ("theta", "lo", "hi")]
        x_addr, x_en = delay(m, self.x_addr, 1, "x_addr"), delay(m, self.x_en, 1, "x_en")
        for bank in banks:
            m.d.comb += [bank.shift.eq(self.shift), bank.levels.eq(self.levels), bank.x_addr.eq(x_addr),
                         bank.x_en.eq(x_en), bank.theta.eq(bounds[0]), bank.lo.eq(bounds[1]), bank.hi.eq(bounds[2])]
        # outputs
        lane_sel = delay(m, self.host.payload.bank % L, CORE_LATENCY + HOST_LATENCY, "host_lane")
        for lane, bank in enumerate(banks):
            m.d.comb += [self.spikes[lane].eq(bank.spike), self.mon[lane].eq(bank.mon),
                         self.x_data[lane].eq(bank.x_data)]
            with m.If(lane_sel == lane):
                m.d.comb += [self.host_rdata.eq(bank.host_rdata), self.host_state.eq(bank.host_state)]
        m.d.comb += [self.prefix.eq(banks[0].prefix), self.gated_valid.eq(banks[0].gated_valid),
                     self.gated.eq(Cat(*(bank.gated for bank in banks)).any())]
        return m
