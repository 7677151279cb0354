/*
 * rp_net_impl.h - the network kernels for one element type, included twice
 * by rp_net.c (RP_T, RP_NAME as in rp_kernels_impl.h). No include guard.
 */

#define RP_AT(p, i, s) (*(const RP_T *)((p) + (i) * (s)))
#define RP_AT2(v, i, j) (*(const RP_T *)((v).data + (i) * (v).s0 + (j) * (v).s1))
#define RP_REF2(v, i, j) (*(RP_T *)((v).data + (i) * (v).s0 + (j) * (v).s1))

/* Rows [0, n) of a contiguous scratch buffer of `cols` columns. */
static rp_view RP_NAME(scratch)(char *p, rp_index n, rp_index cols)
{
    rp_view v;
    v.data = p;
    v.rows = n;
    v.cols = cols;
    v.s0 = cols * (rp_index)sizeof(RP_T);
    v.s1 = (rp_index)sizeof(RP_T);
    return v;
}

/* A[l] = act(A[l-1] @ W[l] + b[l]) for every layer, A[-1] = X. */
static void RP_NAME(forward)(const rp_net *net, rp_cview X, rp_view *A)
{
    rp_cview in = X;
    int l;
    for (l = 0; l < net->nlayers; l++) {
        const rp_activation act = net->act[l];
        const rp_view Al = A[l];
        RP_NAME(rp_gemm)(1.0, in, rp_cview_of(net->W[l]), Al);
        rp_cview b = rp_cview_of(net->b[l]);
        b.s0 = 0; /* the bias is one row, broadcast over the samples */
        /* contiguous scratch: rp_bias_activate activates the batch in one call */
        RP_NAME(rp_bias_activate)(Al, b, act, Al);
        in = rp_cview_of(Al);
    }
}

void RP_NAME(rp_net_forward)(const rp_net *net, rp_cview X, rp_view *A)
{
    RP_NAME(forward)(net, X, A);
}

/* Point the scratch activations at the first n rows of their buffers. */
static rp_view *RP_NAME(scratch_activations)(const rp_net *net, rp_net_work *w, rp_index n)
{
    int l;
    for (l = 0; l < net->nlayers; l++) {
        w->Av[l] = RP_NAME(scratch)(w->A[l], n, net->sizes[l + 1]);
    }
    return w->Av;
}

/* One output element's share of the loss (rp_loss_term of the registry),
 * added to *loss, and its delta dL/dz returned: a - y for the
 * cross-entropies (sigmoid + "bce", softmax + "ce"), factor * (a - y) *
 * f'(a) for the squared errors (factor the loss's squared_factor). The
 * general path and the small-network path (rp_net_small_impl.h) both use
 * it, the latter with `loss_kind` and `output` constants. */
RP_FORCE_INLINE double RP_NAME(loss_delta)(rp_loss loss_kind, double factor, rp_activation output,
                                           double eps, double a, double y, double *loss)
{
    double delta = a - y;
    *loss += rp_loss_term(loss_kind, a, y, eps);
    if (factor != 0.0) {
        delta *= factor * rp_prime_from_activation(output, a);
    }
    return delta;
}

/* The loss of the batch, summed (not averaged), and the output delta
 * dL/dZ into D (RP_NAME(loss_delta) for each element). */
static double RP_NAME(output_delta)(const rp_net *net, rp_cview Y, rp_view A, rp_view D)
{
    const rp_loss loss_id = net->loss->id;
    const double factor = net->loss->squared_factor, eps = net->eps;
    const rp_activation out = net->act[net->nlayers - 1];
    double loss = 0.0;
    rp_index i, j;
    for (i = 0; i < D.rows; i++) {
        for (j = 0; j < D.cols; j++) {
            const double a = (double)RP_AT2(A, i, j), y = (double)RP_AT2(Y, i, j);
            RP_REF2(D, i, j) = (RP_T)RP_NAME(loss_delta)(loss_id, factor, out, eps, a, y, &loss);
        }
    }
    return loss;
}

/* The divisor of an averaged loss of a batch of n samples (1 if not
 * averaged): n, or n times the outputs for a loss averaged over every entry
 * ("mse", "bce"). */
static double RP_NAME(divisor)(const rp_net *net, rp_index n)
{
    if (!net->average) {
        return 1.0;
    }
    return net->loss->mean_over_entries ? (double)n * (double)net->sizes[net->nlayers]
                                        : (double)n;
}

