/*
 * rp_net_small_impl.h - the trainer's path for small networks, for one
 * element type (RP_T, RP_NAME, RP_IS_F32), included by rp_net_impl.h before
 * its fit loop. No include guard.
 *
 * rp_net_small_fits (rp_net.c) chooses it once per fit. Its activations and
 * deltas are kept transposed, one contiguous row of the batch's samples per
 * unit, and its step is compiled once for each batch size up to
 * RP_SMALL_CASES_MAX: every loop over the samples then has a constant
 * length, the sums over them stay in registers, and the products reduce to
 * a few multiply-adds on short vectors. Each gradient is subtracted from its
 * weight as soon as it is summed (no gradient buffers, no update pass); the
 * switches on the loss and on the activations sit outside the loops. The
 * parameters are the network's own arrays, read through their strides.
 *
 * Every number is the general path's (rp_net_impl.h), bit for bit: the same
 * sums in the same order (over p = 0..k-1 as rp_gemm's own loop sums, which
 * every product of a small fit runs in; the bias gradients as rp_colsum;
 * the loss sample by sample), the same roundings to RP_T, the same
 * activation kernels and the same loss and derivative formulas (loss_delta,
 * prime_from_activation). tests/test_small_path.py runs both paths on the
 * same problems and compares the bits.
 */

/* The scratch memory of a small fit; the parameters are read in place. */
typedef struct {
    RP_T *W[RP_SMALL_LAYERS], *b[RP_SMALL_LAYERS];    /* W(p, j) = W[p*w0 + j*w1] */
    rp_index w0[RP_SMALL_LAYERS], w1[RP_SMALL_LAYERS], bs[RP_SMALL_LAYERS];
    RP_T *A[RP_SMALL_LAYERS], *D[RP_SMALL_LAYERS];    /* (out, batch): unit j's row */
    RP_T *Dr[RP_SMALL_LAYERS];                         /* D again as (batch, out) */
    double *acc;                                       /* one row of sums, for float32 */
    const RP_T *XT, *YT;                               /* X.T, Y.T: (in, n), (out, n) */
    rp_index xs, ys;                                   /* their row strides (elements) */
    RP_T *Xb, *Yb;                                     /* a shuffled batch, transposed */
    void *block;
} RP_NAME(rp_small);

/* s / sizeof(RP_T) into *e when s is a multiple of it (0 else). */
static int RP_NAME(small_stride)(rp_index s, rp_index *e)
{
    *e = s / (rp_index)sizeof(RP_T);
    return s % (rp_index)sizeof(RP_T) == 0;
}

/* The buffers of a small fit; X.T and Y.T packed unless the caller's arrays
 * already hold each unit's samples contiguously (the columns layout).
 * Returns 1, 0 when out of memory, -1 when a stride is not a whole number
 * of elements (the general path then takes the fit). */
static int RP_NAME(small_new)(const rp_net *net, rp_cview X, rp_cview Y, rp_index batch,
                              int shuffle, RP_NAME(rp_small) *s)
{
    const int L = net->nlayers;
    const rp_index item = (rp_index)sizeof(RP_T);
    const rp_index n = X.rows;
    int pack_x, pack_y;
    rp_index xs = 0, ys = 0;
    size_t count = 0, at = 0;
    RP_T *base;
    int l;
    memset(s, 0, sizeof(*s));
    for (l = 0; l < L; l++) {
        const rp_index out = net->sizes[l + 1];
        if (!RP_NAME(small_stride)(net->W[l].s0, &s->w0[l]) ||
            !RP_NAME(small_stride)(net->W[l].s1, &s->w1[l]) ||
            !RP_NAME(small_stride)(net->b[l].s1, &s->bs[l])) {
            return -1;
        }
        s->W[l] = (RP_T *)net->W[l].data;
        s->b[l] = (RP_T *)net->b[l].data;
        count += 3 * (size_t)(batch * out);
    }
    /* X.T's rows are X's columns: contiguous when X's samples are */
    pack_x = shuffle || !(n == 1 || X.s0 == item) || !RP_NAME(small_stride)(X.s1, &xs);
    pack_y = shuffle || !(n == 1 || Y.s0 == item) || !RP_NAME(small_stride)(Y.s1, &ys);
    count += (size_t)batch;
    count += pack_x ? (size_t)((shuffle ? batch : n) * X.cols) : 0;
    count += pack_y ? (size_t)((shuffle ? batch : n) * Y.cols) : 0;
    base = (RP_T *)malloc((count > 0 ? count : 1) * sizeof(RP_T) + (size_t)batch * sizeof(double));
    if (base == NULL) {
        return 0;
    }
    s->block = base;
    s->acc = (double *)base; /* first, for its alignment */
    at = (size_t)batch * sizeof(double) / sizeof(RP_T);
    for (l = 0; l < L; l++) {
        const rp_index out = net->sizes[l + 1];
        s->A[l] = base + at;
        at += (size_t)(batch * out);
        s->D[l] = base + at;
        at += (size_t)(batch * out);
        s->Dr[l] = base + at;
        at += (size_t)(batch * out);
    }
    s->XT = (const RP_T *)X.data;
    s->xs = xs;
    s->YT = (const RP_T *)Y.data;
    s->ys = ys;
    if (pack_x) {
        RP_T *into = base + at;
        at += (size_t)((shuffle ? batch : n) * X.cols);
        if (shuffle) {
            s->Xb = into;
        }
        else {
            rp_index i, p;
            for (p = 0; p < X.cols; p++) {
                for (i = 0; i < n; i++) {
                    into[p * n + i] = *(const RP_T *)(X.data + i * X.s0 + p * X.s1);
                }
            }
            s->XT = into;
            s->xs = n;
        }
    }
    if (pack_y) {
        RP_T *into = base + at;
        if (shuffle) {
            s->Yb = into;
        }
        else {
            rp_index i, j;
            for (j = 0; j < Y.cols; j++) {
                for (i = 0; i < n; i++) {
                    into[j * n + i] = *(const RP_T *)(Y.data + i * Y.s0 + j * Y.s1);
                }
            }
            s->YT = into;
            s->ys = n;
        }
    }
    return 1;
}

