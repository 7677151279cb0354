/*
 * rp_math.h - exp, and sigmoid, tanh and their derivatives built on it, for
 * one double, written so that a loop calling them over a contiguous array
 * is vectorised: gcc and clang at -O3 do it with SSE2 already. Cody-Waite
 * range reduction, a minimax polynomial, the power of two built from bits;
 * no branch, no table, no libm. Pure C99, no Python.
 *
 * Special values are handled by selects on the bits, never by ?: or by a
 * comparison of doubles: gcc (by default -ftrapping-math) turns such ?:
 * back into branches and then does not vectorise the loop, and an ordered
 * comparison, min or max of a NaN raises FE_INVALID, which NumPy reports as
 * a warning. The only flags raised are inexact, and underflow where the
 * result itself is below the smallest normal double.
 *
 * `single` is 1 when the double result is to be rounded once to float32: a
 * shorter polynomial and no error compensation are then enough. It is a
 * constant wherever these functions are inlined.
 *
 * Accuracy is stated as the distance from the correctly rounded result, as
 * tests/test_math_accuracy.py measures it against 80-bit long double.
 * Any compiler and instruction set give the same bits, as long as a*b + c
 * is not fused (-ffp-contract=off, /fp:precise), rounding is to nearest and
 * doubles are computed in double (FLT_EVAL_METHOD 0, as on x86-64 and
 * arm64; 32-bit x86 needs -msse2 -mfpmath=sse), which the error-free sums
 * below rely on too.
 * "Fast2Sum" below: for |a| >= |b|, s = a + b rounded and (a - s) + b is
 * exactly the rounding error.
 */
#ifndef RP_MATH_H
#define RP_MATH_H

#include <stdint.h>
#include <string.h>

#include "rp_kernels.h" /* rp_index, RP_INLINE */

/* Decimal spellings of exact doubles (hex float literals are not in every
 * compiler we build with). */
#define RP_INV_LN2 1.4426950408889634           /* 0x1.71547652b82fep+0 */
#define RP_LN2 0.6931471805599453             /* ln2 rounded */
#define RP_LN2_HI 0.6931471803691238            /* 0x1.62e42feep-1: k * RP_LN2_HI exact */
#define RP_LN2_LO 1.9082149292705877e-10        /* ln2 - RP_LN2_HI */
#define RP_ROUND_SHIFT 6755399441055744.0       /* 0x1.8p52 */
#define RP_TWO_M64 5.421010862427522e-20        /* 2^-64 */
#define RP_TWO_M128 2.938735877055719e-39       /* 2^-128 */

#define RP_SIGN_BIT UINT64_C(0x8000000000000000)
#define RP_INF_BITS UINT64_C(0x7ff0000000000000)

RP_INLINE uint64_t rp_bits_of(double x)
{
    uint64_t b;
    memcpy(&b, &x, sizeof b);
    return b;
}

RP_INLINE double rp_double_of(uint64_t b)
{
    double x;
    memcpy(&x, &b, sizeof x);
    return x;
}

/* All ones where a > b, else 0, for a and b below 2^63: the bits of
 * non-negative doubles, NaN included, compare as these integers do. */
RP_INLINE uint64_t rp_mask_above(uint64_t a, uint64_t b) { return (uint64_t)0 - ((b - a) >> 63); }

/* All ones where the sign bit of bits is set, else 0. */
RP_INLINE uint64_t rp_mask_negative(uint64_t bits) { return (uint64_t)0 - (bits >> 63); }

/* a where mask is all ones, b where it is 0. */
RP_INLINE uint64_t rp_select(uint64_t mask, uint64_t a, uint64_t b)
{
    return (a & mask) | (b & ~mask);
}

/* The special cases of x, as masks of its bits. */
typedef struct {
    uint64_t nan;      /* x is NaN */
    uint64_t inf;      /* x is +-inf */
    uint64_t tiny;     /* |x| < tiny: f(x) rounds to f(0) (to x for tanh) */
    uint64_t negative; /* the sign bit is set */
} rp_cases;

