/*
 * rp_kernels_impl.h - the body of every kernel, written once for a generic
 * element type and included twice by rp_kernels.c:
 *   RP_T      the element type (float or double)
 *   RP_NAME   pastes the dtype suffix: RP_NAME(rp_gemm) -> rp_gemm_f64
 *   RP_SINGLE 1 for float, 0 for double: the accuracy rp_math.h aims at
 * Products, sums and the elementwise maths accumulate in double and round once
 * to RP_T on store. Two steps are done in RP_T on purpose, as NumPy does them:
 * the bias add (Z = X @ W + b rounds the product, then adds b in RP_T) and
 * the SGD step (lr is rounded to RP_T and lr * grad computed in RP_T).
 * No include guard: this file is meant to be included more than once.
 */

#define RP_AT(p, i, s) (*(const RP_T *)((p) + (i) * (s)))
#define RP_SET(p, i, s) (*(RP_T *)((p) + (i) * (s)))
#define RP_AT2(v, i, j) (*(const RP_T *)((v).data + (i) * (v).s0 + (j) * (v).s1))
#define RP_SET2(v, i, j) (*(RP_T *)((v).data + (i) * (v).s0 + (j) * (v).s1))

/* One strided loop per unary function: y[i] = f(x[i]). */
#define RP_UNARY_LOOP(name, fn)                                                   \
    void RP_NAME(rp_##name)(rp_index n, const char *x, rp_index xs, char *y,      \
                            rp_index ys)                                          \
    {                                                                             \
        rp_index i;                                                               \
        for (i = 0; i < n; i++) {                                                 \
            RP_SET(y, i, ys) = (RP_T)fn((double)RP_AT(x, i, xs));                 \
        }                                                                         \
    }

/* v[j] = x[j] as doubles for j < m, and back: the gather and scatter
 * around a block loop; contiguous arrays get loops the compiler vectorises. */
static void RP_NAME(rp_gather)(double *v, rp_index m, const char *x, rp_index xs)
{
    rp_index j;
    if (xs == (rp_index)sizeof(RP_T)) {
        const RP_T *xc = (const RP_T *)x;
        for (j = 0; j < m; j++) {
            v[j] = (double)xc[j];
        }
    }
    else {
        for (j = 0; j < m; j++) {
            v[j] = (double)RP_AT(x, j, xs);
        }
    }
}

static void RP_NAME(rp_scatter)(char *y, rp_index ys, const double *v, rp_index m)
{
    rp_index j;
    if (ys == (rp_index)sizeof(RP_T)) {
        RP_T *yc = (RP_T *)y;
        for (j = 0; j < m; j++) {
            yc[j] = (RP_T)v[j];
        }
    }
    else {
        for (j = 0; j < m; j++) {
            RP_SET(y, j, ys) = (RP_T)v[j];
        }
    }
}

/* y[i] = f(x[i]) for the functions of rp_math.h: each block of x is gathered
 * into doubles, run through the active block loop, and stored as RP_T. */
#define RP_MATH_LOOP(name, fn)                                                    \
    void RP_NAME(rp_##name)(rp_index n, const char *x, rp_index xs, char *y,      \
                            rp_index ys)                                          \
    {                                                                             \
        const rp_block_fn f = rp_block(fn, RP_SINGLE);                            \
        double buf[RP_BLOCK];                                                     \
        rp_index i, m;                                                            \
        for (i = 0; i < n; i += m) {                                              \
            m = n - i < RP_BLOCK ? n - i : RP_BLOCK;                              \
            RP_NAME(rp_gather)(buf, m, x + i * xs, xs);                           \
            f(buf, m);                                                            \
            RP_NAME(rp_scatter)(y + i * ys, ys, buf, m);                          \
        }                                                                         \
    }

