/*
 * seed000.c - seed 000's training loop as a plain C program: the floor that
 * retroprop's fused trainer is measured against (benchmarks/run.py, workload
 * W2, builds and runs it when a C compiler is available).
 *
 * 2-2-1 sigmoid net in the columns layout (X (2, 4), W (out, in), b (out, 1)),
 * XOR, binary cross-entropy averaged over the 4 samples (eps 1e-8; the log of
 * a term whose weight y or 1 - y is zero is skipped, as the fused trainer
 * does), output delta A2 - Y, gradients divided by m, `p -= tasa * grad`.
 * Reads the initial pesos1 (2x2), sesgo1 (2), pesos2 (1x2), sesgo2 (1) on
 * stdin; arguments: iterations (10000) and tasa (0.1). Prints the final
 * parameters in that order, the last loss, and the time of the loop alone in
 * seconds.
 *
 *     cc -O2 -march=native -o seed000 seed000.c -lm
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

int main(int argc, char **argv)
{
    static const double X[2][4] = {{0, 0, 1, 1}, {0, 1, 0, 1}};
    static const double Y[4] = {0, 1, 1, 0};
    const double eps = 1e-8;
    double w1[2][2], b1[2], w2[2], b2;
    double a1[2][4], a2[4], d2[4], d1[2][4];
    int iterations = argc > 1 ? atoi(argv[1]) : 10000;
    double tasa = argc > 2 ? atof(argv[2]) : 0.1;
    double start, seconds, loss = 0.0;
    int it, i, j, k;
    for (i = 0; i < 2; i++)
        for (k = 0; k < 2; k++)
            if (scanf("%lf", &w1[i][k]) != 1)
                return 1;
    for (i = 0; i < 2; i++)
        if (scanf("%lf", &b1[i]) != 1)
            return 1;
    for (i = 0; i < 2; i++)
        if (scanf("%lf", &w2[i]) != 1)
            return 1;
    if (scanf("%lf", &b2) != 1)
        return 1;
    start = now();
    for (it = 0; it < iterations; it++) {
        double g, total = 0.0;
        for (j = 0; j < 4; j++) {            /* forward, loss, output delta */
            double z2 = b2;
            for (i = 0; i < 2; i++) {
                double z = b1[i];
                for (k = 0; k < 2; k++)
                    z += w1[i][k] * X[k][j];
                a1[i][j] = 1.0 / (1.0 + exp(-z));
                z2 += w2[i] * a1[i][j];
            }
            a2[j] = 1.0 / (1.0 + exp(-z2));
            total -= Y[j] != 0.0 ? Y[j] * log(a2[j] + eps) : 0.0;
            total -= Y[j] != 1.0 ? (1.0 - Y[j]) * log(1.0 - a2[j] + eps) : 0.0;
            d2[j] = a2[j] - Y[j];
            for (i = 0; i < 2; i++)          /* (W2.T @ d2) * a1 * (1 - a1) */
                d1[i][j] = w2[i] * d2[j] * a1[i][j] * (1.0 - a1[i][j]);
        }
        loss = total / 4.0;
        for (i = 0; i < 2; i++) {            /* W2 -= tasa * d2 @ A1.T / m */
            g = 0.0;
            for (j = 0; j < 4; j++)
                g += d2[j] * a1[i][j];
            w2[i] -= tasa * g / 4.0;
        }
        g = 0.0;                             /* b2 -= tasa * sum(d2) / m */
        for (j = 0; j < 4; j++)
            g += d2[j];
        b2 -= tasa * g / 4.0;
        for (i = 0; i < 2; i++) {            /* W1 -= tasa * d1 @ X.T / m */
            for (k = 0; k < 2; k++) {
                g = 0.0;
                for (j = 0; j < 4; j++)
                    g += d1[i][j] * X[k][j];
                w1[i][k] -= tasa * g / 4.0;
            }
            g = 0.0;                         /* b1 -= tasa * sum(d1) / m */
            for (j = 0; j < 4; j++)
                g += d1[i][j];
            b1[i] -= tasa * g / 4.0;
        }
    }
    seconds = now() - start;
    for (i = 0; i < 2; i++)
        for (k = 0; k < 2; k++)
            printf("%.17g ", w1[i][k]);
    for (i = 0; i < 2; i++)
        printf("%.17g ", b1[i]);
    for (i = 0; i < 2; i++)
        printf("%.17g ", w2[i]);
    printf("%.17g\n%.17g\n%.9f\n", b2, loss, seconds);
    return 0;
}