/* The 'tiny' bound of rp_cases_of: 2^-60 for all but tanh, 2^-27 for it
 * (tanh(x) = x - x^3/3 rounds to x below that). */
#define RP_TINY 8.673617379884035e-19     /* 2^-60 */
#define RP_TINY_TANH 7.450580596923828e-09 /* 2^-27 */

RP_INLINE rp_cases rp_cases_of(uint64_t xbits, double tiny)
{
    const uint64_t a = xbits & ~RP_SIGN_BIT;
    rp_cases c;
    c.nan = rp_mask_above(a, RP_INF_BITS);
    c.inf = rp_mask_above(a, RP_INF_BITS - 1) & ~c.nan;
    c.tiny = rp_mask_above(rp_bits_of(tiny), a);
    c.negative = rp_mask_negative(xbits);
    return c;
}

/* min(|x|, cap), with 0 for NaN, tiny |x| and, unless inf_is_large, +-inf:
 * the cases whose result the caller then selects, so that computing with
 * the argument raises no flag (x / ln2 of a subnormal x would underflow). */
RP_INLINE double rp_abs_capped(uint64_t xbits, rp_cases c, double cap, int inf_is_large)
{
    const uint64_t a = xbits & ~RP_SIGN_BIT, cb = rp_bits_of(cap);
    const uint64_t zero = c.nan | c.tiny | (inf_is_large ? 0 : c.inf);
    return rp_double_of(rp_select(rp_mask_above(a, cb), cb, a) & ~zero);
}

/* y, or x itself where x is NaN. */
RP_INLINE double rp_nan_or(uint64_t xbits, rp_cases c, double y)
{
    return rp_double_of(rp_select(c.nan, xbits, rp_bits_of(y)));
}

/* Cody-Waite reduction of x in [-1100, 1100], 0 or |x| >= 2^-60 (so never
 * NaN): x = k*ln2 + r, |r| <= ln2/2. Sets *r and *r_lo (r + r_lo is
 * x - k*ln2 to 2^-100; r_lo = 0 when single) and *kbits = k << 52, the
 * exponent field of 2^k less the bias; returns q = expm1(r) - r, to
 * 2^-56 |r| (2^-34 |r| when single). */
RP_INLINE double rp_exp_reduce(double x, int single, double *r_out, double *r_lo, uint64_t *kbits)
{
    /* x/ln2 + 1.5*2^52 rounds x/ln2 to an integer k held in the low bits */
    double kd = x * RP_INV_LN2 + RP_ROUND_SHIFT;
    double r, r2, P;
    *kbits = rp_bits_of(kd) << 52;
    kd -= RP_ROUND_SHIFT;
    if (single) {
        /* kd * ln2 is off by 2^-43 at most: plenty for float32 */
        r = x - kd * RP_LN2;
        *r_lo = 0.0;
        r2 = r * r;
        /* P(r) = (expm1(r) - r) / r^2, minimax in relative error on
         * [-ln2/2, ln2/2]: 2.7e-9 */
        P = (0.500000001337963 + 0.1666666653236901 * r) +
            r2 * ((0.0416664655267692 + 0.008333360713944535 * r) +
                  r2 * (0.001393359767689727 + 0.0001985779990713012 * r));
    }
    else {
        const double t = x - kd * RP_LN2_HI, lo = kd * RP_LN2_LO; /* t exact */
        double r4;
        r = t - lo;
        *r_lo = (t - r) - lo;
        /* |r| >= 2^-60 (x is 0 or larger, and no double is closer to a
         * multiple of ln2), so r^4 does not underflow */
        r2 = r * r;
        r4 = r2 * r2;
        /* the same, 2.7e-18 (degree 10), in Estrin's scheme */
        P = ((0.5 + 0.1666666666666667 * r) +
             r2 * (0.041666666666666616 + 0.008333333333326167 * r)) +
            r4 * (((0.0013888888888917957 + 0.0001984126987472102 * r) +
                   r2 * (2.4801587245744334e-05 + 2.755725551396543e-06 * r)) +
                  r4 * ((2.7557349617626856e-07 + 2.5105173733702067e-08 * r) +
                        r2 * 2.088937455430893e-09));
    }
    *r_out = r;
    return r2 * P;
}

