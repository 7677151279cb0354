/*
 * rp_program.c - the interpreter of rp_program.h: runs a straight-line
 * program of array operations for many iterations, allocating nothing.
 */
#include <fenv.h>
#include <stdint.h>
#include <string.h>

#include "rp_program.h"

/* NumPy's pairwise summation (numpy/_core/src/umath/loops_utils.h.src,
 * pairwise_sum): below 8 terms in turn; up to PW_BLOCKSIZE terms eight
 * running sums combined as ((r0+r1)+(r2+r3))+((r4+r5)+(r6+r7)), then the
 * remainder in turn; above, split in two halves (the first a multiple of
 * 8) summed recursively. The sums are in the array's own type, as NumPy's. */
#define RP_PW_BLOCKSIZE 128

#define RP_PAIRWISE(name, T)                                                      \
    static T name(const char *a, rp_index n, rp_index s)                          \
    {                                                                             \
        if (n < 8) {                                                              \
            rp_index i;                                                           \
            T res = (T)0;                                                         \
            for (i = 0; i < n; i++) {                                             \
                res += *(const T *)(a + i * s);                                   \
            }                                                                     \
            return res;                                                           \
        }                                                                         \
        else if (n <= RP_PW_BLOCKSIZE) {                                          \
            rp_index i, j;                                                        \
            T r[8], res;                                                          \
            for (j = 0; j < 8; j++) {                                             \
                r[j] = *(const T *)(a + j * s);                                   \
            }                                                                     \
            for (i = 8; i < n - (n % 8); i += 8) {                                \
                for (j = 0; j < 8; j++) {                                         \
                    r[j] += *(const T *)(a + (i + j) * s);                        \
                }                                                                 \
            }                                                                     \
            res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7])); \
            for (; i < n; i++) {                                                  \
                res += *(const T *)(a + i * s);                                   \
            }                                                                     \
            return res;                                                           \
        }                                                                         \
        else {                                                                    \
            rp_index n2 = n / 2;                                                  \
            n2 -= n2 % 8;                                                         \
            return name(a, n2, s) + name(a + n2 * s, n - n2, s);                  \
        }                                                                         \
    }

RP_PAIRWISE(rp_pairwise_f32, float)
RP_PAIRWISE(rp_pairwise_f64, double)

/* out[o] = sum_r in[o, r] in the order `order` (RP_SUM_*) */
#define RP_SUM(name, T, pairwise)                                                 \
    static void name(const char *in, rp_index so, rp_index sr, char *out,         \
                     rp_index os, rp_index nout, rp_index nterms, rp_index order) \
    {                                                                             \
        rp_index o, r;                                                            \
        for (o = 0; o < nout; o++) {                                              \
            const char *x = in + o * so;                                          \
            T acc = (T)0;                                                         \
            if (order == RP_SUM_SEQUENTIAL) {                                     \
                for (r = 0; r < nterms; r++) {                                    \
                    acc += *(const T *)(x + r * sr);                              \
                }                                                                 \
            }                                                                     \
            else {                                                                \
                acc += pairwise(x, nterms, sr);                                   \
            }                                                                     \
            *(T *)(out + o * os) = acc;                                           \
        }                                                                         \
    }

RP_SUM(rp_sum_f32, float, rp_pairwise_f32)
RP_SUM(rp_sum_f64, double, rp_pairwise_f64)

static void rp_copy(const rp_program_op *op, char *const *ptr)
{
    rp_index i, j;
    const rp_index is0 = op->stride[0][0], is1 = op->stride[0][1];
    const rp_index os0 = op->stride[1][0], os1 = op->stride[1][1];
    const size_t size = (size_t)op->itemsize;
    for (i = 0; i < op->dim[0]; i++) {
        const char *x = ptr[0] + i * is0;
        char *y = ptr[1] + i * os0;
        if (is1 == op->itemsize && os1 == op->itemsize) {
            memcpy(y, x, size * (size_t)op->dim[1]);
            continue;
        }
        for (j = 0; j < op->dim[1]; j++) {
            memcpy(y + j * os1, x + j * is1, size);
        }
    }
}

/* out = (To) in, element by element (the rounding of a C cast, as NumPy's) */
#define RP_CAST(name, Ti, To)                                                     \
    static void name(const rp_program_op *op, char *const *ptr)                   \
    {                                                                             \
        rp_index i, j;                                                            \
        for (i = 0; i < op->dim[0]; i++) {                                        \
            const char *x = ptr[0] + i * op->stride[0][0];                        \
            char *y = ptr[1] + i * op->stride[1][0];                              \
            for (j = 0; j < op->dim[1]; j++) {                                    \
                *(To *)(y + j * op->stride[1][1]) =                               \
                    (To) * (const Ti *)(x + j * op->stride[0][1]);                \
            }                                                                     \
        }                                                                         \
    }

