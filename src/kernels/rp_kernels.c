/*
 * rp_kernels.c - retroprop's kernels for float32 and float64.
 * The scalar maths is here; the loops over strided memory are in
 * rp_kernels_impl.h, instantiated once per element type.
 */
#include <math.h>

#include "rp_kernels.h"

/* 1 / (1 + exp(-x)), with exp taken of -|x| only, so that it never
 * overflows (sigmoid(-1000) is 0 with no FP warning): for x < 0 the result is
 * e / (1 + e) = e * r. Written without a branch on the sign, which the
 * processor could not predict. */
static double rp_sigmoid_scalar(double x)
{
    const double e = exp(-fabs(x));
    const double r = 1.0 / (1.0 + e);
    return isgreaterequal(x, 0.0) ? r : e * r; /* quiet for NaN */
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

/* max(x, 0) that keeps NaN, as np.maximum does. The comparisons here are
 * C99's quiet ones: a plain x > 0 raises FE_INVALID on NaN, which NumPy
 * would report as a warning. */
static double rp_relu_scalar(double x) { return (isgreater(x, 0.0) || isnan(x)) ? x : 0.0; }

/* 1 where x > 0, else 0: the derivative of relu in either form. */
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