/* below[i,j] *= f'(a) with a = in[i,j], the activation of the layer below
 * (rp_prime_from_activation; a constant `act` lets the compiler drop its
 * switch; contiguous rows of in, as the scratch activations are, get a loop
 * the compiler vectorises). */
#define RP_PRIME_LOOP(act)                                                        \
    for (i = 0; i < n; i++) {                                                     \
        const char *arow = in.data + i * in.s0;                                   \
        RP_T *brow = (RP_T *)(below.data + i * below.s0);                         \
        if (in.s1 == (rp_index)sizeof(RP_T)) {                                    \
            const RP_T *ac = (const RP_T *)arow;                                  \
            for (j = 0; j < below.cols; j++) {                                    \
                const double a = (double)ac[j];                                   \
                brow[j] = (RP_T)((double)brow[j] * rp_prime_from_activation(act, a)); \
            }                                                                     \
            continue;                                                             \
        }                                                                         \
        for (j = 0; j < below.cols; j++) {                                        \
            const double a = (double)RP_AT(arow, j, in.s1);                       \
            brow[j] = (RP_T)((double)brow[j] * rp_prime_from_activation(act, a)); \
        }                                                                         \
    }

/* c/2 * sum(P*P), the L2 penalty of P, and G += c * P, its gradient (G NULL:
 * the value only). */
static double RP_NAME(penalty_of)(rp_view *G, rp_cview P, double c)
{
    const RP_T cc = (RP_T)c;
    double sum = 0.0;
    rp_index i, j;
    for (i = 0; i < P.rows; i++) {
        for (j = 0; j < P.cols; j++) {
            const RP_T p = RP_AT2(P, i, j);
            if (G != NULL) {
                RP_REF2(*G, i, j) += cc * p;
            }
            sum += (double)p * (double)p;
        }
    }
    return 0.5 * c * sum;
}

/* net's L2 penalty on a batch of n samples, c = l2 + l2_per_batch / n:
 * returns c/2 * sum(W*W) over the layers (and the biases if decay_biases)
 * and adds c * W into dW[l] (db[l]) unless dW is NULL. */
static double RP_NAME(penalty)(const rp_net *net, rp_index n, rp_view *dW, rp_view *db)
{
    const double c = net->l2 + net->l2_per_batch / (double)n;
    double penalty = 0.0;
    int l;
    for (l = 0; c != 0.0 && l < net->nlayers; l++) {
        penalty += RP_NAME(penalty_of)(dW != NULL ? &dW[l] : NULL, rp_cview_of(net->W[l]), c);
        if (net->decay_biases && net->b[l].data != NULL) {
            penalty += RP_NAME(penalty_of)(dW != NULL ? &db[l] : NULL, rp_cview_of(net->b[l]), c);
        }
    }
    return penalty;
}

/* Backward from the output delta: gradients into dW/db (scaled by `scale`),
 * deltas through the layers with W before any update, then net's L2 penalty
 * into the gradients; returns the penalty (0 without one). */
static double RP_NAME(backward)(const rp_net *net, rp_cview X, const rp_view *A, rp_net_work *w,
                                rp_view *dW, rp_view *db, double scale)
{
    const rp_index n = X.rows;
    int l, cur = 0;
    for (l = net->nlayers - 1; l >= 0; l--) {
        rp_cview in = l == 0 ? X : rp_cview_of(A[l - 1]);
        rp_view D = RP_NAME(scratch)(w->delta[cur], n, net->sizes[l + 1]);
        /* dW = in.T @ D;  db = sum of D over the samples */
        RP_NAME(rp_gemm)(scale, rp_cview_transposed(in), rp_cview_of(D), dW[l]);
        if (db[l].data != NULL) {
            RP_NAME(rp_colsum)(scale, rp_cview_of(D), db[l].data, db[l].s1);
        }
        if (l > 0) {
            /* D_below = (D @ W.T) * f'(A_below) */
            rp_view below = RP_NAME(scratch)(w->delta[1 - cur], n, net->sizes[l]);
            rp_index i, j;
            RP_NAME(rp_gemm)(1.0, rp_cview_of(D), rp_cview_transposed(rp_cview_of(net->W[l])), below);
            /* the common activations get loops of their own, without a switch */
            switch (net->act[l - 1]) {
            case RP_ACT_SIGMOID:
                RP_PRIME_LOOP(RP_ACT_SIGMOID);
                break;
            case RP_ACT_TANH:
                RP_PRIME_LOOP(RP_ACT_TANH);
                break;
            case RP_ACT_RELU:
                RP_PRIME_LOOP(RP_ACT_RELU);
                break;
            case RP_ACT_IDENTITY:
                break; /* f' = 1 */
            default:
                RP_PRIME_LOOP(net->act[l - 1]);
                break;
            }
            cur = 1 - cur;
        }
    }
    return RP_NAME(penalty)(net, n, dW, db);
}