RP_CAST(rp_cast_f64_f32, double, float)
RP_CAST(rp_cast_f32_f64, float, double)

static void rp_step_copy(const rp_program_op *op, char *const *ptr)
{
    rp_copy(op, ptr);
}

static void rp_step_sum_f32(const rp_program_op *op, char *const *ptr)
{
    rp_sum_f32(ptr[0], op->stride[0][0], op->stride[0][1], ptr[1], op->stride[1][0], op->dim[0],
               op->dim[1], op->dim[2]);
}

static void rp_step_sum_f64(const rp_program_op *op, char *const *ptr)
{
    rp_sum_f64(ptr[0], op->stride[0][0], op->stride[0][1], ptr[1], op->stride[1][0], op->dim[0],
               op->dim[1], op->dim[2]);
}

/* out = loop(inputs): inner runs of dim[1] elements, dim[0] of them (one
 * call of NumPy's loop per row, as its ufunc machinery makes for these
 * layouts) */
static void rp_step_loop(const rp_program_op *op, char *const *ptr)
{
    rp_index i, steps[RP_PROGRAM_MAXARGS], n = op->dim[1];
    char *args[RP_PROGRAM_MAXARGS];
    int a;
    for (a = 0; a < op->nargs; a++) {
        steps[a] = op->stride[a][1];
    }
    for (i = 0; i < op->dim[0]; i++) {
        for (a = 0; a < op->nargs; a++) {
            args[a] = ptr[a] + i * op->stride[a][0];
        }
        op->loop(args, &n, steps, op->loop_data);
    }
}

/* out = a OP b over dim[0] rows of dim[1] elements, in four layouts of the
 * inner runs, picked once by rp_program_prepare: all three contiguous (vv),
 * a or b a scalar (sv, vs: inner stride 0, read once a row) and any strides.
 * Each visits the elements in the same order (rows in turn, each from its
 * first element), reading each operand just before writing its result, so
 * every layout gives the same bits as the strided loop whatever overlaps. */
#define RP_ARITH_STEPS(name, T, expr)                                             \
    static void name##_vv(const rp_program_op *op, char *const *ptr)              \
    {                                                                             \
        rp_index i, j;                                                            \
        const rp_index n = op->dim[1];                                            \
        for (i = 0; i < op->dim[0]; i++) {                                        \
            const T *A = (const T *)(ptr[0] + i * op->stride[0][0]);              \
            const T *B = (const T *)(ptr[1] + i * op->stride[1][0]);              \
            T *O = (T *)(ptr[2] + i * op->stride[2][0]);                          \
            for (j = 0; j < n; j++) {                                             \
                const T x = A[j], y = B[j];                                       \
                O[j] = expr;                                                      \
            }                                                                     \
        }                                                                         \
    }                                                                             \
    static void name##_sv(const rp_program_op *op, char *const *ptr)              \
    {                                                                             \
        rp_index i, j;                                                            \
        const rp_index n = op->dim[1];                                            \
        for (i = 0; i < op->dim[0]; i++) {                                        \
            const T x = *(const T *)(ptr[0] + i * op->stride[0][0]);              \
            const T *B = (const T *)(ptr[1] + i * op->stride[1][0]);              \
            T *O = (T *)(ptr[2] + i * op->stride[2][0]);                          \
            for (j = 0; j < n; j++) {                                             \
                const T y = B[j];                                                 \
                O[j] = expr;                                                      \
            }                                                                     \
        }                                                                         \
    }                                                                             \
    static void name##_vs(const rp_program_op *op, char *const *ptr)              \
    {                                                                             \
        rp_index i, j;                                                            \
        const rp_index n = op->dim[1];                                            \
        for (i = 0; i < op->dim[0]; i++) {                                        \
            const T *A = (const T *)(ptr[0] + i * op->stride[0][0]);              \
            const T y = *(const T *)(ptr[1] + i * op->stride[1][0]);              \
            T *O = (T *)(ptr[2] + i * op->stride[2][0]);                          \
            for (j = 0; j < n; j++) {                                             \
                const T x = A[j];                                                 \
                O[j] = expr;                                                      \
            }                                                                     \
        }                                                                         \
    }                                                                             \
    static void name##_strided(const rp_program_op *op, char *const *ptr)         \
    {                                                                             \
        rp_index i, j;                                                            \
        const rp_index as = op->stride[0][1], bs = op->stride[1][1];              \
        const rp_index os = op->stride[2][1], n = op->dim[1];                     \
        for (i = 0; i < op->dim[0]; i++) {                                        \
            const char *pa = ptr[0] + i * op->stride[0][0];                       \
            const char *pb = ptr[1] + i * op->stride[1][0];                       \
            char *po = ptr[2] + i * op->stride[2][0];                             \
            for (j = 0; j < n; j++) {                                             \
                const T x = *(const T *)(pa + j * as), y = *(const T *)(pb + j * bs); \
                *(T *)(po + j * os) = expr;                                       \
            }                                                                     \
        }                                                                         \
    }

