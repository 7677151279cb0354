/*
 * rp_vec2.h - two doubles operated on together: one SSE2 register where
 * the target has SSE2 (every x86-64 compiler: gcc, clang, MSVC), else a pair
 * in plain C99. Each operation is the IEEE one on each lane, so both give
 * the same bits (loads and stores of float convert exactly, or round to
 * nearest as a C cast does). Used by the small-network trainer
 * (rp_net_small_impl.h), whose vectors are a few samples long. Pure C99,
 * no Python.
 */
#ifndef RP_VEC2_H
#define RP_VEC2_H

#if defined(_MSC_VER) && !defined(__clang__)
#define RP_VEC2_INLINE static __inline
#else
#define RP_VEC2_INLINE static inline
#endif

#if (defined(__SSE2__) || defined(_M_X64) || defined(_M_AMD64) ||                         \
     (defined(_M_IX86_FP) && _M_IX86_FP >= 2)) &&                                           \
    !defined(RP_NO_SIMD_DISPATCH)
#include <emmintrin.h>

typedef __m128d rp_d2;

RP_VEC2_INLINE rp_d2 rp_d2_zero(void) { return _mm_setzero_pd(); }
RP_VEC2_INLINE rp_d2 rp_d2_set1(double x) { return _mm_set1_pd(x); }
RP_VEC2_INLINE rp_d2 rp_d2_add(rp_d2 a, rp_d2 b) { return _mm_add_pd(a, b); }
RP_VEC2_INLINE rp_d2 rp_d2_mul(rp_d2 a, rp_d2 b) { return _mm_mul_pd(a, b); }
RP_VEC2_INLINE double rp_d2_lo(rp_d2 a) { return _mm_cvtsd_f64(a); }
RP_VEC2_INLINE double rp_d2_hi(rp_d2 a) { return _mm_cvtsd_f64(_mm_unpackhi_pd(a, a)); }
/* p[0], p[1] */
RP_VEC2_INLINE rp_d2 rp_d2_load_f64(const double *p) { return _mm_loadu_pd(p); }
RP_VEC2_INLINE rp_d2 rp_d2_load_f32(const float *p)
{
    return _mm_cvtps_pd(_mm_castsi128_ps(_mm_loadl_epi64((const __m128i *)(const void *)p)));
}
RP_VEC2_INLINE void rp_d2_store_f64(double *p, rp_d2 a) { _mm_storeu_pd(p, a); }
RP_VEC2_INLINE void rp_d2_store_f32(float *p, rp_d2 a)
{
    _mm_storel_epi64((__m128i *)(void *)p, _mm_castps_si128(_mm_cvtpd_ps(a)));
}

#else

typedef struct {
    double lo, hi;
} rp_d2;

RP_VEC2_INLINE rp_d2 rp_d2_make(double lo, double hi)
{
    rp_d2 r;
    r.lo = lo;
    r.hi = hi;
    return r;
}
RP_VEC2_INLINE rp_d2 rp_d2_zero(void) { return rp_d2_make(0.0, 0.0); }
RP_VEC2_INLINE rp_d2 rp_d2_set1(double x) { return rp_d2_make(x, x); }
RP_VEC2_INLINE rp_d2 rp_d2_add(rp_d2 a, rp_d2 b) { return rp_d2_make(a.lo + b.lo, a.hi + b.hi); }
RP_VEC2_INLINE rp_d2 rp_d2_mul(rp_d2 a, rp_d2 b) { return rp_d2_make(a.lo * b.lo, a.hi * b.hi); }
RP_VEC2_INLINE double rp_d2_lo(rp_d2 a) { return a.lo; }
RP_VEC2_INLINE double rp_d2_hi(rp_d2 a) { return a.hi; }
RP_VEC2_INLINE rp_d2 rp_d2_load_f64(const double *p) { return rp_d2_make(p[0], p[1]); }
RP_VEC2_INLINE rp_d2 rp_d2_load_f32(const float *p)
{
    return rp_d2_make((double)p[0], (double)p[1]);
}
RP_VEC2_INLINE void rp_d2_store_f64(double *p, rp_d2 a)
{
    p[0] = a.lo;
    p[1] = a.hi;
}
RP_VEC2_INLINE void rp_d2_store_f32(float *p, rp_d2 a)
{
    p[0] = (float)a.lo;
    p[1] = (float)a.hi;
}

#endif

#endif /* RP_VEC2_H */