static void RP_NAME(small_free)(RP_NAME(rp_small) *s) { free(s->block); }

/* Rows perm[start .. start+nb) of M, transposed, into the (cols, nb) buffer T. */
static void RP_NAME(small_gather)(rp_cview M, const rp_index *perm, rp_index start,
                                  rp_index nb, RP_T *T)
{
    rp_index i, j;
    for (i = 0; i < nb; i++) {
        const char *row = M.data + perm[start + i] * M.s0;
        for (j = 0; j < M.cols; j++) {
            T[j * nb + i] = *(const RP_T *)(row + j * M.s1);
        }
    }
}

/* A = act(A) over n contiguous elements, with the kernels rp_bias_activate
 * runs (rp_activation_block for sigmoid and tanh, on doubles), called once
 * for the whole layer. */
static void RP_NAME(small_activate)(rp_activation act, rp_index n, RP_T *A)
{
    const rp_block_fn f = rp_activation_block(act, RP_IS_F32);
    if (f != NULL) {
#if RP_IS_F32
        double buf[RP_SMALL_BLOCK];
        rp_index i, j, m;
        for (i = 0; i < n; i += m) {
            m = n - i < RP_SMALL_BLOCK ? n - i : RP_SMALL_BLOCK;
            for (j = 0; j < m; j++) {
                buf[j] = (double)A[i + j];
            }
            f(buf, m);
            for (j = 0; j < m; j++) {
                A[i + j] = (RP_T)buf[j];
            }
        }
#else
        f(A, n); /* the doubles themselves */
#endif
    }
    else if (act == RP_ACT_RELU) {
        RP_NAME(rp_relu)(n, (const char *)A, (rp_index)sizeof(RP_T), (char *)A,
                         (rp_index)sizeof(RP_T));
    }
    /* identity: A = Z as it is */
}

/* D(p, i) = (RP_T)(D(p, i) * f'(A(p, i))) for p < k, i < NB, the delta of a
 * hidden layer (D, A (k, NB)), and Dr(i, p) the same: one loop per
 * activation, NB a constant where this is inlined. */
#define RP_SMALL_PRIME_LOOP(ACT)                                                  \
    for (p = 0; p < k; p++) {                                                     \
        for (i = 0; i < NB; i++) {                                                \
            const RP_T d = (RP_T)((double)D[p * NB + i] *                         \
                                  rp_prime_from_activation(ACT, (double)A[p * NB + i])); \
            D[p * NB + i] = d;                                                    \
            Dr[i * k + p] = d;                                                    \
        }                                                                         \
    }

RP_FORCE_INLINE void RP_NAME(small_prime)(rp_activation act, rp_index NB, rp_index k,
                                          const RP_T *RP_RESTRICT A, RP_T *RP_RESTRICT D,
                                          RP_T *RP_RESTRICT Dr)
{
    rp_index i, p;
    switch (act) {
    case RP_ACT_SIGMOID:
        RP_SMALL_PRIME_LOOP(RP_ACT_SIGMOID)
        break;
    case RP_ACT_TANH:
        RP_SMALL_PRIME_LOOP(RP_ACT_TANH)
        break;
    case RP_ACT_RELU:
        RP_SMALL_PRIME_LOOP(RP_ACT_RELU)
        break;
    default:
        RP_SMALL_PRIME_LOOP(RP_ACT_IDENTITY) /* f' = 1: D as it is, and Dr */
        break;
    }
}

