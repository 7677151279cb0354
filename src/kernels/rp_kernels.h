/*
 * rp_kernels.h - retroprop's numeric kernels.
 *
 * Pure C99: nothing here knows about Python or NumPy. Every array is a
 * strided view (a base pointer plus byte strides), so transposes, slices and
 * negative strides are read in place. Each kernel comes in a float32 (_f32)
 * and a float64 (_f64) version; float32 kernels accumulate in double.
 * The binding (src/binding.h and its .c files) checks every argument before calling a kernel:
 * kernels trust their inputs (shapes agree, outputs do not overlap inputs).
 */
#ifndef RP_KERNELS_H
#define RP_KERNELS_H

#include <stddef.h>

typedef ptrdiff_t rp_index;

/* A 2-D strided view: element (i, j) is at data + i*s0 + j*s1 (bytes).
 * A stride of 0 broadcasts (a bias row repeated over samples). */
typedef struct {
    char *data;
    rp_index rows, cols;
    rp_index s0, s1;
} rp_view;

typedef struct {
    const char *data;
    rp_index rows, cols;
    rp_index s0, s1;
} rp_cview;

/* MSVC's C compiler spells inline __inline before VS 2015. */
#ifndef RP_INLINE
#if defined(_MSC_VER) && !defined(__clang__)
#define RP_INLINE static __inline
#else
#define RP_INLINE static inline
#endif
#endif

/* The same view, read-only. */
RP_INLINE rp_cview rp_cview_of(rp_view v)
{
    rp_cview c;
    c.data = v.data;
    c.rows = v.rows;
    c.cols = v.cols;
    c.s0 = v.s0;
    c.s1 = v.s1;
    return c;
}

/* v.T: rows and columns (and their strides) swapped, no copy. */
RP_INLINE rp_cview rp_cview_transposed(rp_cview v)
{
    rp_cview t = v;
    t.rows = v.cols;
    t.cols = v.rows;
    t.s0 = v.s1;
    t.s1 = v.s0;
    return t;
}

/* v.T of a writable view. */
RP_INLINE rp_view rp_view_transposed(rp_view v)
{
    rp_view t = v;
    t.rows = v.cols;
    t.cols = v.rows;
    t.s0 = v.s1;
    t.s1 = v.s0;
    return t;
}

typedef enum {
    RP_ACT_SIGMOID = 0,
    RP_ACT_TANH = 1,
    RP_ACT_RELU = 2,
    RP_ACT_IDENTITY = 3,
    RP_ACT_SOFTMAX = 4 /* over each row; only as a network's output (rp_net.h) */
} rp_activation;

/* The losses; rp_registry.h has their numbers and rp_loss_term their terms. */
typedef enum {
    RP_LOSS_BCE = 0,                   /* binary cross-entropy, sigmoid output */
    RP_LOSS_CE = 1,                    /* categorical cross-entropy, softmax output */
    RP_LOSS_MSE = 2,                   /* mean squared error */
    RP_LOSS_SUM_SQUARED_ERROR = 3,     /* seed 004's cost */
    RP_LOSS_HALF_SUM_SQUARED_ERROR = 4 /* seeds 001-003's loss */
} rp_loss;

/* Products of at most this many multiply-adds (m*n*k, and each of m, n, k,
 * m*n at most this) always run in our own loop; larger ones go to the large
 * product routine when one is registered (rp_set_large_gemm). */
#define RP_SMALL_GEMM_WORK 1024

/* A routine for large products: C = A @ B, all three views of the same
 * dtype (float32 or float64), C not overlapping A or B. It returns 1 when it
 * wrote C, 0 to leave the product to our loop (strides it cannot take). It
 * is called from any thread, with or without the GIL of a host interpreter.
 * The Python binding registers NumPy's own matmul loop (src/numpy_gemm.c),
 * so that large products run on NumPy's BLAS and give np.matmul's bits. */
typedef int (*rp_large_gemm_fn)(rp_cview A, rp_cview B, rp_view C);

/* Register the float32 and float64 routines (NULL: every product in our
 * loop, the default). Call it once, before the kernels run. */
void rp_set_large_gemm(rp_large_gemm_fn f32, rp_large_gemm_fn f64);

/* Columns of C one pass of the small GEMM accumulates at a time, and the
 * fewest for which that vectorised pass beats sums held in registers. */
#define RP_GEMM_CHUNK 64
#define RP_GEMM_WIDE 16

/* The instruction set the elementwise maths (sigmoid, tanh, their
 * derivatives, softmax's exp) runs on: "baseline" (plain C, whatever the
 * compiler targets), or with gcc/clang on x86-64 "avx2" or "avx512f". Every
 * choice gives the same bits. rp_simd_select(NULL) picks the best this
 * processor runs (call it once before the kernels); a name forces that one
 * and returns -1, changing nothing, if it is unknown or not supported. */
int rp_simd_select(const char *name);
/* The name of the instruction set in use. */
const char *rp_simd_name(void);

/* v[i] = act(v[i]) for i < n, over contiguous doubles, in the instruction
 * set in use, rounded for float32 results if `single`: the loop the
 * activation kernels run on each block, for the activations rp_math.h
 * computes (sigmoid, tanh); NULL for the others. */
typedef void (*rp_block_fn)(double *v, rp_index n);
rp_block_fn rp_activation_block(rp_activation act, int single);

