/*
 * rp_kernels.c - retroprop's kernels for float32 and float64.
 * The scalar maths is here; the loops over strided memory are in
 * rp_kernels_impl.h, instantiated once per element type.
 */
#include <math.h>

#include "rp_kernels.h"

/* 1 / (1 + exp(-x)); for x < 0 the equal form e / (1 + e), e = exp(x),
 * so that exp never overflows (sigmoid(-1000) is 0 with no FP warning). */
static double rp_sigmoid_scalar(double x)
{
    if (x >= 0.0) {
        return 1.0 / (1.0 + exp(-x));
    }
    else {
        double e = exp(x);
        return e / (1.0 + e);
    }
}

/* s * (1 - s): the seeds' formula, so results match theirs to the ulp. */
static double rp_sigmoid_prime_scalar(double x)
{
    double s = rp_sigmoid_scalar(x);
    return s * (1.0 - s);
}

static double rp_sigmoid_prime_from_activation_scalar(double a) { return a * (1.0 - a); }

static double rp_tanh_prime_scalar(double x)
{
    double t = tanh(x);
    return 1.0 - t * t;
}

static double rp_tanh_prime_from_activation_scalar(double a) { return 1.0 - a * a; }

/* max(x, 0) that keeps NaN, as np.maximum does. */
static double rp_relu_scalar(double x) { return (x > 0.0 || x != x) ? x : 0.0; }

/* 1 where x > 0, else 0: the derivative of relu in either form. */
static double rp_step_scalar(double x) { return x > 0.0 ? 1.0 : 0.0; }

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

/* One element of the cross-entropy sum; eps keeps log away from 0 (seed 000). */
static double rp_bce_term(double a, double y, double eps)
{
    return y * log(a + eps) + (1.0 - y) * log(1.0 - a + eps);
}

static double rp_squared_difference_term(double a, double y, double eps)
{
    double d = a - y;
    (void)eps;
    return d * d;
}

#define RP_CAT_(a, b) a##_##b
#define RP_CAT(a, b) RP_CAT_(a, b)

#define RP_T float
#define RP_NAME(base) RP_CAT(base, f32)
#include "rp_kernels_impl.h"
#undef RP_T
#undef RP_NAME

#define RP_T double
#define RP_NAME(base) RP_CAT(base, f64)
#include "rp_kernels_impl.h"
#undef RP_T
#undef RP_NAME