RP_ARITH_STEPS(rp_add_f64, double, x + y)
RP_ARITH_STEPS(rp_subtract_f64, double, x - y)
RP_ARITH_STEPS(rp_multiply_f64, double, x * y)
RP_ARITH_STEPS(rp_divide_f64, double, x / y)
RP_ARITH_STEPS(rp_add_f32, float, x + y)
RP_ARITH_STEPS(rp_subtract_f32, float, x - y)
RP_ARITH_STEPS(rp_multiply_f32, float, x * y)
RP_ARITH_STEPS(rp_divide_f32, float, x / y)

/* out = -a: contiguous (vv) or any strides */
#define RP_NEGATIVE_STEPS(name, T)                                                \
    static void name##_vv(const rp_program_op *op, char *const *ptr)              \
    {                                                                             \
        rp_index i, j;                                                            \
        const rp_index n = op->dim[1];                                            \
        for (i = 0; i < op->dim[0]; i++) {                                        \
            const T *A = (const T *)(ptr[0] + i * op->stride[0][0]);              \
            T *O = (T *)(ptr[1] + i * op->stride[1][0]);                          \
            for (j = 0; j < n; j++) {                                             \
                O[j] = -A[j];                                                     \
            }                                                                     \
        }                                                                         \
    }                                                                             \
    static void name##_strided(const rp_program_op *op, char *const *ptr)         \
    {                                                                             \
        rp_index i, j;                                                            \
        for (i = 0; i < op->dim[0]; i++) {                                        \
            const char *pa = ptr[0] + i * op->stride[0][0];                       \
            char *po = ptr[1] + i * op->stride[1][0];                             \
            for (j = 0; j < op->dim[1]; j++) {                                    \
                *(T *)(po + j * op->stride[1][1]) = -*(const T *)(pa + j * op->stride[0][1]); \
            }                                                                     \
        }                                                                         \
    }

RP_NEGATIVE_STEPS(rp_negative_f64, double)
RP_NEGATIVE_STEPS(rp_negative_f32, float)

/* The arithmetic routines by operation (RP_ARITH_*), dtype and layout. */
enum { RP_VV = 0, RP_SV = 1, RP_VS = 2, RP_STRIDED = 3 };

static const rp_program_step rp_arith_steps[2][RP_ARITH_NEGATIVE + 1][4] = {
    {
        {rp_add_f64_vv, rp_add_f64_sv, rp_add_f64_vs, rp_add_f64_strided},
        {rp_subtract_f64_vv, rp_subtract_f64_sv, rp_subtract_f64_vs, rp_subtract_f64_strided},
        {rp_multiply_f64_vv, rp_multiply_f64_sv, rp_multiply_f64_vs, rp_multiply_f64_strided},
        {rp_divide_f64_vv, rp_divide_f64_sv, rp_divide_f64_vs, rp_divide_f64_strided},
        {rp_negative_f64_vv, rp_negative_f64_strided, rp_negative_f64_strided,
         rp_negative_f64_strided},
    },
    {
        {rp_add_f32_vv, rp_add_f32_sv, rp_add_f32_vs, rp_add_f32_strided},
        {rp_subtract_f32_vv, rp_subtract_f32_sv, rp_subtract_f32_vs, rp_subtract_f32_strided},
        {rp_multiply_f32_vv, rp_multiply_f32_sv, rp_multiply_f32_vs, rp_multiply_f32_strided},
        {rp_divide_f32_vv, rp_divide_f32_sv, rp_divide_f32_vs, rp_divide_f32_strided},
        {rp_negative_f32_vv, rp_negative_f32_strided, rp_negative_f32_strided,
         rp_negative_f32_strided},
    },
};

