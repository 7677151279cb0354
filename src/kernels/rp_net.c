/*
 * rp_net.c - a multilayer perceptron trained entirely in C: the scratch
 * memory, the shuffle, and the float32 / float64 kernels of rp_net_impl.h.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rp_net.h"
#include "rp_vec2.h"

/* Functions whose constant arguments (an activation, a loss, a loop
 * length) must be folded into each caller's loop. */
#if defined(_MSC_VER) && !defined(__clang__)
#define RP_FORCE_INLINE static __forceinline
#elif defined(__GNUC__) || defined(__clang__)
#define RP_FORCE_INLINE static inline __attribute__((always_inline))
#else
#define RP_FORCE_INLINE static inline
#endif

#if defined(_MSC_VER) && !defined(__clang__)
#define RP_RESTRICT __restrict
#else
#define RP_RESTRICT restrict
#endif

/* The most layers the small-network path takes, and the doubles it
 * activates at a time for float32. */
#define RP_SMALL_LAYERS 8
#define RP_SMALL_BLOCK 256

/* The batch sizes the small path's step is compiled for, one by one. */
#define RP_SMALL_CASES_MAX 8


/* Multiply-adds between two calls of a fit's stop check (a few ms). */
#define RP_STOP_CHECK_WORK 4e6

struct rp_net_work {
    char **A;        /* nlayers activations, (batch, sizes[l+1]) each */
    rp_view *Av;     /* views of them for the current batch's size */
    char *delta[2];  /* two deltas of (batch, widest layer), used in turn */
    rp_view *dW;     /* a fit's gradients, like net->W */
    rp_view *db;     /* and like net->b (data NULL without bias) */
    char *Xb, *Yb;   /* a shuffled batch, gathered */
    void *block;     /* one allocation holding all of the above */
};

/* Sizes in bytes that saturate at SIZE_MAX instead of wrapping around, so
 * that absurd sizes (zero-stride arrays of enormous shapes) make malloc fail
 * rather than allocate a few bytes that the loops then overrun. */
static size_t rp_mul(size_t a, size_t b) { return b != 0 && a > SIZE_MAX / b ? SIZE_MAX : a * b; }
static size_t rp_add(size_t a, size_t b) { return a > SIZE_MAX - b ? SIZE_MAX : a + b; }

/* Bytes rounded up to keep every piece 16-byte aligned (saturating too). */
static size_t rp_round(size_t bytes)
{
    return bytes > SIZE_MAX - 15 ? SIZE_MAX : (bytes + 15) & ~(size_t)15;
}

/* rows * cols elements of `item` bytes, rounded. */
static size_t rp_block(rp_index rows, rp_index cols, size_t item)
{
    return rp_round(rp_mul(rp_mul((size_t)rows, (size_t)cols), item));
}

rp_net_work *rp_net_work_new(const rp_net *net, rp_index batch, int gather, int f32)
{
    const size_t item = f32 ? sizeof(float) : sizeof(double);
    const int L = net->nlayers;
    rp_index widest = 0;
    size_t bytes, off;
    char *base;
    rp_net_work *w;
    int l;
    for (l = 0; l <= L; l++) {
        widest = net->sizes[l] > widest ? net->sizes[l] : widest;
    }
    /* layout: struct | A pointers | A, dW, db views | A data, grads | deltas | Xb Yb */
    bytes = rp_round(sizeof(rp_net_work)) + rp_round((size_t)L * sizeof(char *)) +
            3 * rp_round((size_t)L * sizeof(rp_view));
    for (l = 0; l < L; l++) {
        bytes = rp_add(bytes, rp_block(batch, net->sizes[l + 1], item));
        bytes = rp_add(bytes, rp_block(net->sizes[l], net->sizes[l + 1], item));
        bytes = rp_add(bytes, rp_block(1, net->sizes[l + 1], item));
    }
    bytes = rp_add(bytes, rp_mul(2, rp_block(batch, widest, item)));
    if (gather) {
        bytes = rp_add(bytes, rp_block(batch, net->sizes[0], item));
        bytes = rp_add(bytes, rp_block(batch, net->sizes[L], item));
    }
    if (bytes == SIZE_MAX) {
        return NULL;
    }
    base = (char *)malloc(bytes);
    if (base == NULL) {
        return NULL;
    }
    w = (rp_net_work *)base;
    off = rp_round(sizeof(rp_net_work));
    w->block = base;
    w->A = (char **)(base + off);
    off += rp_round((size_t)L * sizeof(char *));
    w->Av = (rp_view *)(base + off);
    off += rp_round((size_t)L * sizeof(rp_view));
    w->dW = (rp_view *)(base + off);
    off += rp_round((size_t)L * sizeof(rp_view));
    w->db = (rp_view *)(base + off);
    off += rp_round((size_t)L * sizeof(rp_view));
    for (l = 0; l < L; l++) {
        const rp_index in = net->sizes[l], out = net->sizes[l + 1];
        w->A[l] = base + off;
        off += rp_round((size_t)batch * (size_t)out * item);
        w->dW[l].data = base + off;
        w->dW[l].rows = in;
        w->dW[l].cols = out;
        w->dW[l].s0 = out * (rp_index)item;
        w->dW[l].s1 = (rp_index)item;
        off += rp_round((size_t)in * (size_t)out * item);
        w->db[l].data = net->b[l].data != NULL ? base + off : NULL;
        w->db[l].rows = 1;
        w->db[l].cols = out;
        w->db[l].s0 = 0;
        w->db[l].s1 = (rp_index)item;
        off += rp_round((size_t)out * item);
    }
    w->delta[0] = base + off;
    off += rp_round((size_t)batch * (size_t)widest * item);
    w->delta[1] = base + off;
    off += rp_round((size_t)batch * (size_t)widest * item);
    w->Xb = w->Yb = NULL;
    if (gather) {
        w->Xb = base + off;
        off += rp_round((size_t)batch * (size_t)net->sizes[0] * item);
        w->Yb = base + off;
    }
    return w;
}

