/*
 * rp_registry.h - the one table of activations and the one table of losses
 * in C. Pure C99, no Python.
 *
 * Everything in C that needs to know which activations and losses exist
 * reads these tables: the binding parses names with rp_activation_find and
 * rp_loss_find and makes the elementwise ufuncs from rp_activations, and the
 * network kernels (rp_net_impl.h) take their loss's numbers from its entry.
 * python/retroprop/registry.py mirrors both tables (the NumPy side: twins,
 * formulas, and the rules of which goes with which); tests/test_registry.py
 * holds the two mirrors equal.
 *
 * Adding an activation: a value of rp_activation (rp_kernels.h), its
 * kernels (rp_kernels.h), its derivative from the activation in
 * rp_prime_from_activation below, and one entry in rp_activations
 * (rp_registry.c); in Python one entry in registry.ACTIVATIONS.
 * Adding a loss: a value of rp_loss (rp_kernels.h), its term in rp_loss_term
 * below, and one entry in rp_losses; in Python one
 * entry in registry.LOSSES.
 */
#ifndef RP_REGISTRY_H
#define RP_REGISTRY_H

#include "rp_kernels.h"

#include <math.h>

/* y[i] = f(x[i]) over n strided elements (the unary kernels of rp_kernels.h). */
typedef void (*rp_unary_fn)(rp_index n, const char *x, rp_index xs, char *y, rp_index ys);

typedef struct {
    const char *name; /* as Python spells it: "sigmoid" */
    rp_activation id;
    /* Elementwise activations have three kernels each, float32 then
     * float64: f(z), f'(z) from the pre-activation z, and f'(z) written from
     * the activation a = f(z). softmax is not elementwise (its Jacobian is
     * not diagonal): its kernels are NULL and it is a network's output only,
     * with the cross-entropy, whose output delta A - Y needs no f'. */
    rp_unary_fn f[2], prime[2], prime_from_activation[2];
    /* the names and docstrings of the three ufuncs (NULL for softmax) */
    const char *prime_name, *prime_from_activation_name;
    const char *doc, *prime_doc, *prime_from_activation_doc;
} rp_activation_info;

extern const rp_activation_info rp_activations[];
extern const int rp_nactivations;

/* The entry of the activation called name, or NULL. */
const rp_activation_info *rp_activation_find(const char *name);

typedef struct {
    const char *name;     /* as Python spells it: "mse" (MLP's loss=) */
    const char *function; /* the function computing it: retroprop.mse(A, Y) */
    rp_loss id;
    /* The squared errors: L = sum of 0.5 * squared_factor * (a - y)^2, so
     * dL/dA = squared_factor * (A - Y) and the output delta is that times
     * f'(Z). 0 for the cross-entropies, whose output delta is A - Y. */
    double squared_factor;
    /* Averaging divides by every entry of A (samples x outputs: the mean of
     * "mse" and "bce", as in Keras and PyTorch) rather than by the samples
     * (the mean over samples of "ce"'s per-sample sums). */
    int mean_over_entries;
    /* The eps inside the logarithms by default (seed 000's 1e-8); -1: the
     * loss has no logarithm. */
    double eps;
    const char *doc; /* the function's docstring (after its signature) */
} rp_loss_info;

extern const rp_loss_info rp_losses[];
extern const int rp_nlosses;

/* The entry of the loss called name, or NULL. */
const rp_loss_info *rp_loss_find(const char *name);

/* f'(z) written from the activation a = f(z), as the seeds write a*(1-a):
 * the one place in C that says it (the ufuncs' *_prime_from_activation
 * kernels and the network's backward pass call it). 1 for identity, and for
 * softmax, whose output delta under the cross-entropy needs none. */
RP_INLINE double rp_prime_from_activation(rp_activation act, double a)
{
    switch (act) {
    case RP_ACT_SIGMOID:
        return a * (1.0 - a);
    case RP_ACT_TANH:
        return 1.0 - a * a;
    case RP_ACT_RELU:
        return isgreater(a, 0.0) ? 1.0 : 0.0;
    case RP_ACT_IDENTITY:
    case RP_ACT_SOFTMAX:
        break;
    }
    return 1.0;
}

/* One entry's term of a loss before any averaging: the loss of (A, Y) is the
 * sum of the terms over every entry, divided by the entries or the samples
 * when averaged. The one place in C that writes the losses (the loss
 * kernels of rp_kernels.h and the network's output layer call it). A term
 * whose weight y or 1 - y is zero adds nothing, so its log is not taken
 * (0 log 0 is 0): with eps = 0, a = 1 exactly and y = 1 give 0, not NaN. */
RP_INLINE double rp_loss_term(rp_loss loss, double a, double y, double eps)
{
    const double d = a - y;
    double t = 0.0;
    switch (loss) {
    case RP_LOSS_BCE:
        if (y != 1.0) {
            t -= (1.0 - y) * log(1.0 - a + eps);
        }
        if (y != 0.0) {
            t -= y * log(a + eps);
        }
        break;
    case RP_LOSS_CE:
        if (y != 0.0) {
            t = -(y * log(a + eps));
        }
        break;
    case RP_LOSS_MSE:
    case RP_LOSS_SUM_SQUARED_ERROR:
        t = d * d;
        break;
    case RP_LOSS_HALF_SUM_SQUARED_ERROR:
        t = 0.5 * d * d;
        break;
    }
    return t;
}

#endif /* RP_REGISTRY_H */