RP_MATH_LOOP(sigmoid, RP_MATH_SIGMOID)
RP_MATH_LOOP(sigmoid_prime, RP_MATH_SIGMOID_PRIME)
RP_UNARY_LOOP(sigmoid_prime_from_activation, rp_sigmoid_prime_from_activation_scalar)
RP_MATH_LOOP(tanh, RP_MATH_TANH)
RP_MATH_LOOP(tanh_prime, RP_MATH_TANH_PRIME)
RP_UNARY_LOOP(tanh_prime_from_activation, rp_tanh_prime_from_activation_scalar)
RP_UNARY_LOOP(relu, rp_relu_scalar)
RP_UNARY_LOOP(relu_prime, rp_step_scalar)
RP_UNARY_LOOP(relu_prime_from_activation, rp_relu_prime_from_activation_scalar)
RP_UNARY_LOOP(identity, rp_identity_scalar)
RP_UNARY_LOOP(identity_prime, rp_one_scalar)
RP_UNARY_LOOP(identity_prime_from_activation, rp_identity_prime_from_activation_scalar)

/* out[i] = f(a[i], y[i]) */
#define RP_BINARY_LOOP(name, fn)                                                  \
    void RP_NAME(rp_##name)(rp_index n, const char *a, rp_index as,               \
                            const char *y, rp_index ys, char *out, rp_index os)   \
    {                                                                             \
        rp_index i;                                                               \
        for (i = 0; i < n; i++) {                                                 \
            RP_SET(out, i, os) =                                                  \
                (RP_T)fn((double)RP_AT(a, i, as), (double)RP_AT(y, i, ys));       \
        }                                                                         \
    }

RP_BINARY_LOOP(sigmoid_bce_delta, rp_difference_scalar)
RP_BINARY_LOOP(sigmoid_squared_error_delta, rp_sigmoid_squared_error_delta_scalar)

/* C *= alpha, after a large product: each element rounded once to RP_T. */
static void RP_NAME(rp_scale_product)(double alpha, rp_view C)
{
    rp_index i, j;
    if (C.s1 == (rp_index)sizeof(RP_T)) {
        /* contiguous rows: a loop the compiler vectorises */
        for (i = 0; i < C.rows; i++) {
            RP_T *c = (RP_T *)(C.data + i * C.s0);
            for (j = 0; j < C.cols; j++) {
                c[j] = (RP_T)(alpha * (double)c[j]);
            }
        }
        return;
    }
    for (i = 0; i < C.rows; i++) {
        for (j = 0; j < C.cols; j++) {
            RP_SET2(C, i, j) = (RP_T)(alpha * (double)RP_AT2(C, i, j));
        }
    }
}

/* C[i,j] = alpha * sum_p A[i,p] * B[p,j]. Small products, and those whose
 * strides BLAS cannot take, are summed here in order p = 0..k-1.
 * Four columns at a time: four independent sums hide the add latency
 * without changing the order of any one sum. */