/* exp(r) = 1 + r + r_lo + q as m + *m_lo: m rounded once, *m_lo its rounding
 * error (Fast2Sum, exact), so that m is within 0.55 ulp and m + *m_lo within
 * 2^-100. When single, 1 + (r + q) and *m_lo = 0. */
RP_INLINE double rp_exp_mantissa(double r, double r_lo, double q, int single, double *m_lo)
{
    double t, c, m;
    if (single) {
        *m_lo = 0.0;
        return 1.0 + (r + q);
    }
    t = 1.0 + r;
    c = (((1.0 - t) + r) + r_lo) + q; /* (1 - t) + r is exact */
    m = t + c;
    *m_lo = (t - m) + c;
    return m;
}

/* 2^(k + offset) from rp_exp_reduce's k << 52, for k + offset in [-1022, 1023]. */
RP_INLINE double rp_pow2(uint64_t kbits, int offset)
{
    return rp_double_of(kbits + ((uint64_t)(1023 + offset) << 52));
}

/* exp(x) for x <= 0 (x > 0 gives 1), NaN for NaN: within 0.8 ulp (float64),
 * within 1 ulp once rounded to float32; 0 below -745.2, exp(-inf) = 0. */
RP_INLINE double rp_exp_nonpositive(double x, int single)
{
    const uint64_t xb = rp_bits_of(x);
    const rp_cases c = rp_cases_of(xb, RP_TINY);
    double r, r_lo, q, m, m_lo, y;
    uint64_t kbits;
    q = rp_exp_reduce(-rp_double_of(rp_bits_of(rp_abs_capped(xb, c, 746.0, 0)) & c.negative),
                      single, &r, &r_lo, &kbits);
    m = rp_exp_mantissa(r, r_lo, q, single, &m_lo);
    /* 2^(k+64) is normal for every k here; the product is rounded once */
    y = m * rp_pow2(kbits, 64) * RP_TWO_M64;
    return rp_nan_or(xb, c, rp_double_of(rp_bits_of(y) & ~(c.inf & c.negative)));
}

/* sigmoid(x) = 1 / (1 + exp(-x)), NaN for NaN: within 1 ulp of the correctly
 * rounded value (float64), within 1 ulp once rounded to float32. sigmoid(1000)
 * is 1, raising no flag; sigmoid(-1000) is 0, an underflow as exp(-1000) is. */
