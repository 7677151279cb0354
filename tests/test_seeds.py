"""The numbers of the five seed notebooks (../shared/SEEDS.md), on the kernels.

Printed values are checked to the digits the seeds print; values NumPy
re-computed exactly are checked tightly against NumPy itself.
"""
import numpy as np
import pytest

import retroprop as rp
from retroprop.notebook import derivada_sigmoide, sigmod, sigmoid, sigmoid_prime, sigmoide

PRINTED = dict(rtol=0, atol=5.1e-9)  # NumPy's 8 printed decimals


# ---------------------------------------------------------------- seed 000

X0 = np.array([[0, 0, 1, 1], [0, 1, 0, 1]], dtype=float)
Y0 = np.array([[0, 1, 1, 0]], dtype=float)
PESOS1 = np.array([[-0.00572711, 0.0105376], [0.00162986, 0.0011553]])
PESOS2 = np.array([[-0.00153322, 0.0034023]])


def seed_000_pass():
    sesgo1, sesgo2 = np.zeros((2, 1)), np.zeros((1, 1))
    Z1, A1 = rp.dense_forward(X0, PESOS1, sesgo1, layout="cols")
    Z2, A2 = rp.dense_forward(A1, PESOS2, sesgo2, layout="cols")
    loss = rp.bce(A2, Y0)
    dS2 = rp.sigmoid_bce_delta(A2, Y0)
    dPesos2, dSesgo2, dAct1 = rp.dense_backward(dS2, A1, PESOS2, layout="cols", average=True)
    dS1 = dAct1 * derivada_sigmoide(A1)
    dPesos1, dSesgo1, _ = rp.dense_backward(dS1, X0, PESOS1, layout="cols", average=True)
    return locals()


def test_seed_000_forward():
    v = seed_000_pass()
    np.testing.assert_allclose(v["Z1"], [[0, 0.0105376, -0.00572711, 0.00481049],
                                         [0, 0.0011553, 0.00162986, 0.00278516]], **PRINTED)
    np.testing.assert_allclose(v["A1"], [[0.5, 0.50263438, 0.49856823, 0.50120262],
                                         [0.5, 0.50028882, 0.50040746, 0.50069629]], **PRINTED)
    np.testing.assert_allclose(v["Z2"], [[0.00093454, 0.00093148, 0.00093812, 0.00093507]],
                               **PRINTED)
    np.testing.assert_allclose(v["A2"], [[0.50023363, 0.50023287, 0.50023453, 0.50023377]],
                               **PRINTED)


def test_seed_000_loss():
    loss = seed_000_pass()["loss"]
    assert isinstance(loss, float)
    assert loss == pytest.approx(0.6931472697889913, rel=1e-14)
    # the seed printed 0.693147269788495 with its unrounded weights
    assert loss == pytest.approx(0.693147269788495, rel=1e-11)


def test_seed_000_gradients():
    v = seed_000_pass()
    np.testing.assert_allclose(v["dPesos2"], [[0.00011699, 0.00011693]], **PRINTED)
    np.testing.assert_allclose(v["dSesgo2"], [[0.0002337]], atol=5.1e-9)
    np.testing.assert_allclose(v["dS1"], [[-0.00019174, 0.00019156, 0.00019156, -0.00019174],
                                          [0.00042549, -0.00042509, -0.00042509, 0.00042549]],
                               **PRINTED)
    np.testing.assert_allclose(v["dPesos1"], [[-4.49904926e-08, -4.57682080e-08],
                                              [9.94446434e-08, 9.90566484e-08]], rtol=1e-8)
    np.testing.assert_allclose(v["dSesgo1"], [[-9.10234366e-08], [1.98679661e-07]], rtol=1e-8)
    assert v["dPesos1"].shape == PESOS1.shape and v["dSesgo1"].shape == (2, 1)


def test_seed_000_derivative_is_of_the_activation():
    # The seed's printout labels A1 as derivada_sigmoide(A1); the values used
    # are A1 * (1 - A1), about 0.25.
    A1 = seed_000_pass()["A1"]
    np.testing.assert_allclose(derivada_sigmoide(A1), A1 * (1 - A1), rtol=1e-15)
    assert np.all(np.abs(derivada_sigmoide(A1) - 0.25) < 1e-4)