void rp_net_work_free(rp_net_work *work)
{
    if (work != NULL) {
        free(work->block);
    }
}

/* splitmix64 (Steele, Lea, Flood 2014): small, fast, and easy to write again
 * in NumPy, which is what the reference twin does. */
static uint64_t rp_splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15u);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
    return z ^ (z >> 31);
}

/* Fisher-Yates over perm[0..n), j = next() % (i + 1) for i = n-1 .. 1. */
static void rp_shuffle(rp_index *perm, rp_index n, uint64_t *state)
{
    rp_index i;
    for (i = n - 1; i > 0; i--) {
        const rp_index j = (rp_index)(rp_splitmix64(state) % (uint64_t)(i + 1));
        const rp_index t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
}

double rp_fit_lr(const rp_fit *fit, double lr, rp_index epoch, rp_index updates)
{
    switch (fit->schedule) {
    case RP_SCHEDULE_STEP:
        return lr * pow(fit->gamma, (double)(epoch / fit->step_size));
    case RP_SCHEDULE_EXPONENTIAL:
        return lr * pow(fit->gamma, (double)epoch);
    case RP_SCHEDULE_INVERSE_TIME:
        /* nnfs's lr * (1 / (1 + decay * iterations)), to its last bit */
        return lr * (1.0 / (1.0 + fit->decay * (double)updates));
    default:
        return lr;
    }
}

/* Whether a fit takes the small-network path (rp_net_small_impl.h), decided
 * once per fit: plain SGD (rp_net_plain_sgd: no momentum, Adam or
 * penalty), no softmax, at most
 * RP_SMALL_LAYERS layers, and every product of a batch small enough for
 * rp_gemm's own loop (m*n*k <= RP_SMALL_GEMM_WORK), whose sums that path
 * computes the same way. */
static int rp_net_small_fits(const rp_net *net, rp_index n, rp_index batch)
{
    int l;
    if (net->path == RP_PATH_GENERAL || !rp_net_plain_sgd(net) || net->nlayers < 1 ||
        net->nlayers > RP_SMALL_LAYERS || net->act[net->nlayers - 1] == RP_ACT_SOFTMAX ||
        n < 1 || batch > RP_SMALL_GEMM_WORK) {
        return 0;
    }
    for (l = 0; l < net->nlayers; l++) {
        const rp_index in = net->sizes[l], out = net->sizes[l + 1];
        if (in > RP_SMALL_GEMM_WORK || out > RP_SMALL_GEMM_WORK ||
            batch * in * out > RP_SMALL_GEMM_WORK) {
            return 0;
        }
    }
    return 1;
}

#define RP_CAT_(a, b) a##_##b
#define RP_CAT(a, b) RP_CAT_(a, b)

#define RP_T float
#define RP_IS_F32 1
#define RP_NAME(base) RP_CAT(base, f32)
#include "rp_net_impl.h"
#undef RP_T
#undef RP_IS_F32
#undef RP_NAME

#define RP_T double
#define RP_IS_F32 0
#define RP_NAME(base) RP_CAT(base, f64)
#include "rp_net_impl.h"
#undef RP_T
#undef RP_IS_F32
#undef RP_NAME