void RP_NAME(rp_gemm)(double alpha, rp_cview A, rp_cview B, rp_view C)
{
    rp_index i, j, p;
    /* large products go to the registered routine (NumPy's matmul loop,
     * which calls NumPy's BLAS) when it takes their strides; it computes
     * A @ B and alpha scales the result, as alpha * (A @ B) reads */
    if (RP_NAME(rp_large_gemm) != NULL &&
        !(C.rows <= RP_SMALL_GEMM_WORK && C.cols <= RP_SMALL_GEMM_WORK &&
          A.cols <= RP_SMALL_GEMM_WORK && C.rows * C.cols <= RP_SMALL_GEMM_WORK &&
          C.rows * C.cols * A.cols <= RP_SMALL_GEMM_WORK) &&
        RP_NAME(rp_large_gemm)(A, B, C)) {
        if (alpha != 1.0) {
            RP_NAME(rp_scale_product)(alpha, C);
        }
        return;
    }
    if (B.s1 == (rp_index)sizeof(RP_T) && C.cols >= RP_GEMM_WIDE) {
        /* B's rows are contiguous and long: run along them
         * (C[i,:] += A[i,p] * B[p,:]), a loop the compiler vectorises; each
         * sum keeps its order. Narrow products keep the sums in registers. */
        double acc[RP_GEMM_CHUNK];
        for (i = 0; i < C.rows; i++) {
            const char *arow = A.data + i * A.s0;
            rp_index j0;
            for (j0 = 0; j0 < C.cols; j0 += RP_GEMM_CHUNK) {
                const rp_index width = C.cols - j0 < RP_GEMM_CHUNK ? C.cols - j0 : RP_GEMM_CHUNK;
                for (j = 0; j < width; j++) {
                    acc[j] = 0.0;
                }
                for (p = 0; p < A.cols; p++) {
                    const double a = (double)RP_AT(arow, p, A.s1);
                    const RP_T *brow = (const RP_T *)(B.data + p * B.s0) + j0;
                    for (j = 0; j < width; j++) {
                        acc[j] += a * (double)brow[j];
                    }
                }
                for (j = 0; j < width; j++) {
                    RP_SET2(C, i, j0 + j) = (RP_T)(alpha * acc[j]);
                }
            }
        }
        return;
    }
    for (i = 0; i < C.rows; i++) {
        const char *arow = A.data + i * A.s0;
        char *crow = C.data + i * C.s0;
        for (j = 0; j + 4 <= C.cols; j += 4) {
            const rp_index b1 = B.s1, b2 = 2 * B.s1, b3 = 3 * B.s1;
            const char *ap = arow, *bp = B.data + j * B.s1;
            double acc0 = 0.0, acc1 = 0.0, acc2 = 0.0, acc3 = 0.0;
            for (p = 0; p < A.cols; p++, ap += A.s1, bp += B.s0) {
                const double a = (double)*(const RP_T *)ap;
                acc0 += a * (double)*(const RP_T *)bp;
                acc1 += a * (double)*(const RP_T *)(bp + b1);
                acc2 += a * (double)*(const RP_T *)(bp + b2);
                acc3 += a * (double)*(const RP_T *)(bp + b3);
            }
            RP_SET(crow, j, C.s1) = (RP_T)(alpha * acc0);
            RP_SET(crow, j + 1, C.s1) = (RP_T)(alpha * acc1);
            RP_SET(crow, j + 2, C.s1) = (RP_T)(alpha * acc2);
            RP_SET(crow, j + 3, C.s1) = (RP_T)(alpha * acc3);
        }
    }
    /* the columns left over (all of them when C is narrower than 4, as a
     * matrix-vector product is): four rows at a time share each load of B */
    for (j = C.cols - C.cols % 4; j < C.cols; j++) {
        for (i = 0; i + 4 <= C.rows; i += 4) {
            const char *ap = A.data + i * A.s0, *bp = B.data + j * B.s1;
            const rp_index a1 = A.s0, a2 = 2 * A.s0, a3 = 3 * A.s0;
            double acc0 = 0.0, acc1 = 0.0, acc2 = 0.0, acc3 = 0.0;
            for (p = 0; p < A.cols; p++, ap += A.s1, bp += B.s0) {
                const double b = (double)*(const RP_T *)bp;
                acc0 += (double)*(const RP_T *)ap * b;
                acc1 += (double)*(const RP_T *)(ap + a1) * b;
                acc2 += (double)*(const RP_T *)(ap + a2) * b;
                acc3 += (double)*(const RP_T *)(ap + a3) * b;
            }
            RP_SET2(C, i, j) = (RP_T)(alpha * acc0);
            RP_SET2(C, i + 1, j) = (RP_T)(alpha * acc1);
            RP_SET2(C, i + 2, j) = (RP_T)(alpha * acc2);
            RP_SET2(C, i + 3, j) = (RP_T)(alpha * acc3);
        }
        for (; i < C.rows; i++) {
            const char *ap = A.data + i * A.s0, *bp = B.data + j * B.s1;
            double acc = 0.0;
            for (p = 0; p < A.cols; p++, ap += A.s1, bp += B.s0) {
                acc += (double)*(const RP_T *)ap * (double)*(const RP_T *)bp;
            }
            RP_SET2(C, i, j) = (RP_T)(alpha * acc);
        }
    }
}