RP_INLINE double rp_sigmoid(double x, int single)
{
    const uint64_t xb = rp_bits_of(x);
    const rp_cases c = rp_cases_of(xb, RP_TINY);
    /* |x| capped at 746 for x < 0 and at 40 for x >= 0, where 1/(1 + exp(-x))
     * already rounds to 1 (so exp(-|x|) never underflows there) */
    const double a = rp_abs_capped(
        xb, c, rp_double_of(rp_select(c.negative, rp_bits_of(746.0), rp_bits_of(40.0))), 0);
    double r, r_lo, q, m, m_lo, Q;
    uint64_t kbits;
    if (single) {
        /* e / (1 + e) for x < 0, 1 / (1 + e) for x >= 0, e = exp(-|x|) */
        double e;
        q = rp_exp_reduce(-a, 1, &r, &r_lo, &kbits);
        e = rp_exp_mantissa(r, r_lo, q, 1, &m_lo) * rp_pow2(kbits, 64) * RP_TWO_M64;
        Q = rp_double_of(rp_select(c.negative, rp_bits_of(e), rp_bits_of(1.0))) / (1.0 + e);
    }
    else {
        /* exp(-x) = 2^k (m + m_lo), and sigmoid(x) = A / (A + B (m + m_lo))
         * with A = 1, B = 2^k (k <= 0) for x >= 0 and A = 2^-k, B = 1 (k >= 0)
         * for x < 0. A is exact, so only the sum D and the division round,
         * and D's rounding error is known: one correction leaves the division's.
         * A is kept as 2^128 A, normal down to sigmoid(-746) and large
         * enough for the correction not to underflow while the result is
         * normal; the result is scaled back at the end. */
        uint64_t kneg;
        double A, B, Bm, a2, big, small, D, D_lo;
        q = rp_exp_reduce(rp_double_of(rp_bits_of(a) | (~c.negative & RP_SIGN_BIT)), 0, &r,
                          &r_lo, &kbits);
        m = rp_exp_mantissa(r, r_lo, q, 0, &m_lo);
        kneg = kbits & c.negative;
        A = rp_double_of(((uint64_t)(1023 + 128) << 52) - kneg);
        B = rp_pow2(kbits & ~c.negative, 0);
        Bm = B * m;
        a2 = A * RP_TWO_M128;
        /* D = big + small with |big| >= |small|, so D_lo is exact (Fast2Sum) */
        big = rp_double_of(rp_select(c.negative, rp_bits_of(Bm), rp_bits_of(1.0)));
        small = rp_double_of(rp_select(c.negative, rp_bits_of(a2), rp_bits_of(Bm)));
        D = big + small;
        D_lo = ((big - D) + small) + B * m_lo;
        /* below 2^-120 (of D), D_lo changes nothing and Q D_lo could underflow */
        D_lo = rp_double_of(rp_bits_of(D_lo) & rp_mask_above(rp_bits_of(D_lo) & ~RP_SIGN_BIT,
                                                             UINT64_C(0x3870000000000000)));
        Q = A / D;
        /* A / (D + D_lo) = Q - Q D_lo / D, and 1/D = Q / A */
        Q -= Q * (D_lo * (Q * rp_double_of(((uint64_t)(1023 - 128) << 52) + kneg)));
        Q *= RP_TWO_M128;
    }
    /* sigmoid(+inf) = 1, sigmoid(-inf) = 0 */
    Q = rp_double_of(rp_select(c.inf, rp_bits_of(1.0) & ~c.negative, rp_bits_of(Q)));
    return rp_nan_or(xb, c, Q);
}

/* tanh(x), NaN for NaN: within 2 ulp of the correctly rounded value
 * (float64), within 1 ulp once rounded to float32; tanh(+-0) = +-0,
 * tanh(tiny) = tiny exactly, tanh(+-inf) = +-1. */
RP_INLINE double rp_tanh(double x, int single)
{
    const uint64_t xb = rp_bits_of(x);
    const rp_cases c = rp_cases_of(xb, RP_TINY_TANH);
    const double a = rp_abs_capped(xb, c, 20.0, 1); /* tanh(20) rounds to 1 */
    double r, r_lo, q, s, sp, t;
    uint64_t kbits;
    q = rp_exp_reduce(-2.0 * a, single, &r, &r_lo, &kbits);
    s = rp_pow2(kbits, 0); /* 2^k, k in [-58, 0] */
    sp = s * (r + q);
    /* (1 - e) / (1 + e), e = exp(-2|x|) = s + s*p: 1 - s and 1 + s are
     * exact, so each side is rounded once and 1 - e loses nothing */
    t = ((1.0 - s) - sp) / ((1.0 + s) + sp);
    /* x itself for NaN, and for |x| < 2^-27 where tanh(x) rounds to x */
    return rp_double_of(rp_select(c.nan | c.tiny, xb, rp_bits_of(t) | (xb & RP_SIGN_BIT)));
}