/* D = the output delta of A against Y (both (out, nb), Y's rows ys apart),
 * Dr the same as (nb, out), and the summed loss, sample by sample as the
 * general path sums it. */
#define RP_SMALL_DELTA_LOOP(LOSS, ACT)                                            \
    if (m == 1) {                                                                 \
        for (i = 0; i < nb; i++) {                                                \
            const RP_T d = (RP_T)RP_NAME(loss_delta)(LOSS, factor, ACT, eps,     \
                                                     (double)A[i], (double)Y[i], &loss); \
            D[i] = d;                                                             \
            Dr[i] = d;                                                            \
        }                                                                         \
    }                                                                             \
    else                                                                          \
    for (i = 0; i < nb; i++) {                                                    \
        for (j = 0; j < m; j++) {                                                 \
            const RP_T d = (RP_T)RP_NAME(loss_delta)(LOSS, factor, ACT, eps,            \
                                                     (double)A[j * nb + i],             \
                                                     (double)Y[j * ys + i], &loss);     \
            D[j * nb + i] = d;                                                    \
            Dr[i * m + j] = d;                                                    \
        }                                                                         \
    }

RP_FORCE_INLINE double RP_NAME(small_output_delta)(const rp_net *net, rp_index m, rp_index nb,
                                          const RP_T *A, const RP_T *Y, rp_index ys, RP_T *D,
                                          RP_T *Dr)
{
    const rp_loss kind = net->loss->id;
    const rp_activation output = net->act[net->nlayers - 1];
    const double factor = net->loss->squared_factor, eps = net->eps;
    double loss = 0.0;
    rp_index i, j;
    /* the seeds' configurations get loops of their own (any other is right
     * in the last, general loop) */
    if (kind == RP_LOSS_BCE && output == RP_ACT_SIGMOID) {
        RP_SMALL_DELTA_LOOP(RP_LOSS_BCE, RP_ACT_SIGMOID)
    }
    else if (kind == RP_LOSS_HALF_SUM_SQUARED_ERROR && output == RP_ACT_SIGMOID) {
        RP_SMALL_DELTA_LOOP(RP_LOSS_HALF_SUM_SQUARED_ERROR, RP_ACT_SIGMOID)
    }
    else if (kind == RP_LOSS_HALF_SUM_SQUARED_ERROR && output == RP_ACT_IDENTITY) {
        RP_SMALL_DELTA_LOOP(RP_LOSS_HALF_SUM_SQUARED_ERROR, RP_ACT_IDENTITY)
    }
    else {
        RP_SMALL_DELTA_LOOP(kind, output)
    }
    return loss;
}

#if RP_IS_F32
#define RP_D2_LOAD rp_d2_load_f32
#define RP_D2_STORE rp_d2_store_f32
#else
#define RP_D2_LOAD rp_d2_load_f64
#define RP_D2_STORE rp_d2_store_f64
#endif

/* out[i] = (RP_T)(sum_{p < k} H[p*hs + i] * W[p*w0]) for i < NB, each sum
 * in order p = 0..k-1, two samples to a vector (rp_vec2.h); NB is at most
 * RP_SMALL_CASES_MAX and, like K, a constant where this is inlined. */
RP_FORCE_INLINE void RP_NAME(small_sums_k)(rp_index NB, rp_index K, const RP_T *RP_RESTRICT H,
                                           rp_index hs, const RP_T *RP_RESTRICT W, rp_index w0,
                                           RP_T *RP_RESTRICT out)
{
    rp_d2 acc[RP_SMALL_CASES_MAX / 2];
    const rp_index NV = NB / 2;
    double last = 0.0;
    rp_index v, p;
    for (v = 0; v < NV; v++) {
        acc[v] = rp_d2_zero();
    }
    for (p = 0; p < K; p++) {
        const double w = (double)W[p * w0];
        const rp_d2 w2 = rp_d2_set1(w);
        const RP_T *h = H + p * hs;
        for (v = 0; v < NV; v++) {
            acc[v] = rp_d2_add(acc[v], rp_d2_mul(RP_D2_LOAD(h + 2 * v), w2));
        }
        if (NB % 2 != 0) {
            last += (double)h[NB - 1] * w;
        }
    }
    for (v = 0; v < NV; v++) {
        RP_D2_STORE(out + 2 * v, acc[v]);
    }
    if (NB % 2 != 0) {
        out[NB - 1] = (RP_T)last;
    }
}