/* The unary elementwise kernels: y[i] = f(x[i]) over n strided elements. */
#define RP_DECLARE_UNARY(name)                                                    \
    void rp_##name##_f32(rp_index n, const char *x, rp_index xs, char *y, rp_index ys); \
    void rp_##name##_f64(rp_index n, const char *x, rp_index xs, char *y, rp_index ys);

/* sigmoid: 1 / (1 + exp(-z)), without overflow for large -z */
RP_DECLARE_UNARY(sigmoid)
/* sigmoid_prime: s * (1 - s), s = sigmoid(z) (from the pre-activation) */
RP_DECLARE_UNARY(sigmoid_prime)
/* sigmoid_prime_from_activation: a * (1 - a) */
RP_DECLARE_UNARY(sigmoid_prime_from_activation)
/* tanh: tanh(z) */
RP_DECLARE_UNARY(tanh)
/* tanh_prime: 1 - tanh(z)^2 */
RP_DECLARE_UNARY(tanh_prime)
/* tanh_prime_from_activation: 1 - a^2 */
RP_DECLARE_UNARY(tanh_prime_from_activation)
/* relu: max(z, 0), NaN propagates */
RP_DECLARE_UNARY(relu)
/* relu_prime: 1 where z > 0, else 0 (NaN gives 0, as (z > 0) does) */
RP_DECLARE_UNARY(relu_prime)
/* relu_prime_from_activation: 1 where a > 0, else 0 */
RP_DECLARE_UNARY(relu_prime_from_activation)
/* identity: z */
RP_DECLARE_UNARY(identity)
/* identity_prime: 1 */
RP_DECLARE_UNARY(identity_prime)
/* identity_prime_from_activation: 1 */
RP_DECLARE_UNARY(identity_prime_from_activation)

/* The binary elementwise kernels: out[i] = f(a[i], y[i]). */
#define RP_DECLARE_BINARY(name)                                                   \
    void rp_##name##_f32(rp_index n, const char *a, rp_index as, const char *y,   \
                         rp_index ys, char *out, rp_index os);                    \
    void rp_##name##_f64(rp_index n, const char *a, rp_index as, const char *y,   \
                         rp_index ys, char *out, rp_index os);

/* sigmoid_bce_delta: a - y (dL/dz of a sigmoid output under cross-entropy) */
RP_DECLARE_BINARY(sigmoid_bce_delta)
/* sigmoid_squared_error_delta: (a - y) * a * (1 - a) (half squared error) */
RP_DECLARE_BINARY(sigmoid_squared_error_delta)

/* C = alpha * (A @ B); A (m, k), B (k, n), C (m, n); k == 0 gives zeros.
 * C must not overlap A or B. */
void rp_gemm_f32(double alpha, rp_cview A, rp_cview B, rp_view C);
void rp_gemm_f64(double alpha, rp_cview A, rp_cview B, rp_view C);

/* Z += bias (if bias.data is not NULL, broadcast through its strides),
 * then A = act(Z); Z and A have the same shape. */
void rp_bias_activate_f32(rp_view Z, rp_cview bias, rp_activation act, rp_view A);
void rp_bias_activate_f64(rp_view Z, rp_cview bias, rp_activation act, rp_view A);

/* Pairwise sums (rp_colsum, the losses) add up to this many terms one by
 * one, in order, and split longer runs in halves. */
#define RP_PAIRWISE_BLOCK 64

/* out[j] = scale * sum_i M[i, j]: the column sums of M, into a strided vector. */
void rp_colsum_f32(double scale, rp_cview M, char *out, rp_index os);
void rp_colsum_f64(double scale, rp_cview M, char *out, rp_index os);

/* The sum over every entry of rp_loss_term(loss, A, Y, eps) (rp_registry.h),
 * summed pairwise; A and Y the same shape. The loss functions divide it. */
double rp_loss_sum_f32(rp_loss loss, rp_cview A, rp_cview Y, double eps);
double rp_loss_sum_f64(rp_loss loss, rp_cview A, rp_cview Y, double eps);

/* -sum_i log(A[i, labels[i]] + eps): the cross-entropy of the rows of A
 * against integer labels (strided rp_index values, each in [0, A.cols)). */
double rp_cross_entropy_labels_f32(rp_cview A, const char *labels, rp_index ls, double eps);
double rp_cross_entropy_labels_f64(rp_cview A, const char *labels, rp_index ls, double eps);

/* A[i,:] = exp(Z[i,:] - max) / sum(exp(Z[i,:] - max)) for every row, stable
 * for large logits; A may be Z. */
void rp_softmax_f32(rp_cview Z, rp_view A);
void rp_softmax_f64(rp_cview Z, rp_view A);

/* D = A - Y: the output delta of a softmax under the cross-entropy (and of a
 * sigmoid under the binary one). */
void rp_difference_f32(rp_cview A, rp_cview Y, rp_view D);
void rp_difference_f64(rp_cview A, rp_cview Y, rp_view D);

/* D = A - onehot(labels): the same against integer labels, one per row. */
void rp_difference_labels_f32(rp_cview A, const char *labels, rp_index ls, rp_view D);
void rp_difference_labels_f64(rp_cview A, const char *labels, rp_index ls, rp_view D);

/* P -= lr * G, in place (computed in P's precision, as NumPy does). */
void rp_sgd_update_f32(double lr, rp_view P, rp_cview G);
void rp_sgd_update_f64(double lr, rp_view P, rp_cview G);

#endif /* RP_KERNELS_H */