# ---------------------------------------------------------------- seed 001

X1 = np.array([[0, 0, 1], [1, 1, 1], [1, 0, 1], [0, 1, 1]])
Y1 = np.array([[0], [1], [1], [0]])


def seed_001_weights():
    np.random.seed(1)
    sinapsis0 = 2 * np.random.random((3, 4)) - 1
    sinapsis1 = 2 * np.random.random((4, 1)) - 1
    return sinapsis0, sinapsis1


def seed_001_numpy(derivative, iterations):
    """The seed's own loop, in NumPy."""
    s0, s1 = seed_001_weights()
    prints = []
    for j in range(iterations):
        capa_1 = 1 / (1 + np.exp(-(X1 @ s0)))
        capa_2 = 1 / (1 + np.exp(-(capa_1 @ s1)))
        error = Y1 - capa_2
        if j % 1000 == 0:
            prints.append(np.abs(error).ravel())
        delta_2 = error * derivative(capa_2)
        delta_1 = (delta_2 @ s1.T) * derivative(capa_1)
        s1 += capa_1.T @ delta_2
        s0 += X1.T @ delta_1
    return prints, capa_2.ravel()


def seed_001_kernels(derivative, iterations):
    """The same loop on the kernels: the seed's cells with sigmoide and friends."""
    s0, s1 = seed_001_weights()
    prints = []
    for j in range(iterations):
        _, capa_1 = rp.dense_forward(X1, s0)
        _, capa_2 = rp.dense_forward(capa_1, s1)
        error = Y1 - capa_2
        if j % 1000 == 0:
            prints.append(np.abs(error).ravel())
        # the loss's gradient is -error: descend it with lr 1, as += error does
        delta_2 = -error * derivative(capa_2)
        dW1, _, d1 = rp.dense_backward(delta_2, capa_1, s1)
        delta_1 = d1 * derivative(capa_1)
        dW0, _, _ = rp.dense_backward(delta_1, X1, s0)
        rp.sgd_update(s1, dW1, 1.0)
        rp.sgd_update(s0, dW0, 1.0)
    return prints, capa_2.ravel()


def test_seed_001_correct_derivative_matches_numpy_and_seeds_md():
    prints, final = seed_001_kernels(derivada_sigmoide, 10000)
    np_prints, np_final = seed_001_numpy(lambda x: x * (1 - x), 10000)
    np.testing.assert_allclose(final, np_final, rtol=1e-12)
    for got, want in zip(prints, np_prints):
        np.testing.assert_allclose(got, want, rtol=1e-11)
    np.testing.assert_allclose(final, [0.00510229, 0.99437164, 0.99493875, 0.00421887],
                               **PRINTED)


def test_seed_001_typo_derivative_reproduces_the_printout():
    # The seed's derivada_sigmoide is 1 * (1 - x); that loop is so sensitive
    # that only rtol 1e-3 is meaningful (SEEDS.md).
    def typo(x):
        return 1 * (1 - x)
    prints, final = seed_001_kernels(typo, 10000)
    np.testing.assert_allclose(prints[0], [0.47372957, 0.45529163, 0.45615914, 0.48895696],
                               **PRINTED)
    np.testing.assert_allclose(prints[1], [9.03104406e-07, 1.13411539e-01, 6.34943668e-05,
                                           1.54256257e-02], rtol=1e-3)
    np.testing.assert_allclose(final, [3.14846268e-10, 9.65453079e-01, 9.99999849e-01,
                                       1.41270748e-03], rtol=1e-3)


def test_seed_001_sigmoide_is_the_kernel():
    assert sigmoide is rp.sigmoid
    np.testing.assert_allclose(sigmoide(X1 @ seed_001_weights()[0]),
                               1 / (1 + np.exp(-(X1 @ seed_001_weights()[0]))), rtol=1e-15)