/* a = exp(z - max(z)) / sum(exp(z - max(z))) over one row; a may be z. */
static void RP_NAME(rp_softmax_row)(rp_index n, const char *z, rp_index zs, char *a, rp_index as)
{
    const rp_block_fn f = rp_block(RP_MATH_EXP, RP_SINGLE);
    double buf[RP_BLOCK];
    rp_index j, j0, m;
    double top, total = 0.0;
    if (n == 0) {
        return;
    }
    top = (double)RP_AT(z, 0, zs);
    for (j = 1; j < n; j++) {
        const double v = (double)RP_AT(z, j, zs);
        top = isgreater(v, top) ? v : top;
    }
    for (j0 = 0; j0 < n; j0 += m) {
        m = n - j0 < RP_BLOCK ? n - j0 : RP_BLOCK;
        RP_NAME(rp_gather)(buf, m, z + j0 * zs, zs);
        for (j = 0; j < m; j++) {
            buf[j] -= top;
        }
        f(buf, m);
        for (j = 0; j < m; j++) {
            const RP_T e = (RP_T)buf[j];
            RP_SET(a, j0 + j, as) = e;
            total += (double)e;
        }
    }
    for (j = 0; j < n; j++) {
        RP_SET(a, j, as) = (RP_T)((double)RP_AT(a, j, as) / total);
    }
}

/* softmax of every row of Z into A (A may be Z). */
void RP_NAME(rp_softmax)(rp_cview Z, rp_view A)
{
    rp_index i;
    for (i = 0; i < Z.rows; i++) {
        RP_NAME(rp_softmax_row)(Z.cols, Z.data + i * Z.s0, Z.s1, A.data + i * A.s0, A.s1);
    }
}

/* D[i,j] = A[i,j] - Y[i,j] */
void RP_NAME(rp_difference)(rp_cview A, rp_cview Y, rp_view D)
{
    rp_index i, j;
    for (i = 0; i < D.rows; i++) {
        for (j = 0; j < D.cols; j++) {
            RP_SET2(D, i, j) = (RP_T)((double)RP_AT2(A, i, j) - (double)RP_AT2(Y, i, j));
        }
    }
}

/* D[i,j] = A[i,j] - (j == labels[i]) */
void RP_NAME(rp_difference_labels)(rp_cview A, const char *labels, rp_index ls, rp_view D)
{
    rp_index i, j;
    for (i = 0; i < D.rows; i++) {
        const rp_index label = *(const rp_index *)(labels + i * ls);
        for (j = 0; j < D.cols; j++) {
            RP_SET2(D, i, j) = (RP_T)((double)RP_AT2(A, i, j) - (j == label ? 1.0 : 0.0));
        }
    }
}

/* z[j] += b[j] (if b is not NULL), then a[j] = f(z[j]) for one of the
 * functions of rp_math.h, in one pass over each block; a may be z. */
static void RP_NAME(rp_bias_math_row)(int fn, rp_index n, char *z, rp_index zs, const char *b,
                                      rp_index bs, char *a, rp_index as)
{
    const rp_block_fn f = rp_block(fn, RP_SINGLE);
    double buf[RP_BLOCK];
    rp_index j, j0, m;
    for (j0 = 0; j0 < n; j0 += m) {
        char *zb = z + j0 * zs;
        m = n - j0 < RP_BLOCK ? n - j0 : RP_BLOCK;
        if (b != NULL) {
            const char *bb = b + j0 * bs;
            if (zs == (rp_index)sizeof(RP_T) && bs == (rp_index)sizeof(RP_T)) {
                RP_T *zc = (RP_T *)zb;
                const RP_T *bc = (const RP_T *)bb;
                for (j = 0; j < m; j++) {
                    zc[j] = zc[j] + bc[j];
                    buf[j] = (double)zc[j];
                }
            }
            else {
                for (j = 0; j < m; j++) {
                    const RP_T v = RP_AT(zb, j, zs) + RP_AT(bb, j, bs);
                    RP_SET(zb, j, zs) = v;
                    buf[j] = (double)v;
                }
            }
        }
        else {
            RP_NAME(rp_gather)(buf, m, zb, zs);
        }
        f(buf, m);
        RP_NAME(rp_scatter)(a + j0 * as, as, buf, m);
    }
}