/* The same with the sums' lengths up to 4 made constants too. */
RP_FORCE_INLINE void RP_NAME(small_sums)(rp_index NB, rp_index k, const RP_T *RP_RESTRICT H,
                                         rp_index hs, const RP_T *RP_RESTRICT W, rp_index w0,
                                         RP_T *RP_RESTRICT out)
{
    switch (k) {
    case 1:
        RP_NAME(small_sums_k)(NB, 1, H, hs, W, w0, out);
        break;
    case 2:
        RP_NAME(small_sums_k)(NB, 2, H, hs, W, w0, out);
        break;
    case 3:
        RP_NAME(small_sums_k)(NB, 3, H, hs, W, w0, out);
        break;
    case 4:
        RP_NAME(small_sums_k)(NB, 4, H, hs, W, w0, out);
        break;
    default:
        RP_NAME(small_sums_k)(NB, k, H, hs, W, w0, out);
        break;
    }
}

/* The same for any nb, the sums in the row acc[0..nb). */
static void RP_NAME(small_sums_long)(rp_index nb, rp_index k, const RP_T *RP_RESTRICT H,
                                     rp_index hs, const RP_T *RP_RESTRICT W, rp_index w0,
                                     RP_T *RP_RESTRICT out, double *RP_RESTRICT acc)
{
    rp_index i, p;
    for (i = 0; i < nb; i++) {
        acc[i] = 0.0;
    }
    for (p = 0; p < k; p++) {
        const double w = (double)W[p * w0];
        const RP_T *h = H + p * hs;
        for (i = 0; i < nb; i++) {
            acc[i] += (double)h[i] * w;
        }
    }
    for (i = 0; i < nb; i++) {
        out[i] = (RP_T)acc[i];
    }
}

/* One step on the batch (nb samples, their X.T and Y.T rows xs and ys
 * apart), with nb a constant in each case of small_step: forward, output
 * delta, backward with the updates. Returns the summed loss. */
