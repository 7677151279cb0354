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
#include "rp_registry.h"


enum { RP_OK = 0, RP_NOMEM = 1, RP_INTERRUPTED = 2, RP_UNSUPPORTED = 3 };

/* A fit takes the small-network path (rp_net_small_impl.h) when the network
 * and the batch are small enough, else the general one; both give the same
 * bits. RP_PATH_GENERAL always takes the general one, RP_PATH_SMALL the
 * small one or fails with RP_UNSUPPORTED (for tests comparing them). */
typedef enum { RP_PATH_AUTO = 0, RP_PATH_GENERAL = 1, RP_PATH_SMALL = 2 } rp_path;

/* The update rule of every step (g the gradient, lr the step's learning rate).
 * Each names whose formula it is; the momentum of both SGD forms is zero-able. */
typedef enum {
    /* PyTorch's torch.optim.SGD: p -= lr*g; with momentum v = m*v + g; p -= lr*v
     * (nesterov: p -= lr*(g + m*v)). The velocity sums gradients. */
    RP_OPT_SGD = 0,
    /* Keras's SGD, nnfs, scikit-learn, CS231n: v = m*v - lr*g; p += v
     * (nesterov: p += m*v - lr*g). The velocity sums steps, lr inside it. */
    RP_OPT_SGD_KERAS = 1,
    /* Adam (Kingma & Ba), as torch.optim.Adam: m1 = b1*m1 + (1-b1)*g;
     * m2 = b2*m2 + (1-b2)*g*g; p -= lr * (m1/(1-b1^t)) / (sqrt(m2/(1-b2^t)) + eps) */
    RP_OPT_ADAM = 2
} rp_optimizer;

typedef struct {
    int nlayers;
    const rp_index *sizes; /* nlayers + 1 widths: inputs, hidden..., outputs */
    rp_view *W;            /* nlayers weights, each (sizes[l], sizes[l+1]) */
    rp_view *b;            /* nlayers biases, each (1, sizes[l+1]); data NULL: no bias */
    rp_view *vW, *vb;      /* velocities (Adam: first moments) like W and b; unused by plain SGD */
    rp_view *sW, *sb;      /* Adam's second moments like W and b; unused otherwise */
    const rp_activation *act; /* nlayers activations, one per layer; softmax only last */
    const rp_loss_info *loss; /* an entry of rp_losses (rp_registry.h) */
    double eps;            /* inside the cross-entropies' logarithms */
    int average;           /* divide the loss and the gradients by the batch size (or,
                            * loss->mean_over_entries, by its every entry) */
    double lr;             /* the learning rate of the next update (a fit's schedule sets it) */
    rp_optimizer optimizer;
    double momentum;       /* RP_OPT_SGD, RP_OPT_SGD_KERAS; 0: none */
    int nesterov;
    double beta1, beta2, adam_eps; /* RP_OPT_ADAM (adam_eps: PyTorch's eps) */
    rp_index step;         /* the number of the next update, from 1 (Adam's bias correction) */
    /* L2 penalty added to the loss and its gradient to g, on W (and b if
     * decay_biases), with c = l2 + l2_per_batch / (samples in the batch):
     * loss += c/2 * sum(W*W); g += c*W. CS231n's reg is l2 = 2*reg;
     * scikit-learn's alpha is l2_per_batch = alpha. */
    double l2, l2_per_batch;
    double weight_decay;   /* decoupled (AdamW): p *= 1 - lr*weight_decay before the step */
    int decay_biases;      /* l2, l2_per_batch and weight_decay apply to b too */
    rp_path path;          /* which of the fit's two paths to take (tests force one) */
} rp_net;

/* True when every update is p -= lr*g and no penalty touches the gradient:
 * the configuration a fused fast path may take. */
static inline int rp_net_plain_sgd(const rp_net *net)
{
    return net->optimizer == RP_OPT_SGD && net->momentum == 0.0 && net->l2 == 0.0 &&
           net->l2_per_batch == 0.0 && net->weight_decay == 0.0;
}

/* Scratch memory for one batch size, allocated once. */
typedef struct rp_net_work rp_net_work;

/* Returns NULL when out of memory. */
rp_net_work *rp_net_work_new(const rp_net *net, rp_index batch, int gather, int f32);
void rp_net_work_free(rp_net_work *work);

