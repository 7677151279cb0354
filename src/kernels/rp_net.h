/*
 * rp_net.h - a whole multilayer perceptron: forward, backward, update, and
 * training loops over epochs and minibatches, in C with no allocation per
 * iteration. Pure C99, no Python.
 *
 * Every layer is seen with samples as rows: X (n, in), W (in, out), b a
 * (1, out) row. A caller whose arrays hold samples as columns passes the
 * transposed views (swapped strides); nothing is copied.
 */
#ifndef RP_NET_H
#define RP_NET_H

#include <stdint.h>

#include "rp_kernels.h"

typedef enum {
    RP_LOSS_BCE = 0, /* -sum(y*log(a+eps) + (1-y)*log(1-a+eps)), sigmoid output */
    RP_LOSS_CE = 1,  /* -sum(y*log(a+eps)), softmax output */
    RP_LOSS_MSE = 2  /* 0.5*sum((a-y)^2), the seeds' half squared error */
} rp_loss;

/* eps inside the logarithms of both cross-entropies (seed 000's value). */
#define RP_LOSS_EPS 1e-8

enum { RP_OK = 0, RP_NOMEM = 1, RP_INTERRUPTED = 2, RP_UNSUPPORTED = 3 };

/* A fit takes the small-network path (rp_net_small_impl.h) when the network
 * and the batch are small enough, else the general one; both give the same
 * bits. RP_PATH_GENERAL always takes the general one, RP_PATH_SMALL the
 * small one or fails with RP_UNSUPPORTED (for tests comparing them). */
typedef enum { RP_PATH_AUTO = 0, RP_PATH_GENERAL = 1, RP_PATH_SMALL = 2 } rp_path;

typedef struct {
    int nlayers;
    const rp_index *sizes; /* nlayers + 1 widths: inputs, hidden..., outputs */
    rp_view *W;            /* nlayers weights, each (sizes[l], sizes[l+1]) */
    rp_view *b;            /* nlayers biases, each (1, sizes[l+1]); data NULL: no bias */
    rp_view *vW, *vb;      /* momentum's velocities like W and b; unused when momentum == 0 */
    rp_activation hidden;  /* sigmoid, tanh, relu or identity */
    rp_activation output;  /* the same, or softmax */
    rp_loss loss;
    int average;           /* divide the loss and the gradients by the batch size */
    double lr, momentum;
    rp_path path;          /* which of the fit's two paths to take (tests force one) */
} rp_net;

/* Scratch memory for one batch size, allocated once. */
typedef struct rp_net_work rp_net_work;

/* Returns NULL when out of memory. */
rp_net_work *rp_net_work_new(const rp_net *net, rp_index batch, int gather, int f32);
void rp_net_work_free(rp_net_work *work);

/* The loss of the batch (X, Y) (divided by n if net->average) and, when dW is
 * not NULL, its gradients into dW[l], db[l] (db[l].data NULL: skipped). */
double rp_net_gradients_f32(const rp_net *net, rp_cview X, rp_cview Y, rp_view *dW,
                            rp_view *db, rp_net_work *work);
double rp_net_gradients_f64(const rp_net *net, rp_cview X, rp_cview Y, rp_view *dW,
                            rp_view *db, rp_net_work *work);

/* A[l] = act(A[l-1] @ W[l] + b[l]) for every layer into the caller's
 * activations A[l] (n, sizes[l+1]), A[-1] = X. */
void rp_net_forward_f32(const rp_net *net, rp_cview X, rp_view *A);
void rp_net_forward_f64(const rp_net *net, rp_cview X, rp_view *A);

/* Called now and then during a fit; a non-zero return stops it. */
#define RP_STOP_CHECK_STEPS 4000
typedef int (*rp_stop_check)(void *ctx);

/* Trains for `epochs` passes over (X, Y) in batches of `batch` samples
 * (shuffled with splitmix64 from `seed` when `shuffle`); history[e] gets each
 * epoch's loss, summed over its batches before their updates (divided by the
 * number of samples if net->average). `stop` is called at least every
 * RP_STOP_CHECK_STEPS steps, and more often when steps are large. Returns
 * RP_OK, RP_NOMEM, RP_INTERRUPTED (the parameters then hold the last
 * complete update), or RP_UNSUPPORTED (net->path RP_PATH_SMALL on a fit that
 * path does not take); *epochs_done (if not NULL) gets the number of
 * finished epochs.
 * resume: NULL, or X.rows + 1 values [generator state, order of the samples]
 * used instead of `seed` and 0..n-1 and left as they are after the last epoch
 * run, so that fits in several calls shuffle exactly as one call does
 * (each order[i] must be in [0, n)). */
int rp_net_fit_f32(const rp_net *net, rp_cview X, rp_cview Y, rp_index epochs, rp_index batch,
                   int shuffle, uint64_t seed, uint64_t *resume, double *history,
                   rp_stop_check stop, void *ctx, rp_index *epochs_done);
int rp_net_fit_f64(const rp_net *net, rp_cview X, rp_cview Y, rp_index epochs, rp_index batch,
                   int shuffle, uint64_t seed, uint64_t *resume, double *history,
                   rp_stop_check stop, void *ctx, rp_index *epochs_done);

#endif /* RP_NET_H */