RP_FORCE_INLINE double RP_NAME(small_step_nb)(const rp_net *net, RP_NAME(rp_small) *s,
                                              rp_index NB, const RP_T *X, rp_index xs,
                                              const RP_T *Y, rp_index ys)
{
    const int L = net->nlayers;
    const int cased = NB <= RP_SMALL_CASES_MAX;
    const double scale = 1.0 / RP_NAME(divisor)(net, NB);
    const RP_T lr = (RP_T)net->lr;
    const RP_T *in = X;
    rp_index hs = xs;
    double loss;
    int l;
    /* forward: A[l] = act(in @ W[l] + b[l]), unit by unit over the samples,
     * the activation of the whole layer in one call */
    for (l = 0; l < L; l++) {
        const rp_index k = net->sizes[l], m = net->sizes[l + 1];
        const RP_T *W = s->W[l], *b = s->b[l];
        const rp_index w0 = s->w0[l], w1 = s->w1[l], bs = s->bs[l];
        RP_T *A = s->A[l];
        rp_index i, j;
        for (j = 0; j < m; j++) {
            RP_T *z = A + j * NB;
            if (cased) {
                RP_NAME(small_sums)(NB, k, in, hs, W + j * w1, w0, z);
            }
            else {
                RP_NAME(small_sums_long)(NB, k, in, hs, W + j * w1, w0, z, s->acc);
            }
            if (b != NULL) {
                const RP_T bj = b[j * bs];
                for (i = 0; i < NB; i++) {
                    z[i] = z[i] + bj; /* in RP_T, as the general path adds it */
                }
            }
        }
        RP_NAME(small_activate)(net->act[l], m * NB, A);
        in = A;
        hs = NB;
    }
    loss = RP_NAME(small_output_delta)(net, net->sizes[L], NB, s->A[L - 1], Y, ys, s->D[L - 1],
                                       s->Dr[L - 1]);
    /* backward: the delta below with W[l] as it was, then W[l] and b[l] updated */
    for (l = L - 1; l >= 0; l--) {
        const rp_index k = net->sizes[l], m = net->sizes[l + 1];
        RP_T *W = s->W[l], *b = s->b[l];
        const rp_index w0 = s->w0[l], w1 = s->w1[l], bs = s->bs[l];
        const RP_T *D = s->D[l], *Dr = s->Dr[l];
        rp_index i, j, p;
        in = l == 0 ? X : s->A[l - 1];
        hs = l == 0 ? xs : NB;
        if (l > 0) {
            /* D[l-1] = (D @ W.T) * f'(A[l-1]): for each unit p below,
             * sum_j D(j, i) * W(p, j); then Dr[l-1], its transpose */
            RP_T *Db = s->D[l - 1], *Dbr = s->Dr[l - 1];
            for (p = 0; p < k; p++) {
                if (cased) {
                    RP_NAME(small_sums)(NB, m, D, NB, W + p * w0, w1, Db + p * NB);
                }
                else {
                    RP_NAME(small_sums_long)(NB, m, D, NB, W + p * w0, w1, Db + p * NB, s->acc);
                }
            }
            RP_NAME(small_prime)(net->act[l - 1], NB, k, s->A[l - 1], Db, Dbr);
        }
        /* W(p, j) -= lr * (scale * sum_i in(p, i) * D(j, i)), the samples in
         * order, two units j to a vector */
        for (p = 0; p < k; p++) {
            const RP_T *h = in + p * hs;
            RP_T *wp = W + p * w0;
            rp_d2 hv[RP_SMALL_CASES_MAX];
            if (cased && m >= 2) {
                for (i = 0; i < NB; i++) {
                    hv[i] = rp_d2_set1((double)h[i]);
                }
            }
            for (j = 0; j + 2 <= m; j += 2) {
                rp_d2 acc = rp_d2_zero();
                for (i = 0; i < NB; i++) {
                    acc = rp_d2_add(acc, rp_d2_mul(cased ? hv[i] : rp_d2_set1((double)h[i]),
                                                   RP_D2_LOAD(Dr + i * m + j)));
                }
                wp[j * w1] -= lr * (RP_T)(scale * rp_d2_lo(acc));
                wp[(j + 1) * w1] -= lr * (RP_T)(scale * rp_d2_hi(acc));
            }
            if (j < m) {
                const RP_T *d = D + j * NB;
                double acc = 0.0;
                for (i = 0; i < NB; i++) {
                    acc += (double)h[i] * (double)d[i];
                }
                wp[j * w1] -= lr * (RP_T)(scale * acc);
            }
        }
        if (b != NULL) {
            /* b(j) -= lr * (scale * sum_i D(j, i)), summed as rp_colsum does */
            for (j = 0; j < m; j++) {
                const RP_T *d = D + j * NB;
                double acc = 0.0;
                if (NB <= RP_PAIRWISE_BLOCK) {
                    for (i = 0; i < NB; i++) {
                        acc += (double)d[i];
                    }
                    b[j * bs] -= lr * (RP_T)(scale * acc);
                }
                else {
                    RP_T g;
                    rp_cview Dj;
                    Dj.data = (const char *)d;
                    Dj.rows = NB;
                    Dj.cols = 1;
                    Dj.s0 = (rp_index)sizeof(RP_T);
                    Dj.s1 = NB * Dj.s0;
                    RP_NAME(rp_colsum)(scale, Dj, (char *)&g, (rp_index)sizeof(RP_T));
                    b[j * bs] -= lr * g;
                }
            }
        }
    }
    return loss;
}

/* One step on rows start .. start+nb of (X, Y), or with perm on rows
 * perm[start .. start+nb): returns the summed loss. */
static double RP_NAME(small_step)(const rp_net *net, RP_NAME(rp_small) *s, rp_cview X,
                                  rp_cview Y, const rp_index *perm, rp_index start, rp_index nb)
{
    const RP_T *XT = s->XT + start, *YT = s->YT + start;
    rp_index xs = s->xs, ys = s->ys;
    if (perm != NULL) {
        RP_NAME(small_gather)(X, perm, start, nb, s->Xb);
        RP_NAME(small_gather)(Y, perm, start, nb, s->Yb);
        XT = s->Xb;
        YT = s->Yb;
        xs = ys = nb;
    }
#define RP_SMALL_CASE(K)                                                          \
    case K:                                                                       \
        return RP_NAME(small_step_nb)(net, s, K, XT, xs, YT, ys)
    switch (nb) {
        RP_SMALL_CASE(1);
        RP_SMALL_CASE(2);
        RP_SMALL_CASE(3);
        RP_SMALL_CASE(4);
        RP_SMALL_CASE(5);
        RP_SMALL_CASE(6);
        RP_SMALL_CASE(7);
        RP_SMALL_CASE(8);
    default:
        return RP_NAME(small_step_nb)(net, s, nb, XT, xs, YT, ys);
    }
#undef RP_SMALL_CASE
}

#undef RP_SMALL_DELTA_LOOP
#undef RP_SMALL_PRIME_LOOP
#undef RP_D2_LOAD
#undef RP_D2_STORE