/* The loss of the batch (X, Y) (averaged if net->average) plus net's L2
 * penalty and, when dW is not NULL, its gradients into dW[l], db[l]
 * (db[l].data NULL: skipped). */
double rp_net_gradients_f32(const rp_net *net, rp_cview X, rp_cview Y, rp_view *dW,
                            rp_view *db, rp_net_work *work);
double rp_net_gradients_f64(const rp_net *net, rp_cview X, rp_cview Y, rp_view *dW,
                            rp_view *db, rp_net_work *work);

/* A[l] = act(A[l-1] @ W[l] + b[l]) for every layer into the caller's
 * activations A[l] (n, sizes[l+1]), A[-1] = X. */
void rp_net_forward_f32(const rp_net *net, rp_cview X, rp_view *A);
void rp_net_forward_f64(const rp_net *net, rp_cview X, rp_view *A);

/* How a fit forms its batches each epoch. */
typedef enum {
    RP_BATCH_IN_ORDER = 0,   /* samples [0, b), [b, 2b), ...: full batch when batch >= n */
    RP_BATCH_SHUFFLED = 1,   /* the same after a Fisher-Yates shuffle: without replacement */
    RP_BATCH_REPLACEMENT = 2,/* ceil(n / b) batches of b indices, each next() % n (CS231n's
                              * np.random.choice(n, b)): with replacement */
    RP_BATCH_GIVEN = 3       /* the caller's batches of indices, in their order */
} rp_batching;

/* The learning rate of each update, from the base rate net->lr. */
typedef enum {
    RP_SCHEDULE_CONSTANT = 0,     /* lr */
    RP_SCHEDULE_STEP = 1,         /* lr * gamma ** (epoch // step_size)  (torch StepLR) */
    RP_SCHEDULE_EXPONENTIAL = 2,  /* lr * gamma ** epoch  (torch ExponentialLR, CS231n) */
    RP_SCHEDULE_INVERSE_TIME = 3  /* lr / (1 + decay * t), t the updates before (nnfs) */
} rp_schedule;

/* Called now and then during a fit (at least every RP_STOP_CHECK_STEPS steps,
 * and more often when steps are large); a non-zero return stops it. */
#define RP_STOP_CHECK_STEPS 4000
typedef int (*rp_stop_check)(void *ctx);

typedef struct {
    rp_index epochs;
    rp_index batch;          /* samples per batch; < 1 or > n: all n */
    rp_batching batching;
    uint64_t seed;           /* splitmix64's state for shuffling or drawing */
    /* RP_BATCH_GIVEN: nbatches batches, batch k being indices[bounds[k] .. bounds[k+1]),
     * each index in [0, n), bounds increasing, every batch non-empty */
    const rp_index *indices, *bounds;
    rp_index nbatches;
    rp_schedule schedule;
    double gamma, decay;
    rp_index step_size;
    /* [updates so far, epochs so far]: Adam's t and the schedules continue from
     * them, and the fit advances them (NULL: both start at 0) */
    rp_index *counters;
    /* NULL, or n + 1 values [generator state, order of the samples] used
     * instead of seed and 0..n-1 and left as they are after the last epoch
     * run, so that a fit in several calls draws exactly as one call does
     * (each order[i] must be in [0, n)) */
    uint64_t *resume;
    double *history;         /* epochs values, see rp_net_fit */
    rp_index *epochs_done;   /* NULL, or gets the number of finished epochs */
    rp_stop_check stop;      /* NULL: never stops */
    void *ctx;
} rp_fit;

/* Learning rate of the update after `updates` updates, in epoch `epoch`. */
double rp_fit_lr(const rp_fit *fit, double lr, rp_index epoch, rp_index updates);

/* Trains for fit->epochs passes over (X, Y) in batches (fit->batching) with
 * net's optimiser; history[e] gets each epoch's loss (with the L2 penalty of
 * each batch), summed over its batches before their updates (divided by the
 * number of samples the epoch's batches hold, or of their entries, if
 * net->average). Returns RP_OK,
 * RP_NOMEM, RP_INTERRUPTED (the parameters and counters then hold the last
 * complete update), or RP_UNSUPPORTED (net->path RP_PATH_SMALL on a fit that
 * path does not take). */
int rp_net_fit_f32(const rp_net *net, rp_cview X, rp_cview Y, const rp_fit *fit);
int rp_net_fit_f64(const rp_net *net, rp_cview X, rp_cview Y, const rp_fit *fit);

#endif /* RP_NET_H */
