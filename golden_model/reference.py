"""An independent, loop-per-neuron reference of the whole algorithm (integer model).

:class:`Reference` is written from the equations of ``docs/algorithm.md`` and of the
:mod:`~modsnn.golden_model.network` docstring only: plain Python integers, one neuron and one synapse
at a time, every step in order, every layer, both eligibility modes, both teaching modes. It shares
nothing with :class:`~modsnn.golden_model.network.Network` but the starting weights, the small-world
masks and the pure-Python hash (``rng.hash32_int``). It is slow (use it for small networks) and it
records what the vectorised model does not keep: the state of every neuron after every step, which
the RTL testbenches compare with the hardware's per-step state.
"""

from __future__ import annotations

from typing import Any

from . import rng
from .config import Config
from .network import Network
from .rng import Stream

__all__ = ["Reference"]


def floor_shift(v: int, k: int) -> int:
    return v >> k            # Python's >> on int is floor division by 2^k, as the hardware's arithmetic shift


class Reference:
    """The algorithm, one neuron at a time (integer model only)."""

    def __init__(self, cfg: Config, net: Network) -> None:
        self.cfg = cfg
        self.ff = [w.astype(int).tolist() for w in net.ff]
        self.rec = [w.astype(int).tolist() for w in net.rec]
        self.out = [w.astype(int).tolist() for w in net.out]
        self.masks = [m.tolist() for m in net.masks]
        self.updates = 0
        self.rails = [0, 0]          # membranes clamped at v_max, at v_min (every population, every step)

    def sign(self, layer: int, i: int, c: int) -> int:
        row = rng.key_int(self.cfg.seed, int(Stream.FEEDBACK), 0, layer, i)
        return 1 if rng.hash32_int(row ^ c) >> 31 else -1

    def sr(self, v: int, stream: Stream, layer: int, i: int, j: int, shift: int) -> int:
        row = rng.key_int(self.cfg.seed, int(stream), self.updates, layer, i)
        r = rng.hash32_int(row ^ j) >> (32 - shift) if shift else 0
        return (v + r) >> shift

    def sat(self, w: int) -> int:
        return max(-self.cfg.w_max, min(self.cfg.w_max, w))

    def trace(self, x: int, s: int) -> int:
        cfg = self.cfg
        k = cfg.trace_shift
        return min(x - (x + (1 << k) - 1) // (1 << k) + cfg.trace_amp * s, cfg.x_max)

    def lif(self, v: int, current: int, theta: int) -> tuple[int, int]:
        """``(v_pre_reset, v_after)`` of one step; counts the clamps in :attr:`rails`."""
        cfg = self.cfg
        wide = v - floor_shift(v, cfg.leak_shift) + current
        self.rails[0] += wide > cfg.v_max
        self.rails[1] += wide < cfg.v_min
        v1 = max(cfg.v_min, min(cfg.v_max, wide))
        return v1, v1 - theta * (v1 >= theta)

    def forward(self, u: list[int]) -> dict[str, Any]:
        """Hidden layers over ``T`` steps: spikes, ``H``, ``X``, synaptic eligibilities, final state."""
        cfg = self.cfg
        T, f = cfg.timesteps, cfg.weight_frac
        layers = cfg.n_hidden_layers
        acc = [0] * cfg.n_inputs
        x_in = [0] * cfg.n_inputs
        v = [[0] * n for n in cfg.hidden]
        x = [[0] * n for n in cfg.hidden]
        H = [[0] * n for n in cfg.hidden]
        X = [[0] * n for n in cfg.hidden]
        X_in = [0] * cfg.n_inputs
        E_ff = [[[0] * cfg.layer_inputs(l) for _ in range(n)] for l, n in enumerate(cfg.hidden)]
        E_rec = [[[0] * n for _ in range(n)] for n in cfg.hidden]
        steps: list[list[dict[str, list[int]]]] = [[] for _ in cfg.hidden]   # state after each step
        prev = [[0] * n for n in cfg.hidden]                  # s_l(t − 1)
        prev_x = [[0] * n for n in cfg.hidden]                # x_l(t − 1)
        spikes: list[list[list[int]]] = [[] for _ in cfg.hidden]
        for _t in range(T):
            s_in = []
            for j in range(cfg.n_inputs):
                acc[j] += u[j]
                s = int(acc[j] >= 256)
                acc[j] -= 256 * s
                s_in.append(s)
                x_in[j] = self.trace(x_in[j], s)
                X_in[j] += x_in[j]
            pre, pre_x = s_in, x_in
            now = []
            for l, n in enumerate(cfg.hidden):
                theta = cfg.threshold[l]
                lo, hi = (theta * cfg.boxcar_lo_q4) >> 2, (theta * cfg.boxcar_hi_q4) >> 2
                s_l, h_l = [0] * n, [0] * n
                for i in range(n):
                    current = sum(floor_shift(self.ff[l][i][j], f) for j in range(len(pre)) if pre[j])
                    current += sum(floor_shift(self.rec[l][i][k], f) for k in range(n) if prev[l][k] and k != i)
                    v1, v[l][i] = self.lif(v[l][i], current, theta)
                    h_l[i] = int(lo <= v1 < hi)
                    s_l[i] = int(v1 >= theta)
                new_x = [self.trace(x[l][i], s_l[i]) for i in range(n)]
                for i in range(n):
                    H[l][i] += h_l[i]
                    X[l][i] += new_x[i]
                    if cfg.eligibility == "synaptic" and h_l[i]:
                        for j in range(len(pre_x)):
                            E_ff[l][i][j] += pre_x[j]
                        for k in range(n):
                            E_rec[l][i][k] += prev_x[l][k]
                prev_x[l] = new_x
                x[l] = new_x
                steps[l].append({"v": list(v[l]), "x": list(new_x), "H": list(H[l]), "X": list(X[l])})
                spikes[l].append(s_l)
                now.append(s_l)
                pre, pre_x = s_l, new_x
            for l in range(layers):
                prev[l] = now[l]
        return {"X_in": X_in, "H": H, "X": X, "E_ff": E_ff, "E_rec": E_rec, "spikes": spikes, "v": v, "x": x,
                "steps": steps}

    def run_readout(self, fwd: dict[str, Any]) -> None:
        """Readout spikes and class counts (a second, independent pass over the recorded hidden spikes)."""
        cfg = self.cfg
        v_out = [0] * cfg.n_readout
        counts = [0] * cfg.n_classes
        readout, v_steps = [], []
        for t in range(cfg.timesteps):
            r_t = []
            for k in range(cfg.n_readout):
                current = sum(floor_shift(self.out[l][k][j], cfg.weight_frac) for l in range(cfg.n_hidden_layers)
                              for j in range(cfg.hidden[l]) if fwd["spikes"][l][t][j] and self.masks[l][k][j])
                v1, v_out[k] = self.lif(v_out[k], current, cfg.readout_threshold)
                r_t.append(int(v1 >= cfg.readout_threshold))
                counts[k % cfg.n_classes] += r_t[-1]
            readout.append(r_t)
            v_steps.append(list(v_out))
        fwd["readout_spikes"], fwd["counts"], fwd["v_out"], fwd["v_out_steps"] = readout, counts, v_out, v_steps
        fwd["rails"] = [tuple(self.rails)]

    def learn(self, fwd: dict[str, Any], label: int) -> list[int]:
        cfg = self.cfg
        C, K = cfg.n_classes, cfg.mod_levels
        n = fwd["counts"]
        m = []
        for c in range(C):
            if c == label:
                e = cfg.target_count - n[c]
            elif cfg.teaching == "margin" and n[c] + cfg.teach_margin <= n[label]:
                e = 0
            else:
                e = -n[c]
            half = (1 << (cfg.mod_shift - 1)) if cfg.mod_shift else 0
            m.append(max(-K, min(K, (e + half) >> cfg.mod_shift)))
        for l, n_l in enumerate(cfg.hidden):
            X = fwd["X"][l]
            for k in range(cfg.n_readout):
                for j in range(n_l):
                    if self.masks[l][k][j]:
                        d = self.sr(m[k % C] * X[j], Stream.ROUND_OUT, l, k, j, cfg.lr_shift_out)
                        self.out[l][k][j] = self.sat(self.out[l][k][j] + d)
            if not cfg.learn_hidden:
                continue
            X_pre = fwd["X_in"] if l == 0 else fwd["X"][l - 1]
            shift = cfg.lr_shift_hidden[l] + cfg.eligibility_shift
            for i in range(n_l):
                Li = sum(self.sign(l, i, c) * m[c] for c in range(C))
                for j in range(len(X_pre)):
                    E = fwd["H"][l][i] * X_pre[j] if cfg.eligibility == "factored" else fwd["E_ff"][l][i][j]
                    self.ff[l][i][j] = self.sat(self.ff[l][i][j] + self.sr(Li * E, Stream.ROUND_FF, l, i, j, shift))
                for k in range(n_l):
                    if k == i:
                        continue
                    E = fwd["H"][l][i] * X[k] if cfg.eligibility == "factored" else fwd["E_rec"][l][i][k]
                    self.rec[l][i][k] = self.sat(self.rec[l][i][k] + self.sr(Li * E, Stream.ROUND_REC, l, i, k, shift))
        self.updates += 1
        return m
