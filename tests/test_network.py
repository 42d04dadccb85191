"""The integer network against closed forms and a naive, loop-per-synapse reference."""

from __future__ import annotations

import numpy as np
import pytest

from modsnn.golden_model import rng
from modsnn.golden_model.config import Config
from modsnn.golden_model.data import load_dataset
from modsnn.golden_model.network import Network
from modsnn.golden_model.rng import Stream


def single(**kw) -> Config:
    base = dict(n_inputs=1, hidden=(1,), n_classes=2, pop=1, timesteps=16, threshold=(100,),
                readout_threshold=100, init_ff=(0,), init_rec=(0,), init_out=0, readout_density=1.0)
    base.update(kw)
    return Config(**base)


def impulse(net: Network, w_fwd: int, theta: int, steps: int = 16):
    pre = np.zeros((steps, 1, 1), bool)
    pre[0] = True
    w = np.array([[float(w_fwd)]], dtype=net.state_dtype)
    return net._lif(pre, w, None, theta)


def test_lif_impulse_response_matches_hand_computation() -> None:
    net = Network(single())
    S, V, v = impulse(net, 100, 1000)
    # v(0) = 100; v(t) = v(t-1) - (v(t-1) >> 3), worked by hand:
    expected = [100, 88, 77, 68, 60, 53, 47, 42, 37, 33, 29, 26, 23, 21, 19, 17]
    assert V[:, 0, 0].astype(int).tolist() == expected
    assert not S.any()
    assert int(v[0, 0]) == 17                         # final state = last step (no spike)


def test_lif_negative_membrane_decays_to_zero() -> None:
    net = Network(single(timesteps=40))
    _, V, _ = impulse(net, -100, 1000, steps=40)
    seq = V[:, 0, 0].astype(int).tolist()
    assert seq[:4] == [-100, -87, -76, -66]      # -100 >> 3 = -13 (floor)
    assert seq[-1] == 0 and seq == sorted(seq)


def test_lif_threshold_reset_by_subtraction_and_clamp() -> None:
    net = Network(single())
    S, V, _ = impulse(net, 150, 100)
    assert S[:, 0, 0].tolist() == [True] + [False] * 15
    assert V[0, 0, 0] == 150 and V[1, 0, 0] == 50 - (50 >> 3)
    cfg = single(n_inputs=300, threshold=(32767,))
    net = Network(cfg)
    pre = np.ones((2, 1, 300), bool)
    S, V, _ = net._lif(pre, np.full((1, 300), 127.0, net.state_dtype), None, 32767)
    assert V[0, 0, 0] == 32767 and S[0, 0, 0]     # 38,100 saturates at v_max


def test_float_twin_impulse_is_geometric() -> None:
    net = Network(single(), model="float")
    _, V, _ = impulse(net, 100, 1000)
    np.testing.assert_array_equal(V[:, 0, 0], 100.0 * (7 / 8) ** np.arange(16))


def test_trace_decay_reaches_zero_and_saturates() -> None:
    cfg = single(timesteps=16)
    net = Network(cfg)
    one = np.zeros((16, 1, 1), bool)
    one[0] = True
    hand = [64, 48, 36, 27, 20, 15, 11, 8, 6, 4, 3, 2, 1, 0, 0, 0]   # x -= ceil(x / 4)
    _, X, hist = net._traces(one, keep_steps=True)
    assert hist[:, 0, 0].tolist() == hand and X[0, 0] == sum(hand)
    last_t, X_t, _ = net._traces(one, keep_steps=False)          # pattern-table path
    assert X_t[0, 0] == sum(hand) and last_t[0, 0] == 0
    every = np.ones((16, 1, 1), bool)
    _, X, hist = net._traces(every, keep_steps=True)
    seq = hist[:, 0, 0].tolist()
    assert seq[:4] == [64, 112, 148, 175] and seq == sorted(seq) and max(seq) <= 255
    assert net._traces(every, keep_steps=False)[1][0, 0] == X[0, 0]
    long_net = Network(single(timesteps=60))
    _, _, hist = long_net._traces(np.ones((60, 1, 1), bool), keep_steps=True)
    assert hist[-1, 0, 0] == 253          # fixed point: 253 - ceil(253 / 4) + 64 = 253
    strong = Network(single(trace_amp=200))
    _, _, hist = strong._traces(every, keep_steps=True)
    assert hist[:3, 0, 0].tolist() == [200, 255, 255]   # 200 - 50 + 200 = 350 saturates at x_max


def test_pattern_tables_match_loop_for_all_patterns() -> None:
    net = Network(single(timesteps=10))
    patterns = np.arange(1 << 10)
    S = ((patterns[None, :] >> np.arange(10)[:, None]) & 1).astype(bool)[:, None, :]
    a = net._traces(S, keep_steps=False)
    b = net._traces(S, keep_steps=True)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])