/* c * e / (1 + e)^2 with e = exp(-a), for a in [0, 748] and c = 1 or 4:
 * the derivative of sigmoid at +-a (c = 1) and of tanh at +-a/2 (c = 4). */
RP_INLINE double rp_exp_bell(double a, double c, int single)
{
    double r, r_lo, q, m, m_lo, scale, e, et, G, Q;
    uint64_t kbits;
    q = rp_exp_reduce(-a, single, &r, &r_lo, &kbits);
    m = rp_exp_mantissa(r, r_lo, q, single, &m_lo);
    if (single) {
        et = m * rp_pow2(kbits, 64) * RP_TWO_M64;
        /* (1 + e)^2 as 1 + e*(2 + e); c * e rounded once (on the last
         * scaling a later * c would not be exact for a subnormal) */
        return m * rp_pow2(kbits, 64) * (c * RP_TWO_M64) / (1.0 + et * (2.0 + et));
    }
    /* e * 2^128: normal, and large enough for the corrections below not to
     * underflow while the result is normal */
    scale = rp_pow2(kbits, 128);
    e = m * scale;
    {
        /* Beyond a = 41, e < 2^-59 and (1 + e)^2 is 1 to the ulp: the
         * products of e with itself that could underflow are masked off. */
        const uint64_t near = rp_mask_above(rp_bits_of(41.0), rp_bits_of(a));
        const double en = rp_double_of(rp_bits_of(e) & near) * RP_TWO_M128;
        const double twice = en + en, square = en * en;
        /* G = (1 + 2e) + e^2 by two Fast2Sums: G + G_lo = (1 + e)^2 up to
         * the rounding of e^2, and of e, added in through m_lo */
        const double G1 = 1.0 + twice;
        const double eln = rp_double_of(rp_bits_of(m_lo * scale) & near) * RP_TWO_M128;
        double G_lo, y;
        G = G1 + square;
        Q = c * e / G; /* c e / G, times 2^128 */
        G_lo = (((1.0 - G1) + twice) + ((G1 - G) + square)) + (eln + eln) * (1.0 + en);
        /* 1/G to float precision is all the correction needs */
        y = (double)(1.0f / (float)G);
        /* c (e + e_lo) / (G + G_lo) = Q + (c e_lo - Q G_lo) / G */
        Q += (c * (m_lo * scale) - Q * G_lo) * y;
    }
    return Q * RP_TWO_M128;
}

/* sigmoid'(x) = sigmoid(x) * (1 - sigmoid(x)) = e / (1 + e)^2, e = exp(-|x|),
 * NaN for NaN: within 1 ulp of the correctly rounded value (float64), and
 * once rounded to float32; 0 where that underflows (|x| > 745). */
RP_INLINE double rp_sigmoid_prime(double x, int single)
{
    const uint64_t xb = rp_bits_of(x);
    const rp_cases c = rp_cases_of(xb, RP_TINY);
    const double y = rp_exp_bell(rp_abs_capped(xb, c, 746.0, 0), 1.0, single);
    return rp_nan_or(xb, c, rp_double_of(rp_bits_of(y) & ~c.inf));
}

/* tanh'(x) = 1 - tanh(x)^2 = 4e / (1 + e)^2, e = exp(-2|x|), NaN for NaN:
 * within 1 ulp of the correctly rounded value (float64), and once rounded
 * to float32. */
RP_INLINE double rp_tanh_prime(double x, int single)
{
    const uint64_t xb = rp_bits_of(x);
    const rp_cases c = rp_cases_of(xb, RP_TINY);
    const double y = rp_exp_bell(2.0 * rp_abs_capped(xb, c, 374.0, 0), 4.0, single);
    return rp_nan_or(xb, c, rp_double_of(rp_bits_of(y) & ~c.inf));
}

#endif /* RP_MATH_H */