# ---------------------------------------------------------------- seed 002

def test_seed_002_weight_changes():
    x = np.array([0.5, 0.1, -0.2])
    target, learnrate = 0.6, 0.5
    weights_input_hidden = np.array([[0.5, -0.6], [0.1, -0.2], [0.1, 0.7]])
    weights_hidden_output = np.array([0.1, -0.3])

    hidden_layer_input, hidden_layer_output = rp.dense_forward(x, weights_input_hidden)
    output_layer_in = rp.matmul(hidden_layer_output, weights_hidden_output)
    output = sigmoid(output_layer_in)
    error = target - output
    output_error_term = error * sigmoid_prime(output_layer_in)
    hidden_error_term = (weights_hidden_output * output_error_term
                         * sigmoid_prime(hidden_layer_input))
    delta_w_h_o = learnrate * output_error_term * hidden_layer_output
    # the outer product through x[:, None], a strided view
    delta_w_i_h = learnrate * rp.matmul(x[:, None], hidden_error_term[None, :])

    np.testing.assert_allclose(delta_w_h_o, [0.00804047, 0.00555918], **PRINTED)
    np.testing.assert_allclose(delta_w_i_h, [[1.77005547e-04, -5.11178506e-04],
                                             [3.54011093e-05, -1.02235701e-04],
                                             [-7.08022187e-05, 2.04471402e-04]], rtol=1e-8)
    # the same outer product is dense_backward's dW for one sample
    dW, _, _ = rp.dense_backward(hidden_error_term, x, weights_input_hidden)
    np.testing.assert_allclose(learnrate * dW, delta_w_i_h, rtol=1e-15)


# ---------------------------------------------------------------- seed 003

WH = np.array([[0.15, 0.25], [0.20, 0.30]])
BH = np.array([0.35, 0.35])
W_OUT = np.array([[0.40, 0.50], [0.45, 0.55]])
B_OUT = np.array([0.60, 0.60])
X3 = np.array([[0, 0], [1, 0], [0, 1], [1, 1]])
Y3 = np.array([[0, 1], [1, 0], [1, 0], [0, 1]])


def seed_003_step():
    wh, bh, w_out, b_out = WH.copy(), BH.copy(), W_OUT.copy(), B_OUT.copy()
    z_h, a_h = rp.dense_forward(X3, wh, bh)
    z_out, a_out = rp.dense_forward(a_h, w_out, b_out)
    delta = rp.sigmoid_squared_error_delta(a_out, Y3)        # dL/dz_out
    grad_w_out, grad_b_out, d_h = rp.dense_backward(delta, a_h, w_out)
    delta_h = d_h * rp.sigmoid_prime_from_activation(a_h)
    grad_w_h, grad_b_h, _ = rp.dense_backward(delta_h, X3, wh)
    loss_before = rp.half_sum_squared_error(a_out, Y3)
    for p, g in ((wh, grad_w_h), (bh, grad_b_h), (w_out, grad_w_out), (b_out, grad_b_out)):
        rp.sgd_update(p, g, 0.5)
    loss_after = rp.half_sum_squared_error(rp.dense_forward(rp.dense_forward(X3, wh, bh)[1],
                                                        w_out, b_out)[1], Y3)
    return locals()


def test_seed_003_forward():
    v = seed_003_step()
    np.testing.assert_allclose(v["a_out"], [[0.75000237, 0.77134977], [0.75759317, 0.78011568],
                                            [0.75938467, 0.78218131], [0.76624034, 0.79003164]],
                               **PRINTED)
    assert sigmod is rp.sigmoid