/* One optimiser update of P from its gradient G (the L2 penalty already in
 * it), with V the velocities or Adam's first moments and S Adam's second
 * moments; decay: the decoupled weight decay of P (p *= 1 - lr*decay first).
 * The formulas are rp_optimizer's, in RP_T like NumPy's loop in that dtype. */
static void RP_NAME(update)(const rp_net *net, rp_view P, rp_view G, rp_view V, rp_view S,
                            double decay)
{
    const RP_T lr = (RP_T)net->lr, mu = (RP_T)net->momentum;
    const RP_T keep = (RP_T)(1.0 - net->lr * decay);
    const int plain = net->optimizer == RP_OPT_SGD && net->momentum == 0.0;
    const int nesterov = net->nesterov;
    RP_T b1 = 0, b2 = 0, one_b1 = 0, one_b2 = 0, c1 = 1, c2 = 1, eps = 0;
    rp_index i, j;
    if (net->optimizer == RP_OPT_ADAM) {
        b1 = (RP_T)net->beta1;
        b2 = (RP_T)net->beta2;
        one_b1 = (RP_T)(1.0 - net->beta1);
        one_b2 = (RP_T)(1.0 - net->beta2);
        c1 = (RP_T)(1.0 - pow(net->beta1, (double)net->step));
        c2 = (RP_T)(1.0 - pow(net->beta2, (double)net->step));
        eps = (RP_T)net->adam_eps;
    }
    for (i = 0; i < P.rows; i++) {
        char *p = P.data + i * P.s0;
        const char *g = G.data + i * G.s0;
        char *v, *s;
        if (decay != 0.0) {
            for (j = 0; j < P.cols; j++) {
                *(RP_T *)(p + j * P.s1) *= keep;
            }
        }
        if (plain) {
            if (P.s1 == (rp_index)sizeof(RP_T) && G.s1 == (rp_index)sizeof(RP_T)) {
                /* p -= lr * g over a contiguous row: a loop compilers vectorise */
                RP_T *pc = (RP_T *)p;
                const RP_T *gc = (const RP_T *)g;
                for (j = 0; j < P.cols; j++) {
                    pc[j] -= lr * gc[j];
                }
            }
            else {
                for (j = 0; j < P.cols; j++, p += P.s1, g += G.s1) {
                    *(RP_T *)p -= lr * *(const RP_T *)g;
                }
            }
            continue;
        }
        v = V.data + i * V.s0;
        switch (net->optimizer) {
        case RP_OPT_SGD:
            /* v = m*v + g; p -= lr*v   (nesterov: p -= lr*(g + m*v)) */
            for (j = 0; j < P.cols; j++, p += P.s1, g += G.s1, v += V.s1) {
                const RP_T gj = *(const RP_T *)g;
                const RP_T vj = mu * *(RP_T *)v + gj;
                *(RP_T *)v = vj;
                *(RP_T *)p -= lr * (nesterov ? gj + mu * vj : vj);
            }
            break;
        case RP_OPT_SGD_KERAS:
            /* v = m*v - lr*g; p += v   (nesterov: p += m*v - lr*g) */
            for (j = 0; j < P.cols; j++, p += P.s1, g += G.s1, v += V.s1) {
                const RP_T gj = *(const RP_T *)g;
                const RP_T vj = mu * *(RP_T *)v - lr * gj;
                *(RP_T *)v = vj;
                *(RP_T *)p += nesterov ? mu * vj - lr * gj : vj;
            }
            break;
        case RP_OPT_ADAM:
            /* m1 = b1*m1 + (1-b1)*g; m2 = b2*m2 + (1-b2)*g*g;
             * p -= lr * (m1/c1) / (sqrt(m2/c2) + eps), c = 1 - beta**t */
            s = S.data + i * S.s0;
            for (j = 0; j < P.cols; j++, p += P.s1, g += G.s1, v += V.s1, s += S.s1) {
                const RP_T gj = *(const RP_T *)g;
                const RP_T m1 = b1 * *(RP_T *)v + one_b1 * gj;
                const RP_T m2 = b2 * *(RP_T *)s + one_b2 * (gj * gj);
                *(RP_T *)v = m1;
                *(RP_T *)s = m2;
                *(RP_T *)p -= lr * (m1 / c1) / ((RP_T)sqrt((double)(m2 / c2)) + eps);
            }
            break;
        }
    }
}