/* The layout of an arithmetic operation's inner runs (RP_VV ...). */
static int rp_arith_layout(const rp_program_op *op)
{
    const rp_index z = op->itemsize;
    if (op->dim[2] == RP_ARITH_NEGATIVE) {
        return op->stride[0][1] == z && op->stride[1][1] == z ? RP_VV : RP_STRIDED;
    }
    if (op->stride[2][1] != z) {
        return RP_STRIDED;
    }
    if (op->stride[0][1] == z && op->stride[1][1] == z) {
        return RP_VV;
    }
    if (op->stride[0][1] == 0 && op->stride[1][1] == z) {
        return RP_SV;
    }
    if (op->stride[0][1] == z && op->stride[1][1] == 0) {
        return RP_VS;
    }
    return RP_STRIDED;
}

/* C = A @ B for the tiny products of the seeds: each sum in order
 * p = 0..k-1, from 0, in double, as rp_gemm's own loop sums (so the same
 * bits), without its dispatch. */
#define RP_TINY_GEMM_WORK 512

#define RP_TINY_GEMM(name, T)                                                     \
    static void name(const rp_program_op *op, char *const *ptr)                   \
    {                                                                             \
        rp_index i, j, p;                                                         \
        const rp_index m = op->dim[0], k = op->dim[1], n = op->dim[2];            \
        const rp_index a0 = op->stride[0][0], a1 = op->stride[0][1];              \
        const rp_index b0 = op->stride[1][0], b1 = op->stride[1][1];              \
        for (i = 0; i < m; i++) {                                                 \
            for (j = 0; j < n; j++) {                                             \
                const char *pa = ptr[0] + i * a0, *pb = ptr[1] + j * b1;          \
                double acc = 0.0;                                                 \
                for (p = 0; p < k; p++, pa += a1, pb += b0) {                     \
                    acc += (double)*(const T *)pa * (double)*(const T *)pb;       \
                }                                                                 \
                *(T *)(ptr[2] + i * op->stride[2][0] + j * op->stride[2][1]) = (T)acc; \
            }                                                                     \
        }                                                                         \
    }

RP_TINY_GEMM(rp_tiny_gemm_f64, double)
RP_TINY_GEMM(rp_tiny_gemm_f32, float)

/* The same sums, C[i, j] = 0 + A[i,0] B[0,j] + ... + A[i,k-1] B[k-1,j] in
 * double, four of them at once: a row of C four columns at a time when
 * B's and C's rows are contiguous (rows), or four rows of a one-column C
 * (column). Only when C overlaps neither A nor B (rp_program_prepare), so
 * that the order C is written in does not matter. */
#define RP_GEMM_ROWS(name, T)                                                     \
    static void name(const rp_program_op *op, char *const *ptr)                   \
    {                                                                             \
        rp_index i, j, p, q;                                                      \
        const rp_index m = op->dim[0], k = op->dim[1], n = op->dim[2];            \
        const rp_index a0 = op->stride[0][0], a1 = op->stride[0][1];              \
        const rp_index b0 = op->stride[1][0], c0 = op->stride[2][0];              \
        for (i = 0; i < m; i++) {                                                 \
            const char *arow = ptr[0] + i * a0;                                   \
            T *crow = (T *)(ptr[2] + i * c0);                                     \
            for (j = 0; j + 4 <= n; j += 4) {                                     \
                double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0;                    \
                for (p = 0; p < k; p++) {                                         \
                    const double a = (double)*(const T *)(arow + p * a1);         \
                    const T *b = (const T *)(ptr[1] + p * b0) + j;                \
                    s0 += a * (double)b[0];                                       \
                    s1 += a * (double)b[1];                                       \
                    s2 += a * (double)b[2];                                       \
                    s3 += a * (double)b[3];                                       \
                }                                                                 \
                crow[j] = (T)s0;                                                  \
                crow[j + 1] = (T)s1;                                              \
                crow[j + 2] = (T)s2;                                              \
                crow[j + 3] = (T)s3;                                              \
            }                                                                     \
            for (; j < n; j++) {                                                  \
                double s = 0.0;                                                   \
                for (q = 0; q < k; q++) {                                         \
                    s += (double)*(const T *)(arow + q * a1) *                    \
                         (double)*(const T *)(ptr[1] + q * b0 + j * (rp_index)sizeof(T)); \
                }                                                                 \
                crow[j] = (T)s;                                                   \
            }                                                                     \
        }                                                                         \
    }