/* Z[i,j] += bias[i,j] (broadcast by zero strides), then A[i,j] = act(Z[i,j]);
 * the bias is added in RP_T, as NumPy's X @ W + b does. */
void RP_NAME(rp_bias_activate)(rp_view Z, rp_cview bias, rp_activation act, rp_view A)
{
    const rp_index item = (rp_index)sizeof(RP_T);
    rp_index i, j;
    if (act != RP_ACT_SOFTMAX && Z.rows > 1 && Z.s1 == item && Z.s0 == Z.cols * item &&
        A.s1 == item && A.s0 == A.cols * item) {
        /* contiguous Z and A: the bias row by row, then the activation over
         * the whole of Z as one row (one call, not one per sample) */
        rp_view flat = Z, aflat = A;
        rp_cview none = bias;
        for (i = 0; bias.data != NULL && i < Z.rows; i++) {
            RP_T *z = (RP_T *)(Z.data + i * Z.s0);
            const char *brow = bias.data + i * bias.s0;
            for (j = 0; j < Z.cols; j++) {
                z[j] = z[j] + RP_AT(brow, j, bias.s1);
            }
        }
        flat.cols = aflat.cols = Z.rows * Z.cols;
        flat.rows = aflat.rows = 1;
        flat.s0 = aflat.s0 = flat.cols * item;
        none.data = NULL;
        RP_NAME(rp_bias_activate)(flat, none, act, aflat);
        return;
    }
    for (i = 0; i < Z.rows; i++) {
        char *zrow = Z.data + i * Z.s0;
        char *arow = A.data + i * A.s0;
        if (act == RP_ACT_SIGMOID || act == RP_ACT_TANH) {
            /* the bias and the activation in one pass */
            RP_NAME(rp_bias_math_row)(act == RP_ACT_SIGMOID ? RP_MATH_SIGMOID : RP_MATH_TANH,
                                      Z.cols, zrow, Z.s1,
                                      bias.data != NULL ? bias.data + i * bias.s0 : NULL,
                                      bias.s1, arow, A.s1);
            continue;
        }
        if (bias.data != NULL) {
            const char *brow = bias.data + i * bias.s0;
            for (j = 0; j < Z.cols; j++) {
                RP_SET(zrow, j, Z.s1) = RP_AT(zrow, j, Z.s1) + RP_AT(brow, j, bias.s1);
            }
        }
        switch (act) {
        case RP_ACT_SIGMOID: /* done above */
        case RP_ACT_TANH:
            break;
        case RP_ACT_RELU:
            RP_NAME(rp_relu)(Z.cols, zrow, Z.s1, arow, A.s1);
            break;
        case RP_ACT_IDENTITY:
            RP_NAME(rp_identity)(Z.cols, zrow, Z.s1, arow, A.s1);
            break;
        case RP_ACT_SOFTMAX:
            RP_NAME(rp_softmax_row)(Z.cols, zrow, Z.s1, arow, A.s1);
            break;
        }
    }
}

/* Pairwise sum of x[0..n) (strided): error grows as log(n), not n. */
static double RP_NAME(rp_pairwise_sum)(const char *x, rp_index xs, rp_index n)
{
    if (n <= RP_PAIRWISE_BLOCK) {
        double s = 0.0;
        rp_index i;
        for (i = 0; i < n; i++) {
            s += (double)RP_AT(x, i, xs);
        }
        return s;
    }
    else {
        rp_index half = n / 2;
        return RP_NAME(rp_pairwise_sum)(x, xs, half) +
               RP_NAME(rp_pairwise_sum)(x + half * xs, xs, n - half);
    }
}