/* Forward, loss and output delta on a batch; returns the summed loss. */
static double RP_NAME(forward_loss)(const rp_net *net, rp_cview X, rp_cview Y, rp_net_work *w,
                                    rp_view **A)
{
    rp_view D = RP_NAME(scratch)(w->delta[0], X.rows, net->sizes[net->nlayers]);
    *A = RP_NAME(scratch_activations)(net, w, X.rows);
    RP_NAME(forward)(net, X, *A);
    return RP_NAME(output_delta)(net, Y, (*A)[net->nlayers - 1], D);
}

double RP_NAME(rp_net_gradients)(const rp_net *net, rp_cview X, rp_cview Y, rp_view *dW,
                                 rp_view *db, rp_net_work *w)
{
    const double scale = 1.0 / RP_NAME(divisor)(net, X.rows);
    rp_view *A;
    const double loss = RP_NAME(forward_loss)(net, X, Y, w, &A);
    const double penalty = dW != NULL ? RP_NAME(backward)(net, X, A, w, dW, db, scale)
                                      : RP_NAME(penalty)(net, X.rows, NULL, NULL);
    return loss * scale + penalty;
}

/* One step on a batch: forward, backward, update. Returns the batch's loss
 * summed over its samples, with the L2 penalty (times the divisor if
 * net->average). */
static double RP_NAME(step)(const rp_net *net, rp_cview X, rp_cview Y, rp_net_work *w)
{
    const double scale = 1.0 / RP_NAME(divisor)(net, X.rows);
    const double decay = net->weight_decay;
    rp_view *A;
    const double loss = RP_NAME(forward_loss)(net, X, Y, w, &A);
    const double penalty = RP_NAME(backward)(net, X, A, w, w->dW, w->db, scale);
    int l;
    for (l = 0; l < net->nlayers; l++) {
        RP_NAME(update)(net, net->W[l], w->dW[l], net->vW[l], net->sW[l], decay);
        if (net->b[l].data != NULL) {
            RP_NAME(update)(net, net->b[l], w->db[l], net->vb[l], net->sb[l],
                            net->decay_biases ? decay : 0.0);
        }
    }
    return loss + penalty / scale;
}

/* Rows perm[start .. start+n) of M into the contiguous buffer `into`. */
static rp_cview RP_NAME(gather)(rp_cview M, const rp_index *perm, rp_index start, rp_index n,
                                char *into)
{
    rp_view out = RP_NAME(scratch)(into, n, M.cols);
    rp_index i, j;
    for (i = 0; i < n; i++) {
        for (j = 0; j < M.cols; j++) {
            RP_REF2(out, i, j) = RP_AT2(M, perm[start + i], j);
        }
    }
    return rp_cview_of(out);
}

#include "rp_net_small_impl.h"

