/*
 * rp_kernels.c - retroprop's kernels for float32 and float64.
 * The scalar maths is here and in rp_math.h; the loops over strided memory
 * are in rp_kernels_impl.h, instantiated once per element type.
 */
#include <math.h>
#include <string.h>

#include "rp_kernels.h"
#include "rp_math.h"
#include "rp_registry.h"

/* The elementwise maths of rp_math.h runs over blocks of at most RP_BLOCK
 * doubles, in place: the kernels gather each block of their strided,
 * float32 or float64 input into a stack buffer, run a block loop on it and
 * store the results. Block loops are plain and contiguous, so the compiler
 * vectorises them whatever the arrays' strides and dtype. */
#define RP_BLOCK 256

/* v[i] = math(v[i], single) for i < n */
#define RP_BLOCK_LOOP(fname, math, single, target)                               \
    target static void fname(double *v, rp_index n)                              \
    {                                                                             \
        rp_index i;                                                               \
        for (i = 0; i < n; i++) {                                                 \
            v[i] = math(v[i], single);                                            \
        }                                                                         \
    }

/* The functions with block loops, as indices of the tables below. */
enum { RP_MATH_EXP, RP_MATH_SIGMOID, RP_MATH_SIGMOID_PRIME, RP_MATH_TANH, RP_MATH_TANH_PRIME,
       RP_MATH_COUNT };

/* One table of block loops per instruction set: for each function, the
 * loop for float64 results, then the one for float32. */
