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
        count += 2 * (size_t)(batch * out);
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

/* D[i] = (RP_T)(D[i] * f'(A[i])) for i < n: the delta of a hidden layer. */
#define RP_SMALL_PRIME_LOOP(ACT)                                                  \
    for (i = 0; i < n; i++) {                                                     \
        D[i] = (RP_T)((double)D[i] * rp_prime_from_activation(ACT, (double)A[i])); \
    }

static void RP_NAME(small_prime)(rp_activation act, rp_index n, const RP_T *A, RP_T *D)
{
    rp_index i;
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
        break; /* identity: f' = 1 */
    }
}

/* D = the output delta of A against Y (both (out, nb), Y's rows ys apart),
 * and the summed loss, sample by sample as the general path sums it. */
#define RP_SMALL_DELTA_LOOP(LOSS, ACT)                                            \
    for (i = 0; i < nb; i++) {                                                    \
        for (j = 0; j < m; j++) {                                                 \
            D[j * nb + i] = (RP_T)RP_NAME(loss_delta)(LOSS, factor, ACT, eps,           \
                                                      (double)A[j * nb + i],            \
                                                      (double)Y[j * ys + i], &loss);    \
        }                                                                         \
    }

static double RP_NAME(small_output_delta)(const rp_net *net, rp_index m, rp_index nb,
                                          const RP_T *A, const RP_T *Y, rp_index ys, RP_T *D)
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

/* out[i] (i < NB) = sum_{p < k} H[p*hs + i] * w(p), in order p = 0..k-1,
 * with w(p) = W[p*w0]; NB <= RP_SMALL_CASES_MAX, so the sums stay in
 * registers when NB is a constant. Then out[i] = (RP_T)sum (+ bias). */
RP_FORCE_INLINE void RP_NAME(small_axpys)(rp_index NB, rp_index k, const RP_T *RP_RESTRICT H,
                                          rp_index hs, const RP_T *RP_RESTRICT W, rp_index w0,
                                          const RP_T *RP_RESTRICT bias, RP_T *RP_RESTRICT out)
{
    double acc[RP_SMALL_CASES_MAX];
    rp_index i, p;
    for (i = 0; i < NB; i++) {
        acc[i] = 0.0;
    }
    for (p = 0; p < k; p++) {
        const double w = (double)W[p * w0];
        const RP_T *h = H + p * hs;
        for (i = 0; i < NB; i++) {
            acc[i] += (double)h[i] * w;
        }
    }
    for (i = 0; i < NB; i++) {
        out[i] = bias != NULL ? (RP_T)acc[i] + *bias : (RP_T)acc[i];
    }
}

/* The same with the sums in the row acc[0..nb), for any nb. */
static void RP_NAME(small_axpys_long)(rp_index nb, rp_index k, const RP_T *RP_RESTRICT H,
                                      rp_index hs, const RP_T *RP_RESTRICT W, rp_index w0,
                                      const RP_T *RP_RESTRICT bias, RP_T *RP_RESTRICT out,
                                      double *RP_RESTRICT acc)
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
        out[i] = bias != NULL ? (RP_T)acc[i] + *bias : (RP_T)acc[i];
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
    /* forward: A[l] = act(in @ W[l] + b[l]), unit by unit, the activation
     * of the whole layer in one call */
    for (l = 0; l < L; l++) {
        const rp_index k = net->sizes[l], m = net->sizes[l + 1];
        const RP_T *W = s->W[l], *b = s->b[l];
        const rp_index w0 = s->w0[l], w1 = s->w1[l], bs = s->bs[l];
        rp_index j;
        for (j = 0; j < m; j++) {
            const RP_T *bj = b != NULL ? b + j * bs : NULL;
            if (cased) {
                RP_NAME(small_axpys)(NB, k, in, hs, W + j * w1, w0, bj, s->A[l] + j * NB);
            }
            else {
                RP_NAME(small_axpys_long)(NB, k, in, hs, W + j * w1, w0, bj, s->A[l] + j * NB,
                                          s->acc);
            }
        }
        RP_NAME(small_activate)(net->act[l], m * NB, s->A[l]);
        in = s->A[l];
        hs = NB;
    }
    loss = RP_NAME(small_output_delta)(net, net->sizes[L], NB, s->A[L - 1], Y, ys, s->D[L - 1]);
    /* backward: the delta below with W[l] as it was, then W[l] and b[l] updated */
    for (l = L - 1; l >= 0; l--) {
        const rp_index k = net->sizes[l], m = net->sizes[l + 1];
        RP_T *W = s->W[l], *b = s->b[l];
        const rp_index w0 = s->w0[l], w1 = s->w1[l], bs = s->bs[l];
        const RP_T *D = s->D[l];
        rp_index i, j, p;
        in = l == 0 ? X : s->A[l - 1];
        hs = l == 0 ? xs : NB;
        if (l > 0) {
            /* D[l-1] = (D @ W.T) * f'(A[l-1]): for each unit p below,
             * sum_j D[j] * W(p, j) */
            for (p = 0; p < k; p++) {
                if (cased) {
                    RP_NAME(small_axpys)(NB, m, D, NB, W + p * w0, w1, NULL, s->D[l - 1] + p * NB);
                }
                else {
                    RP_NAME(small_axpys_long)(NB, m, D, NB, W + p * w0, w1, NULL,
                                              s->D[l - 1] + p * NB, s->acc);
                }
            }
            RP_NAME(small_prime)(net->act[l - 1], k * NB, s->A[l - 1], s->D[l - 1]);
        }
        /* W(p, j) -= lr * (scale * sum_i in(p, i) * D(j, i)), samples in order */
        for (p = 0; p < k; p++) {
            const RP_T *h = in + p * hs;
            RP_T *wp = W + p * w0;
            for (j = 0; j < m; j++) {
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