def test_encoder_rate_code() -> None:
    net = Network(single())
    spikes, _, _ = net.encode(np.array([[0], [16], [128], [255]], np.uint8))
    trains = spikes[:, :, 0].T
    assert trains[0].sum() == 0
    assert trains[1].tolist() == [False] * 15 + [True]
    assert trains[2].tolist() == [False, True] * 8
    assert trains[3].sum() == 15 and not trains[3][0]
    with pytest.raises(ValueError, match="input must have shape \\(batch, 1\\)"):
        net.encode(np.zeros((2, 3), np.uint8))
    with pytest.raises(ValueError, match="intensities must be integers in \\[0, 255\\]"):
        net.encode(np.array([[300]]))


def test_modulation_worked_by_hand() -> None:
    net = Network(Config(n_classes=2, pop=10, target_rate=0.25, mod_shift=3, mod_levels=4))
    e, m = net.modulation(np.array([5, 36]), 0)       # R = 0.25·10·16 = 40
    assert e.tolist() == [35, -36]
    assert m.tolist() == [4, -4]                        # (35+4)>>3 = 4 (clamped at K=4); (-36+4)>>3 = -4
    e, m = net.modulation(np.array([0, 12]), 1)
    assert e.tolist() == [0, 28] and m.tolist() == [0, 4]
    with pytest.raises(ValueError, match="label must be in \\[0, 1\\], not 2"):
        net.modulation(np.array([0, 0]), 2)


def naive_update(cfg: Config, net: Network, fwd, label: int, sample: int):
    """Loop-per-synapse reference of the three-factor rule (factored eligibility)."""
    ff = [w.copy() for w in net.ff]
    rec = [w.copy() for w in net.rec]
    out = [w.copy() for w in net.out]
    _, m = net.modulation(fwd.counts[0], label)

    def sr(v: int, stream: Stream, layer: int, i: int, j: int, shift: int) -> int:
        row = rng.key_int(cfg.seed, int(stream), sample, layer, i)
        word = rng.hash32_int(row ^ j)
        return (v + (word >> (32 - shift))) >> shift

    def sat(w: int) -> int:
        return max(-cfg.w_max, min(cfg.w_max, w))

    for layer, n in enumerate(cfg.hidden):
        X = fwd.X[layer][0]
        for k in range(cfg.n_readout):
            mk = int(m[k % cfg.n_classes])
            for j in range(n):
                if mk and net.masks[layer][k, j]:
                    out[layer][k, j] = sat(int(out[layer][k, j]) + sr(mk * int(X[j]), Stream.ROUND_OUT, layer,
                                                                      k, j, cfg.lr_shift_out))
        B = net.feedback[layer]
        H = fwd.H[layer][0]
        X_pre = fwd.X_in[0] if layer == 0 else fwd.X[layer - 1][0]
        shift = cfg.lr_shift_hidden[layer] + cfg.eligibility_shift
        for i in range(n):
            L = sum(int(B[i, c]) * int(m[c]) for c in range(cfg.n_classes))
            if L == 0 or H[i] == 0:
                continue
            for j in range(len(X_pre)):
                ff[layer][i, j] = sat(int(ff[layer][i, j]) + sr(L * int(H[i]) * int(X_pre[j]), Stream.ROUND_FF,
                                                                layer, i, j, shift))
            for k in range(n):
                if k != i:
                    rec[layer][i, k] = sat(int(rec[layer][i, k]) + sr(L * int(H[i]) * int(X[k]), Stream.ROUND_REC,
                                                                      layer, i, k, shift))
    return ff, rec, out


def test_learning_matches_naive_reference(tiny: Config) -> None:
    cfg = tiny.replace(hidden=(12,), pop=2, readout_density=0.5, lr_shift_hidden=(6,), lr_shift_out=5)
    data = load_dataset("digits", "train")
    net = Network(cfg)
    for index in range(3):                               # a few updates, so state is non-trivial
        fwd = net.forward(data.x[index:index + 1])
        ff, rec, out = naive_update(cfg, net, fwd, int(data.y[index]), net.updates)
        net.learn(fwd, int(data.y[index]))
        for layer in range(cfg.n_hidden_layers):
            np.testing.assert_array_equal(net.out[layer], out[layer])
            np.testing.assert_array_equal(net.ff[layer], ff[layer])
            np.testing.assert_array_equal(net.rec[layer], rec[layer])