#define RP_BLOCK_TABLE(isa, target)                                              \
    RP_BLOCK_LOOP(rp_exp_block_f64_##isa, rp_exp_nonpositive, 0, target)          \
    RP_BLOCK_LOOP(rp_exp_block_f32_##isa, rp_exp_nonpositive, 1, target)          \
    RP_BLOCK_LOOP(rp_sigmoid_block_f64_##isa, rp_sigmoid, 0, target)              \
    RP_BLOCK_LOOP(rp_sigmoid_block_f32_##isa, rp_sigmoid, 1, target)              \
    RP_BLOCK_LOOP(rp_sigmoid_prime_block_f64_##isa, rp_sigmoid_prime, 0, target)  \
    RP_BLOCK_LOOP(rp_sigmoid_prime_block_f32_##isa, rp_sigmoid_prime, 1, target)  \
    RP_BLOCK_LOOP(rp_tanh_block_f64_##isa, rp_tanh, 0, target)                    \
    RP_BLOCK_LOOP(rp_tanh_block_f32_##isa, rp_tanh, 1, target)                    \
    RP_BLOCK_LOOP(rp_tanh_prime_block_f64_##isa, rp_tanh_prime, 0, target)        \
    RP_BLOCK_LOOP(rp_tanh_prime_block_f32_##isa, rp_tanh_prime, 1, target)        \
    static const rp_block_fn rp_blocks_##isa[RP_MATH_COUNT][2] = {                \
        {rp_exp_block_f64_##isa, rp_exp_block_f32_##isa},                         \
        {rp_sigmoid_block_f64_##isa, rp_sigmoid_block_f32_##isa},                 \
        {rp_sigmoid_prime_block_f64_##isa, rp_sigmoid_prime_block_f32_##isa},     \
        {rp_tanh_block_f64_##isa, rp_tanh_block_f32_##isa},                       \
        {rp_tanh_prime_block_f64_##isa, rp_tanh_prime_block_f32_##isa},           \
    };

/* The portable loops, for whatever the compiler targets (SSE2 on x86-64):
 * all that MSVC and other targets build. */
#define RP_DEFAULT_TARGET
RP_BLOCK_TABLE(baseline, RP_DEFAULT_TARGET)

/* gcc and clang on x86-64 also compile the same loops for AVX2 and AVX-512F,
 * one of which rp_simd_select picks at run time. Only the vector width
 * changes (no FMA: -ffp-contract=off still holds), so every instruction
 * set gives the same bits; tests/test_math_accuracy.py checks it. */
#if (defined(__GNUC__) || defined(__clang__)) && defined(__x86_64__) && !defined(RP_NO_SIMD_DISPATCH)
#define RP_X86_DISPATCH 1
RP_BLOCK_TABLE(avx2, __attribute__((target("avx2"))))
RP_BLOCK_TABLE(avx512f, __attribute__((target("avx512f"))))
#endif

typedef struct {
    const char *name;
    const rp_block_fn (*blocks)[2];
} rp_simd;

static const rp_simd rp_simds[] = {
    {"baseline", rp_blocks_baseline},
#ifdef RP_X86_DISPATCH
    {"avx2", rp_blocks_avx2},
    {"avx512f", rp_blocks_avx512f},
#endif
};

#define RP_NSIMD ((int)(sizeof(rp_simds) / sizeof(rp_simds[0])))

static const rp_simd *rp_simd_active = &rp_simds[0];

/* Whether this processor, and its OS for the wider registers, runs rp_simds[i]. */
static int rp_simd_supported(int i)
{
#ifdef RP_X86_DISPATCH
    __builtin_cpu_init();
    if (strcmp(rp_simds[i].name, "avx2") == 0) {
        return __builtin_cpu_supports("avx2");
    }
    if (strcmp(rp_simds[i].name, "avx512f") == 0) {
        return __builtin_cpu_supports("avx512f");
    }
#endif
    return i == 0;
}

const char *rp_simd_name(void) { return rp_simd_active->name; }

int rp_simd_select(const char *name)
{
    int i, best = 0;
    for (i = 0; i < RP_NSIMD; i++) {
        if (!rp_simd_supported(i)) {
            continue;
        }
        if (name == NULL) {
            best = i; /* the table lists the instruction sets from oldest to widest */
        }
        else if (strcmp(name, rp_simds[i].name) == 0) {
            rp_simd_active = &rp_simds[i];
            return 0;
        }
    }
    if (name == NULL) {
        rp_simd_active = &rp_simds[best];
        return 0;
    }
    return -1;
}

/* The active block loop of a function, for float32 (single) or float64 results. */
static rp_block_fn rp_block(int fn, int single) { return rp_simd_active->blocks[fn][single]; }

rp_block_fn rp_activation_block(rp_activation act, int single)
{
    return act == RP_ACT_SIGMOID ? rp_block(RP_MATH_SIGMOID, single)
           : act == RP_ACT_TANH  ? rp_block(RP_MATH_TANH, single)
                                 : NULL;
}

/* the derivatives from the activation: rp_registry.h writes them once */
static double rp_sigmoid_prime_from_activation_scalar(double a)
{
    return rp_prime_from_activation(RP_ACT_SIGMOID, a);
}

static double rp_tanh_prime_from_activation_scalar(double a)
{
    return rp_prime_from_activation(RP_ACT_TANH, a);
}

static double rp_relu_prime_from_activation_scalar(double a)
{
    return rp_prime_from_activation(RP_ACT_RELU, a);
}

static double rp_identity_prime_from_activation_scalar(double a)
{
    return rp_prime_from_activation(RP_ACT_IDENTITY, a);
}

/* max(x, 0) that keeps NaN, as np.maximum does. The comparisons here are
 * C99's quiet ones: a plain x > 0 raises FE_INVALID on NaN, which NumPy
 * would report as a warning. */
static double rp_relu_scalar(double x) { return (isgreater(x, 0.0) || isnan(x)) ? x : 0.0; }

/* 1 where x > 0, else 0: the derivative of relu from z. */
static double rp_step_scalar(double x) { return isgreater(x, 0.0) ? 1.0 : 0.0; }

static double rp_identity_scalar(double x) { return x; }

static double rp_one_scalar(double x)
{
    (void)x;
    return 1.0;
}

static double rp_difference_scalar(double a, double y) { return a - y; }

static double rp_sigmoid_squared_error_delta_scalar(double a, double y)
{
    return (a - y) * a * (1.0 - a);
}

/* The routines large products go to (rp_set_large_gemm); NULL: our loop. */
static rp_large_gemm_fn rp_large_gemm_f32 = NULL;
static rp_large_gemm_fn rp_large_gemm_f64 = NULL;

void rp_set_large_gemm(rp_large_gemm_fn f32, rp_large_gemm_fn f64)
{
    rp_large_gemm_f32 = f32;
    rp_large_gemm_f64 = f64;
}

#define RP_CAT_(a, b) a##_##b
#define RP_CAT(a, b) RP_CAT_(a, b)

#define RP_T float
#define RP_SINGLE 1
#define RP_NAME(base) RP_CAT(base, f32)
#include "rp_kernels_impl.h"
#undef RP_T
#undef RP_SINGLE
#undef RP_NAME

#define RP_T double
#define RP_SINGLE 0
#define RP_NAME(base) RP_CAT(base, f64)
#include "rp_kernels_impl.h"
#undef RP_T
#undef RP_SINGLE
#undef RP_NAME
