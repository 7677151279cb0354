/*
 * rp_registry.c - the tables of rp_registry.h: every activation with its
 * kernels and the docstrings of its ufuncs, every loss with its numbers.
 */
#include <string.h>

#include "rp_registry.h"

#define RP_KERNELS(name) {rp_##name##_f32, rp_##name##_f64}
#define RP_NO_KERNELS {NULL, NULL}

const rp_activation_info rp_activations[] = {
    {"sigmoid", RP_ACT_SIGMOID, RP_KERNELS(sigmoid), RP_KERNELS(sigmoid_prime),
     RP_KERNELS(sigmoid_prime_from_activation), "sigmoid_prime", "sigmoid_prime_from_activation",
     "The logistic sigmoid, computed without overflow.\n\n"
     "NumPy: 1 / (1 + np.exp(-z))\n\n"
     "sigmoid(-1000.) is 0.0 and sigmoid(1000.) is 1.0, with no warning.",
     "Derivative of the sigmoid, from the PRE-activation z (seed 002).\n\n"
     "NumPy: sigmoid(z) * (1 - sigmoid(z))\n\n"
     "If you hold the activation a = sigmoid(z), use sigmoid_prime_from_activation(a).",
     "Derivative of the sigmoid, from the ACTIVATION a = sigmoid(z) (seeds 000, 001, 003).\n\n"
     "NumPy: a * (1 - a)"},
    {"tanh", RP_ACT_TANH, RP_KERNELS(tanh), RP_KERNELS(tanh_prime),
     RP_KERNELS(tanh_prime_from_activation), "tanh_prime", "tanh_prime_from_activation",
     "Hyperbolic tangent.\n\nNumPy: np.tanh(z)",
     "Derivative of tanh, from the pre-activation z.\n\nNumPy: 1 - np.tanh(z)**2",
     "Derivative of tanh, from the activation a = tanh(z).\n\nNumPy: 1 - a**2"},
    {"relu", RP_ACT_RELU, RP_KERNELS(relu), RP_KERNELS(relu_prime),
     RP_KERNELS(relu_prime_from_activation), "relu_prime", "relu_prime_from_activation",
     "Rectified linear unit; NaN propagates.\n\nNumPy: np.maximum(z, 0)",
     "Derivative of relu, from the pre-activation z: 1.0 where z > 0, else 0.0 (0.0 at "
     "z == 0 and for NaN).\n\nNumPy: (z > 0).astype(float)",
     "Derivative of relu, from the activation a = relu(z).\n\nNumPy: (a > 0).astype(float)"},
    {"identity", RP_ACT_IDENTITY, RP_KERNELS(identity), RP_KERNELS(identity_prime),
     RP_KERNELS(identity_prime_from_activation), "identity_prime",
     "identity_prime_from_activation",
     "The identity (seed 004's linear output), as a new array.\n\nNumPy: z.copy()",
     "Derivative of the identity, from the pre-activation z: 1.0 everywhere.\n\n"
     "NumPy: np.ones_like(z)",
     "Derivative of the identity, from the activation a = z: 1.0 everywhere.\n\n"
     "NumPy: np.ones_like(a)"},
    /* not elementwise: see rp_activation_info */
    {"softmax", RP_ACT_SOFTMAX, RP_NO_KERNELS, RP_NO_KERNELS, RP_NO_KERNELS, NULL, NULL, NULL,
     NULL, NULL},
};

const int rp_nactivations = (int)(sizeof(rp_activations) / sizeof(rp_activations[0]));