def test_synaptic_eligibility_matches_loop(tiny: Config) -> None:
    cfg = tiny.replace(eligibility="synaptic", hidden=(10,), lr_shift_hidden=(4,))
    data = load_dataset("digits", "train")
    net = Network(cfg)
    fwd = net.forward(data.x[:1])
    h = fwd.h_steps[0][:, 0]
    x_in = fwd.x_in_steps[:, 0]
    E = np.zeros((10, cfg.n_inputs), np.int64)
    for t in range(cfg.timesteps):
        for i in range(10):
            for j in range(cfg.n_inputs):
                E[i, j] += int(h[t, i]) * int(x_in[t, j])
    before = net.ff[0].copy()
    report = net.learn(fwd, int(data.y[0]))
    L = report.learning_signal[0]
    rows = report.hidden_rows[0]
    assert rows.size > 0
    for i in rows:
        key = rng.key_int(cfg.seed, int(Stream.ROUND_FF), 0, 0, int(i))
        for j in range(cfg.n_inputs):
            r = rng.hash32_int(key ^ j) >> (32 - cfg.lr_shift_hidden[0])
            want = max(-cfg.w_max, min(cfg.w_max, int(before[i, j]) + ((int(L[i]) * int(E[i, j]) + r)
                                                                     >> cfg.lr_shift_hidden[0])))
            assert net.ff[0][i, j] == want


def test_gating_touches_only_modulated_rows(tiny: Config) -> None:
    data = load_dataset("digits", "train")
    net = Network(tiny)
    fwd = net.forward(data.x[:1])
    out_before = [w.copy() for w in net.out]
    ff_before = [w.copy() for w in net.ff]
    report = net.learn(fwd, int(data.y[0]))
    m_k = np.tile(report.modulation, tiny.pop)
    for layer in range(tiny.n_hidden_layers):
        untouched = m_k == 0
        np.testing.assert_array_equal(net.out[layer][untouched], out_before[layer][untouched])
        gated = np.ones(tiny.hidden[layer], bool)
        gated[report.hidden_rows[layer]] = False
        np.testing.assert_array_equal(net.ff[layer][gated], ff_before[layer][gated])
        assert (net.out[layer][~net.masks[layer]] == 0).all()


def test_weights_saturate(tiny: Config) -> None:
    cfg = tiny.replace(lr_shift_out=1, lr_shift_hidden=(1,), weight_bits=8, weight_frac=2, init_ff=(10,),
                       init_rec=(4,), init_out=8)
    data = load_dataset("digits", "train")
    net = Network(cfg)
    for i in range(20):
        net.train_step(data.x[i], int(data.y[i]))
    for w in (*net.ff, *net.rec, *net.out):
        assert np.abs(w).max() <= cfg.w_max
    assert max(np.abs(w).max() for w in net.out) == cfg.w_max


def test_batch_results_equal_single_sample_results(tiny: Config) -> None:
    data = load_dataset("digits", "test")
    net = Network(tiny.replace(hidden=(48,), threshold=(24,)))
    batch = net.forward(data.x[:33])
    for b in (0, 7, 32):
        one = net.forward(data.x[b:b + 1])
        np.testing.assert_array_equal(one.spikes[0][:, 0], batch.spikes[0][:, b])
        np.testing.assert_array_equal(one.readout_spikes[:, 0], batch.readout_spikes[:, b])
        np.testing.assert_array_equal(one.H[0][0], batch.H[0][b])
        np.testing.assert_array_equal(one.X[0][0], batch.X[0][b])
        np.testing.assert_array_equal(one.membrane[0][0], batch.membrane[0][b])
    np.testing.assert_array_equal(net.predict(data.x, batch=1000), net.predict(data.x, batch=7))


def train_weights(cfg: Config, n: int = 40) -> dict:
    data = load_dataset("digits", "train")
    net = Network(cfg)
    for i in range(n):
        net.train_step(data.x[i], int(data.y[i]))
    return net.state_dict()


def test_same_seed_same_weights_other_seed_differs(tiny: Config) -> None:
    a, b, c = train_weights(tiny), train_weights(tiny), train_weights(tiny.replace(seed=2))
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])
    assert any(not np.array_equal(a[k], c[k]) for k in a if k != "updates")


def test_float_twin_starts_from_the_same_weights(tiny: Config) -> None:
    a, f = Network(tiny), Network(tiny, model="float")
    for layer in range(tiny.n_hidden_layers):
        np.testing.assert_array_equal(a.ff[layer] / 2**tiny.weight_frac, f.ff[layer])
        np.testing.assert_array_equal(a.out[layer] / 2**tiny.weight_frac, f.out[layer])


def test_bad_model_and_state() -> None:
    with pytest.raises(ValueError, match="model must be 'int' or 'float', not 'fixed'"):
        Network(Config(), model="fixed")
    net = Network(Config())
    state = net.state_dict()
    state["ff0"] = np.zeros((3, 3), np.int64)
    with pytest.raises(ValueError, match="weights ff0 have shape \\(3, 3\\), the configuration needs"):
        net.load_state_dict(state)