int RP_NAME(rp_net_fit)(const rp_net *net, rp_cview X, rp_cview Y, const rp_fit *fit)
{
    const rp_index n = X.rows;
    const rp_batching mode = fit->batching;
    const int shuffled = mode == RP_BATCH_SHUFFLED, drawn = mode == RP_BATCH_REPLACEMENT;
    rp_net cur = *net; /* the configuration of each update: its lr and number */
    rp_net_work *w = NULL;
    RP_NAME(rp_small) small;
    int use_small;
    rp_index *perm = NULL, e = 0, i, k, per_sample = 0, batch = fit->batch, nbatches;
    rp_index updates = fit->counters != NULL ? fit->counters[0] : 0;
    const rp_index epoch0 = fit->counters != NULL ? fit->counters[1] : 0;
    uint64_t state = fit->resume != NULL ? fit->resume[0] : fit->seed;
    double work_since_check = 0.0;
    int l, status = RP_OK;
    if (fit->epochs_done != NULL) {
        *fit->epochs_done = 0;
    }
    if (mode == RP_BATCH_GIVEN) {
        nbatches = fit->nbatches;
        for (k = 0, batch = 1; k < nbatches; k++) {
            const rp_index size = fit->bounds[k + 1] - fit->bounds[k];
            batch = size > batch ? size : batch;
        }
    }
    else {
        if (batch < 1 || batch > n) {
            batch = n;
        }
        nbatches = n / batch + (n % batch != 0);
    }
    /* small networks with plain SGD take their own path, chosen here once */
    use_small = rp_net_small_fits(net, n, batch) ?
                RP_NAME(small_new)(net, X, Y, batch, mode != RP_BATCH_IN_ORDER, &small) : -1;
    if (use_small == 0) {
        return RP_NOMEM;
    }
    if (use_small < 0 && net->path == RP_PATH_SMALL) {
        return RP_UNSUPPORTED;
    }
    if (use_small < 0) {
        w = rp_net_work_new(net, batch, mode != RP_BATCH_IN_ORDER, sizeof(RP_T) == 4);
    }
    if (shuffled || drawn) {
        const rp_index size = shuffled ? n : batch;
        perm = (rp_index *)malloc((size_t)(size > 0 ? size : 1) * sizeof(rp_index));
    }
    if ((use_small < 0 && w == NULL) || ((shuffled || drawn) && perm == NULL)) {
        status = RP_NOMEM;
        goto done;
    }
    for (i = 0; shuffled && i < n; i++) {
        perm[i] = fit->resume != NULL ? (rp_index)fit->resume[i + 1] : i;
    }
    for (l = 0; l < net->nlayers; l++) {
        per_sample += 3 * net->sizes[l] * net->sizes[l + 1];
    }
    for (e = 0; e < fit->epochs; e++) {
        const double lr_epoch = fit->schedule == RP_SCHEDULE_CONSTANT
                                    ? net->lr
                                    : rp_fit_lr(fit, net->lr, epoch0 + e, updates);
        double total = 0.0, seen = 0.0;
        if (shuffled) {
            rp_shuffle(perm, n, &state);
        }
        for (k = 0; k < nbatches; k++) {
            /* the batch: rows start .. start+nb of X, or of X[rows] */
            rp_index start = k * batch, nb = n - start < batch ? n - start : batch;
            const rp_index *rows = perm;
            if (drawn) {
                /* batch indices drawn uniformly from [0, n), next() % n */
                for (i = 0, start = 0, nb = batch; i < nb; i++) {
                    perm[i] = (rp_index)(rp_splitmix64(&state) % (uint64_t)n);
                }
            }
            else if (mode == RP_BATCH_GIVEN) {
                rows = fit->indices;
                start = fit->bounds[k];
                nb = fit->bounds[k + 1] - start;
            }
            cur.lr = fit->schedule == RP_SCHEDULE_INVERSE_TIME
                         ? rp_fit_lr(fit, net->lr, epoch0 + e, updates)
                         : lr_epoch;
            cur.step = updates + 1;
            if (use_small > 0) {
                total += RP_NAME(small_step)(&cur, &small, X, Y, rows, start, nb);
            }
            else {
                rp_cview Xb = X, Yb = Y;
                if (rows != NULL) {
                    Xb = RP_NAME(gather)(X, rows, start, nb, w->Xb);
                    Yb = RP_NAME(gather)(Y, rows, start, nb, w->Yb);
                }
                else {
                    Xb.data += start * X.s0;
                    Yb.data += start * Y.s0;
                    Xb.rows = Yb.rows = nb;
                }
                total += RP_NAME(step)(&cur, Xb, Yb, w);
            }
            updates++;
            seen += RP_NAME(divisor)(net, nb); /* samples (or entries) averaged over */
            /* look for Ctrl-C every few million multiply-adds, between steps; a
             * step costs a share of that whatever its size (RP_STOP_CHECK_STEPS) */
            work_since_check += (double)nb * (double)per_sample +
                                RP_STOP_CHECK_WORK / RP_STOP_CHECK_STEPS;
            if (fit->stop != NULL && work_since_check > RP_STOP_CHECK_WORK) {
                work_since_check = 0.0;
                if (fit->stop(fit->ctx)) {
                    status = RP_INTERRUPTED;
                    goto done;
                }
            }
        }
        fit->history[e] = net->average ? total / seen : total;
        if (fit->epochs_done != NULL) {
            *fit->epochs_done = e + 1;
        }
    }
done:
    if (use_small > 0) {
        RP_NAME(small_free)(&small);
    }
    if (status != RP_NOMEM && fit->counters != NULL) {
        fit->counters[0] = updates;
        fit->counters[1] = epoch0 + e;
    }
    if (status != RP_NOMEM && fit->resume != NULL && (shuffled || drawn)) {
        fit->resume[0] = state;
        for (i = 0; shuffled && i < n; i++) {
            fit->resume[i + 1] = (uint64_t)perm[i];
        }
    }
    rp_net_work_free(w);
    free(perm);
    return status;
}

#undef RP_AT
#undef RP_AT2
#undef RP_REF2
#undef RP_PRIME_LOOP