#define RP_GEMM_COLUMN(name, T)                                                   \
    static void name(const rp_program_op *op, char *const *ptr)                   \
    {                                                                             \
        rp_index i, p;                                                            \
        const rp_index m = op->dim[0], k = op->dim[1];                            \
        const rp_index a0 = op->stride[0][0], a1 = op->stride[0][1];              \
        const rp_index b0 = op->stride[1][0], c0 = op->stride[2][0];              \
        for (i = 0; i + 4 <= m; i += 4) {                                         \
            const char *a = ptr[0] + i * a0;                                      \
            double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0;                        \
            for (p = 0; p < k; p++, a += a1) {                                    \
                const double b = (double)*(const T *)(ptr[1] + p * b0);           \
                s0 += (double)*(const T *)a * b;                                  \
                s1 += (double)*(const T *)(a + a0) * b;                           \
                s2 += (double)*(const T *)(a + 2 * a0) * b;                       \
                s3 += (double)*(const T *)(a + 3 * a0) * b;                       \
            }                                                                     \
            *(T *)(ptr[2] + i * c0) = (T)s0;                                      \
            *(T *)(ptr[2] + (i + 1) * c0) = (T)s1;                                \
            *(T *)(ptr[2] + (i + 2) * c0) = (T)s2;                                \
            *(T *)(ptr[2] + (i + 3) * c0) = (T)s3;                                \
        }                                                                         \
        for (; i < m; i++) {                                                      \
            const char *a = ptr[0] + i * a0;                                      \
            double s = 0.0;                                                       \
            for (p = 0; p < k; p++, a += a1) {                                    \
                s += (double)*(const T *)a * (double)*(const T *)(ptr[1] + p * b0); \
            }                                                                     \
            *(T *)(ptr[2] + i * c0) = (T)s;                                       \
        }                                                                         \
    }

RP_GEMM_ROWS(rp_gemm_rows_f64, double)
RP_GEMM_ROWS(rp_gemm_rows_f32, float)
RP_GEMM_COLUMN(rp_gemm_column_f64, double)
RP_GEMM_COLUMN(rp_gemm_column_f32, float)

/* C = A @ B beyond the tiny products: rp_gemm (and its large routine) */
static void rp_step_gemm(const rp_program_op *op, char *const *ptr)
{
    rp_cview A, B;
    rp_view C;
    A.data = ptr[0];
    A.rows = op->dim[0];
    A.cols = op->dim[1];
    A.s0 = op->stride[0][0];
    A.s1 = op->stride[0][1];
    B.data = ptr[1];
    B.rows = op->dim[1];
    B.cols = op->dim[2];
    B.s0 = op->stride[1][0];
    B.s1 = op->stride[1][1];
    C.data = ptr[2];
    C.rows = op->dim[0];
    C.cols = op->dim[2];
    C.s0 = op->stride[2][0];
    C.s1 = op->stride[2][1];
    if (op->kind == RP_PROGRAM_GEMM_F32) {
        rp_gemm_f32(1.0, A, B, C);
    }
    else {
        rp_gemm_f64(1.0, A, B, C);
    }
}

static void rp_step_nothing(const rp_program_op *op, char *const *ptr)
{
    (void)op;
    (void)ptr;
}

/* The bytes [at + lo, at + hi) a rows x cols view with strides s0, s1 of
 * `size`-byte elements touches; 0 when it touches none. */
static int rp_span(rp_index rows, rp_index cols, rp_index s0, rp_index s1, rp_index size,
                   rp_index *lo, rp_index *hi)
{
    if (rows == 0 || cols == 0) {
        return 0;
    }
    *lo = (s0 < 0 ? (rows - 1) * s0 : 0) + (s1 < 0 ? (cols - 1) * s1 : 0);
    *hi = (s0 > 0 ? (rows - 1) * s0 : 0) + (s1 > 0 ? (cols - 1) * s1 : 0) + size;
    return 1;
}

