/*
 * rp_program.c - the interpreter of rp_program.h: runs a straight-line
 * program of array operations for many iterations, allocating nothing.
 */
#include <fenv.h>
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

static void rp_copy(char *const *ptr, const rp_program_op *op)
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
    static void name(char *const *ptr, const rp_program_op *op)                   \
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

/* out = a OP b over outer x inner strided elements. The inner runs where
 * the operands are contiguous or scalars (stride 0) get loops of their own,
 * which the compiler vectorises. */
#define RP_ARITH_LOOP(name, T, expr)                                              \
    static void name(char *const *ptr, const rp_program_op *op)                   \
    {                                                                             \
        rp_index i, j;                                                            \
        const rp_index as = op->stride[0][1], bs = op->stride[1][1];              \
        const rp_index os = op->stride[2][1], n = op->dim[1];                     \
        const rp_index z = (rp_index)sizeof(T);                                   \
        for (i = 0; i < op->dim[0]; i++) {                                        \
            const char *pa = ptr[0] + i * op->stride[0][0];                       \
            const char *pb = ptr[1] + i * op->stride[1][0];                       \
            char *po = ptr[2] + i * op->stride[2][0];                             \
            if (os == z && as == z && bs == z) {                                  \
                const T *A = (const T *)pa, *B = (const T *)pb;                   \
                T *O = (T *)po;                                                   \
                for (j = 0; j < n; j++) {                                         \
                    const T x = A[j], y = B[j];                                   \
                    O[j] = expr;                                                  \
                }                                                                 \
            }                                                                     \
            else if (os == z && as == 0 && bs == z) {                             \
                const T x = *(const T *)pa, *B = (const T *)pb;                   \
                T *O = (T *)po;                                                   \
                for (j = 0; j < n; j++) {                                         \
                    const T y = B[j];                                             \
                    O[j] = expr;                                                  \
                }                                                                 \
            }                                                                     \
            else if (os == z && as == z && bs == 0) {                             \
                const T *A = (const T *)pa, y = *(const T *)pb;                   \
                T *O = (T *)po;                                                   \
                for (j = 0; j < n; j++) {                                         \
                    const T x = A[j];                                             \
                    O[j] = expr;                                                  \
                }                                                                 \
            }                                                                     \
            else {                                                                \
                for (j = 0; j < n; j++) {                                         \
                    const T x = *(const T *)(pa + j * as), y = *(const T *)(pb + j * bs); \
                    *(T *)(po + j * os) = expr;                                   \
                }                                                                 \
            }                                                                     \
        }                                                                         \
    }

RP_ARITH_LOOP(rp_add_f64, double, x + y)
RP_ARITH_LOOP(rp_subtract_f64, double, x - y)
RP_ARITH_LOOP(rp_multiply_f64, double, x * y)
RP_ARITH_LOOP(rp_divide_f64, double, x / y)
RP_ARITH_LOOP(rp_add_f32, float, x + y)
RP_ARITH_LOOP(rp_subtract_f32, float, x - y)
RP_ARITH_LOOP(rp_multiply_f32, float, x * y)
RP_ARITH_LOOP(rp_divide_f32, float, x / y)

/* out = -a */
#define RP_NEGATIVE_LOOP(name, T)                                                 \
    static void name(char *const *ptr, const rp_program_op *op)                   \
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

RP_NEGATIVE_LOOP(rp_negative_f64, double)
RP_NEGATIVE_LOOP(rp_negative_f32, float)

static void rp_arith(char *const *ptr, const rp_program_op *op)
{
    const int f32 = op->itemsize == 4;
    switch (op->dim[2]) {
    case RP_ARITH_ADD:
        f32 ? rp_add_f32(ptr, op) : rp_add_f64(ptr, op);
        break;
    case RP_ARITH_SUBTRACT:
        f32 ? rp_subtract_f32(ptr, op) : rp_subtract_f64(ptr, op);
        break;
    case RP_ARITH_MULTIPLY:
        f32 ? rp_multiply_f32(ptr, op) : rp_multiply_f64(ptr, op);
        break;
    case RP_ARITH_DIVIDE:
        f32 ? rp_divide_f32(ptr, op) : rp_divide_f64(ptr, op);
        break;
    case RP_ARITH_NEGATIVE:
        f32 ? rp_negative_f32(ptr, op) : rp_negative_f64(ptr, op);
        break;
    default:
        break;
    }
}

