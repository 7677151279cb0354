"""``python -m retroprop``: seed 003's first training step on the C kernels.

A 2-2-2 sigmoid network, a batch of four samples in rows, half squared error.
Prints the forward pass, the gradients and the loss before and after one
step of gradient descent at learning rate 0.5.
"""
import numpy as np

import retroprop as rp


def main():
    wh = np.array([[0.15, 0.25], [0.20, 0.30]])
    bh = np.array([0.35, 0.35])
    w_out = np.array([[0.40, 0.50], [0.45, 0.55]])
    b_out = np.array([0.60, 0.60])
    X = np.array([[0, 0], [1, 0], [0, 1], [1, 1]])
    y = np.array([[0, 1], [1, 0], [1, 0], [0, 1]])

    z_h, a_h = rp.dense_forward(X, wh, bh)           # X @ wh + bh, sigmoid
    z_out, a_out = rp.dense_forward(a_h, w_out, b_out)
    loss_before = rp.half_sum_squared_error(a_out, y)

    delta = rp.sigmoid_squared_error_delta(a_out, y)  # (a - y) * a * (1 - a)
    grad_w_out, grad_b_out, d_a_h = rp.dense_backward(delta, a_h, w_out)
    delta_h = d_a_h * rp.sigmoid_prime_from_activation(a_h)
    grad_w_h, grad_b_h, _ = rp.dense_backward(delta_h, X, wh)

    for param, grad in ((wh, grad_w_h), (bh, grad_b_h), (w_out, grad_w_out), (b_out, grad_b_out)):
        rp.sgd_update(param, grad, 0.5)
    loss_after = rp.half_sum_squared_error(rp.dense_forward(rp.dense_forward(X, wh, bh)[1], w_out, b_out)[1], y)

    np.set_printoptions(precision=8, suppress=True)
    print("seed 003, one batch step on retroprop's C kernels")
    print("a_out =\n", a_out)
    print("grad_w_h (X.T @ delta_h, the shape of wh) =\n", grad_w_h)
    print("grad_w_out (a_h.T @ delta, the shape of w_out) =\n", grad_w_out)
    print("half the summed squared error: before %.10f, after one step %.10f" % (loss_before, loss_after))


if __name__ == "__main__":
    main()