/* Whether operands a and b of a product (A, B, C) share a byte. */
static int rp_gemm_overlap(const rp_program_op *op, int a, int b)
{
    const rp_index size = op->kind == RP_PROGRAM_GEMM_F32 ? 4 : 8;
    const rp_index rows[3] = {op->dim[0], op->dim[1], op->dim[0]};
    const rp_index cols[3] = {op->dim[1], op->dim[2], op->dim[2]};
    rp_index alo, ahi, blo, bhi;
    if (!rp_span(rows[a], cols[a], op->stride[a][0], op->stride[a][1], size, &alo, &ahi) ||
        !rp_span(rows[b], cols[b], op->stride[b][0], op->stride[b][1], size, &blo, &bhi)) {
        return 0;
    }
    /* as addresses: the operands may lie in different arrays */
    return (uintptr_t)(op->at[a] + alo) < (uintptr_t)(op->at[b] + bhi) &&
           (uintptr_t)(op->at[b] + blo) < (uintptr_t)(op->at[a] + ahi);
}

static rp_program_step rp_pick_gemm(const rp_program_op *op)
{
    const int f32 = op->kind == RP_PROGRAM_GEMM_F32;
    const rp_index size = f32 ? 4 : 8;
    if (op->dim[0] * op->dim[1] * op->dim[2] > RP_TINY_GEMM_WORK) {
        return rp_step_gemm;
    }
    /* the operands move (minibatches): where they meet changes; in turn */
    if (!op->moves && !rp_gemm_overlap(op, 0, 2) && !rp_gemm_overlap(op, 1, 2)) {
        if (op->dim[2] == 1) {
            return f32 ? rp_gemm_column_f32 : rp_gemm_column_f64;
        }
        if (op->stride[1][1] == size && op->stride[2][1] == size) {
            return f32 ? rp_gemm_rows_f32 : rp_gemm_rows_f64;
        }
    }
    return f32 ? rp_tiny_gemm_f32 : rp_tiny_gemm_f64;
}

static rp_program_step rp_pick(const rp_program_op *op)
{
    switch (op->kind) {
    case RP_PROGRAM_ARITH:
        if (op->dim[2] < RP_ARITH_ADD || op->dim[2] > RP_ARITH_NEGATIVE ||
            (op->itemsize != 4 && op->itemsize != 8)) {
            return rp_step_nothing;
        }
        return rp_arith_steps[op->itemsize == 4][op->dim[2]][rp_arith_layout(op)];
    case RP_PROGRAM_LOOP:
        return rp_step_loop;
    case RP_PROGRAM_GEMM_F32:
    case RP_PROGRAM_GEMM_F64:
        return rp_pick_gemm(op);
    case RP_PROGRAM_COPY:
        return rp_step_copy;
    case RP_PROGRAM_SUM_F32:
        return rp_step_sum_f32;
    case RP_PROGRAM_SUM_F64:
        return rp_step_sum_f64;
    case RP_PROGRAM_CAST_F64_F32:
        return rp_cast_f64_f32;
    case RP_PROGRAM_CAST_F32_F64:
        return rp_cast_f32_f64;
    default:
        return rp_step_nothing;
    }
}

void rp_program_prepare(rp_program *p)
{
    int i, a;
    for (i = 0; i < p->nops; i++) {
        rp_program_op *op = &p->ops[i];
        op->moves = 0;
        for (a = 0; a < op->nargs; a++) {
            op->at[a] = p->base[op->slot[a]] + op->offset[a];
            op->moves |= op->iter_step[a] != 0;
        }
        op->step = rp_pick(op);
    }
}

int rp_program_run(const rp_program *p, int begin, int end, rp_index first, rp_index count)
{
    rp_index k;
    int i, a, raised, flags = 0;
    feclearexcept(FE_ALL_EXCEPT);
    for (k = first; k < first + count; k++) {
        for (i = begin; i < end; i++) {
            const rp_program_op *op = &p->ops[i];
            if (op->moves) {
                /* operand a at offset[a] + (k % period) * iter_step[a] */
                char *ptr[RP_PROGRAM_MAXARGS];
                const rp_index kk = op->period ? k % op->period : k;
                for (a = 0; a < op->nargs; a++) {
                    ptr[a] = op->at[a] + kk * op->iter_step[a];
                }
                op->step(op, ptr);
            }
            else {
                op->step(op, op->at);
            }
        }
    }
    raised = fetestexcept(FE_INVALID | FE_DIVBYZERO | FE_OVERFLOW | FE_UNDERFLOW);
    if (raised & FE_INVALID) {
        flags |= RP_FP_INVALID;
    }
    if (raised & FE_DIVBYZERO) {
        flags |= RP_FP_DIVBYZERO;
    }
    if (raised & FE_OVERFLOW) {
        flags |= RP_FP_OVERFLOW;
    }
    if (raised & FE_UNDERFLOW) {
        flags |= RP_FP_UNDERFLOW;
    }
    return flags;
}