/* C = A @ B for the tiny products of the seeds: each sum in order
 * p = 0..k-1, from 0, in double, as rp_gemm's own loop sums (so the same
 * bits), without its dispatch. */
#define RP_TINY_GEMM_WORK 512

#define RP_TINY_GEMM(name, T)                                                     \
    static void name(char *const *ptr, const rp_program_op *op)                   \
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

void rp_program_prepare(rp_program *p)
{
    int i, a;
    for (i = 0; i < p->nops; i++) {
        rp_program_op *op = &p->ops[i];
        for (a = 0; a < op->nargs; a++) {
            op->at[a] = p->base[op->slot[a]] + op->offset[a];
        }
    }
}

static void rp_run_op(const rp_program_op *op, rp_index k)
{
    char *ptr[RP_PROGRAM_MAXARGS];
    int a;
    if (op->iter_step[0] | op->iter_step[1] | op->iter_step[2]) {
        const rp_index kk = op->period ? k % op->period : k;
        for (a = 0; a < op->nargs; a++) {
            ptr[a] = op->at[a] + kk * op->iter_step[a];
        }
    }
    else {
        ptr[0] = op->at[0];
        ptr[1] = op->at[1];
        ptr[2] = op->at[2];
    }
    switch (op->kind) {
    case RP_PROGRAM_ARITH:
        rp_arith(ptr, op);
        break;
    case RP_PROGRAM_LOOP: {
        /* inner runs of dim[1] elements, dim[0] of them */
        rp_index i, steps[RP_PROGRAM_MAXARGS], n = op->dim[1];
        char *args[RP_PROGRAM_MAXARGS];
        for (a = 0; a < op->nargs; a++) {
            steps[a] = op->stride[a][1];
        }
        for (i = 0; i < op->dim[0]; i++) {
            for (a = 0; a < op->nargs; a++) {
                args[a] = ptr[a] + i * op->stride[a][0];
            }
            op->loop(args, &n, steps, op->loop_data);
        }
        break;
    }
    case RP_PROGRAM_GEMM_F32:
    case RP_PROGRAM_GEMM_F64: {
        rp_cview A, B;
        rp_view C;
        if (op->dim[0] * op->dim[1] * op->dim[2] <= RP_TINY_GEMM_WORK) {
            if (op->kind == RP_PROGRAM_GEMM_F32) {
                rp_tiny_gemm_f32(ptr, op);
            }
            else {
                rp_tiny_gemm_f64(ptr, op);
            }
            break;
        }
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
        break;
    }
    case RP_PROGRAM_COPY:
        rp_copy(ptr, op);
        break;
    case RP_PROGRAM_SUM_F32:
        rp_sum_f32(ptr[0], op->stride[0][0], op->stride[0][1], ptr[1], op->stride[1][0],
                   op->dim[0], op->dim[1], op->dim[2]);
        break;
    case RP_PROGRAM_SUM_F64:
        rp_sum_f64(ptr[0], op->stride[0][0], op->stride[0][1], ptr[1], op->stride[1][0],
                   op->dim[0], op->dim[1], op->dim[2]);
        break;
    case RP_PROGRAM_CAST_F64_F32:
        rp_cast_f64_f32(ptr, op);
        break;
    case RP_PROGRAM_CAST_F32_F64:
        rp_cast_f32_f64(ptr, op);
        break;
    default:
        break;
    }
}

int rp_program_run(const rp_program *p, int begin, int end, rp_index first, rp_index count)
{
    rp_index k;
    int i, raised, flags = 0;
    feclearexcept(FE_ALL_EXCEPT);
    for (k = first; k < first + count; k++) {
        for (i = begin; i < end; i++) {
            rp_run_op(&p->ops[i], k);
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