def test_seed_003_seed_gradients_are_transposed_and_negated_correct_ones():
    # The seed's printed grad_w_h is delta_h.T @ X with delta = (y - a) a (1 - a):
    # the transpose and the negative of the true gradient.
    v = seed_003_step()
    assert v["grad_w_h"].shape == WH.shape and v["grad_w_out"].shape == W_OUT.shape
    np.testing.assert_allclose(-v["grad_w_h"].T, [[-0.01984968, -0.01968949],
                                                  [-0.02101044, -0.02081363]], **PRINTED)
    np.testing.assert_allclose(-v["grad_w_out"].T, [[-0.11860904, -0.12243956],
                                                    [-0.12087335, -0.1255365]], **PRINTED)
    np.testing.assert_allclose(-v["grad_b_h"], [-0.03997947, -0.04303584], **PRINTED)
    np.testing.assert_allclose(-v["grad_b_out"], [-0.1893884, -0.19192365], **PRINTED)
    # the true gradient of half the squared error, by central differences
    np.testing.assert_allclose(v["grad_w_out"], numeric_grad_w_out(), rtol=1e-7)


def numeric_grad_w_out(h=1e-6):
    g = np.zeros_like(W_OUT)
    for i in range(2):
        for j in range(2):
            losses = []
            for s in (h, -h):
                w = W_OUT.copy()
                w[i, j] += s
                a_h = rp.dense_forward(X3, WH, BH)[1]
                losses.append(rp.half_sum_squared_error(rp.dense_forward(a_h, w, B_OUT)[1], Y3))
            g[i, j] = (losses[0] - losses[1]) / (2 * h)
    return g


def test_seed_003_correct_step_descends():
    # The seed's printed update (w -= 0.5 * its gradient) climbs the error;
    # the correct step lowers it.
    v = seed_003_step()
    assert v["loss_before"] == pytest.approx(1.2915201744, rel=1e-10)
    assert v["loss_after"] == pytest.approx(1.2243474114, rel=1e-10)
    # the seed's updated parameters are the ones a step up the gradient gives
    seed_wh = WH + 0.5 * v["grad_w_h"].T
    np.testing.assert_allclose(seed_wh, [[0.15992484, 0.25984475], [0.21050522, 0.31040682]],
                               **PRINTED)
    seed_w_out = W_OUT + 0.5 * v["grad_w_out"].T
    np.testing.assert_allclose(seed_w_out, [[0.45930452, 0.56121978],
                                            [0.51043668, 0.61276825]], **PRINTED)
    np.testing.assert_allclose(BH + 0.5 * v["grad_b_h"], [0.36998973, 0.37151792], **PRINTED)
    np.testing.assert_allclose(B_OUT + 0.5 * v["grad_b_out"], [0.6946942, 0.69596183],
                               **PRINTED)


# ---------------------------------------------------------------- seed 004

def test_seed_004_worked_example():
    x = np.array([60.0, 80.0, 5.0])
    y_act = 82.0
    w_hidden1 = np.array([0.1, 0.1, 0.1])  # w1, w3, w5
    z1, g1 = rp.dense_forward(x, w_hidden1[:, None], np.array([-15.0]))
    g2 = 0.047
    w7, w8, b3 = 12.0, 9.0, 20.0
    _, y_pred = rp.dense_forward(np.array([g1[0], g2]), np.array([[w7], [w8]]),
                                 np.array([b3]), activation="identity")
    cost = rp.sum_squared_error(y_pred, np.array([y_act]))
    dC_dy = 2 * (y_pred[0] - y_act)
    dC_dw7 = dC_dy * g1[0]
    dC_db3 = dC_dy * rp.identity_prime(y_pred)[0]
    dC_dw1 = dC_dy * w7 * rp.sigmoid_prime(z1)[0] * x[0]
    w1_new = 0.1 - 0.01 * dC_dw1

    assert z1[0] == pytest.approx(-0.5, rel=1e-15)
    assert g1[0] == pytest.approx(0.3775406688, rel=1e-10)
    assert y_pred[0] == pytest.approx(24.9534880256, rel=1e-11)
    assert cost == pytest.approx((24.9534880256 - 82) ** 2, rel=1e-10)
    assert dC_dw7 == pytest.approx(-43.0747565668, rel=1e-11)
    assert dC_db3 == pytest.approx(-114.0930239488, rel=1e-11)
    assert dC_dw1 == pytest.approx(-19304.8445983, rel=1e-11)
    assert w1_new == pytest.approx(193.148445983, rel=1e-11)