const rp_loss_info rp_losses[] = {
    /* name, function, id, squared_factor, mean_over_entries, eps, doc */
    {"bce", "bce", RP_LOSS_BCE, 0.0, 1, 1e-8,
     "Mean binary cross-entropy of predictions A against targets Y (seed 000), the loss\n"
     "MLP calls \"bce\".\n\n"
     "NumPy: -np.mean(Y * np.log(A + eps) + (1 - Y) * np.log(1 - A + eps))\n\n"
     "The mean over every entry, as Keras and PyTorch take it; for one output unit this\n"
     "is seed 000's -(1/m) * np.sum(...), m the number of samples. eps keeps log away\n"
     "from 0; eps=0 gives deeplearning.ai's compute_cost. A term whose weight Y or 1 - Y\n"
     "is 0 adds 0 (0 log 0 is 0). A and Y have the same shape (at most 2-D); the result\n"
     "is a Python float. An empty A gives nan, as np.mean does (no warning).\n"
     "Output delta of a sigmoid output: sigmoid_bce_delta(A, Y) = A - Y."},
    {"ce", "cross_entropy", RP_LOSS_CE, 0.0, 0, 1e-8,
     "Categorical cross-entropy of softmax outputs A against targets Y, averaged over\n"
     "the samples: the loss MLP calls \"ce\".\n\n"
     "NumPy: -np.sum(Y * np.log(A + eps)) / n   (n samples)\n\n"
     "axis is the classes' axis of A: -1 (layout 'rows', A is (n, classes)) or 0\n"
     "(layout 'cols', A is (classes, n)); a 1-D A is one sample. Y is one-hot, A's\n"
     "shape, or integer labels, one per sample (a 1-D array of n; for one sample a\n"
     "number). eps=0 is allowed. Terms where Y is 0 add 0 (0 log 0 is 0).\n"
     "Output delta: softmax_cross_entropy_delta(A, Y) = A - Y."},
    {"mse", "mse", RP_LOSS_MSE, 2.0, 1, -1.0,
     "Mean squared error, as Keras, PyTorch and scikit-learn define it: the loss MLP\n"
     "calls \"mse\".\n\n"
     "NumPy: np.mean((A - Y) ** 2)\n\n"
     "The mean over every entry of A. Its gradient with respect to A is\n"
     "2 * (A - Y) / A.size. The seeds' loss is half_sum_squared_error, not this one.\n"
     "An empty A gives nan, as np.mean does (no warning)."},
    {"sum_squared_error", "sum_squared_error", RP_LOSS_SUM_SQUARED_ERROR, 2.0, 0, -1.0,
     "Summed squared error, seed 004's cost (y_pred - y_act)**2: the loss MLP calls\n"
     "\"sum_squared_error\".\n\n"
     "NumPy: np.sum((A - Y) ** 2)\n\n"
     "Its gradient with respect to A is 2 * (A - Y). Half of it,\n"
     "half_sum_squared_error, is the loss of seeds 001, 002 and 003."},
    {"half_sum_squared_error", "half_sum_squared_error", RP_LOSS_HALF_SUM_SQUARED_ERROR, 1.0,
     0, -1.0,
     "Half the summed squared error, the loss behind seeds 001, 002 and 003: the loss\n"
     "MLP calls \"half_sum_squared_error\".\n\n"
     "NumPy: 0.5 * np.sum((A - Y) ** 2)\n\n"
     "Its gradient with respect to A is A - Y, so with a sigmoid output\n"
     "dL/dZ = (A - Y) * A * (1 - A) = sigmoid_squared_error_delta(A, Y); the\n"
     "seeds write the same thing with the opposite sign, (Y - A) * A * (1 - A),\n"
     "and add it to the weights."},
};

const int rp_nlosses = (int)(sizeof(rp_losses) / sizeof(rp_losses[0]));

const rp_activation_info *rp_activation_find(const char *name)
{
    int i;
    for (i = 0; i < rp_nactivations; i++) {
        if (strcmp(name, rp_activations[i].name) == 0) {
            return &rp_activations[i];
        }
    }
    return NULL;
}

const rp_loss_info *rp_loss_find(const char *name)
{
    int i;
    for (i = 0; i < rp_nlosses; i++) {
        if (strcmp(name, rp_losses[i].name) == 0) {
            return &rp_losses[i];
        }
    }
    return NULL;
}