/* out[j] = scale * sum_i M[i,j], each column summed pairwise. */
void RP_NAME(rp_colsum)(double scale, rp_cview M, char *out, rp_index os)
{
    rp_index j;
    for (j = 0; j < M.cols; j++) {
        double s = RP_NAME(rp_pairwise_sum)(M.data + j * M.s1, M.s0, M.rows);
        RP_SET(out, j, os) = (RP_T)(scale * s);
    }
}

/* Pairwise sum of rp_loss_term over a row segment of (a, y). */
static double RP_NAME(rp_loss_sum_row)(rp_loss loss, const char *a, rp_index as, const char *y,
                                       rp_index ys, rp_index n, double eps)
{
    if (n <= RP_PAIRWISE_BLOCK) {
        double s = 0.0;
        rp_index i;
        for (i = 0; i < n; i++) {
            s += rp_loss_term(loss, (double)RP_AT(a, i, as), (double)RP_AT(y, i, ys), eps);
        }
        return s;
    }
    else {
        rp_index half = n / 2;
        return RP_NAME(rp_loss_sum_row)(loss, a, as, y, ys, half, eps) +
               RP_NAME(rp_loss_sum_row)(loss, a + half * as, as, y + half * ys, ys, n - half,
                                        eps);
    }
}

/* sum over every entry of rp_loss_term: the rows split in halves, each row pairwise */
double RP_NAME(rp_loss_sum)(rp_loss loss, rp_cview A, rp_cview Y, double eps)
{
    if (A.rows == 0) {
        return 0.0;
    }
    if (A.rows == 1) {
        return RP_NAME(rp_loss_sum_row)(loss, A.data, A.s1, Y.data, Y.s1, A.cols, eps);
    }
    else {
        rp_cview A2 = A, Y2 = Y;
        rp_index half = A.rows / 2;
        A.rows = Y.rows = half;
        A2.rows = Y2.rows = A2.rows - half;
        A2.data += half * A.s0;
        Y2.data += half * Y.s0;
        return RP_NAME(rp_loss_sum)(loss, A, Y, eps) + RP_NAME(rp_loss_sum)(loss, A2, Y2, eps);
    }
}

/* -sum_i log(A[i, labels[i]] + eps), the rows summed pairwise */
double RP_NAME(rp_cross_entropy_labels)(rp_cview A, const char *labels, rp_index ls, double eps)
{
    if (A.rows <= RP_PAIRWISE_BLOCK) {
        double s = 0.0;
        rp_index i;
        for (i = 0; i < A.rows; i++) {
            const rp_index label = *(const rp_index *)(labels + i * ls);
            s += rp_loss_term(RP_LOSS_CE, (double)RP_AT2(A, i, label), 1.0, eps);
        }
        return s;
    }
    else {
        rp_cview A2 = A;
        rp_index half = A.rows / 2;
        A.rows = half;
        A2.rows -= half;
        A2.data += half * A.s0;
        return RP_NAME(rp_cross_entropy_labels)(A, labels, ls, eps) +
               RP_NAME(rp_cross_entropy_labels)(A2, labels + half * ls, ls, eps);
    }
}

/* P[i,j] -= lr * G[i,j], in RP_T arithmetic as NumPy's `P -= lr * G` is. */
void RP_NAME(rp_sgd_update)(double lr, rp_view P, rp_cview G)
{
    const RP_T rate = (RP_T)lr;
    rp_index i, j;
    for (i = 0; i < P.rows; i++) {
        for (j = 0; j < P.cols; j++) {
            RP_T step = rate * RP_AT2(G, i, j);
            RP_SET2(P, i, j) = RP_AT2(P, i, j) - step;
        }
    }
}

#undef RP_AT
#undef RP_SET
#undef RP_AT2
#undef RP_SET2
#undef RP_UNARY_LOOP
#undef RP_MATH_LOOP
#undef RP_BINARY_LOOP
