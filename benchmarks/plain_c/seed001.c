/*
 * seed001.c - seed 001's training loop as a plain C program: the floor that
 * retroprop's fused trainer is measured against (benchmarks/run.py, workload
 * W1, builds and runs it when a C compiler is available).
 *
 * 3-4-1 sigmoid net, no biases, X (4, 3), y (4, 1), 10000 full-batch steps of
 * half the squared error with lr 1 and the correct derivative a * (1 - a),
 * from weights read on stdin (12 + 4 numbers, NumPy's seed-1 draw). Prints
 * the final weights and the time of the loop alone, in seconds.
 *
 *     cc -O2 -march=native -o seed001 seed001.c -lm
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
    static const double X[4][3] = {{0, 0, 1}, {1, 1, 1}, {1, 0, 1}, {0, 1, 1}};
    static const double y[4] = {0, 1, 1, 0};
    double w0[3][4], w1[4], a1[4][4], a2[4], d2[4], d1[4][4];
    int iterations = argc > 1 ? atoi(argv[1]) : 10000;
    int it, i, j, k;
    double start, seconds;
    for (i = 0; i < 3; i++)
        for (j = 0; j < 4; j++)
            if (scanf("%lf", &w0[i][j]) != 1)
                return 1;
    for (j = 0; j < 4; j++)
        if (scanf("%lf", &w1[j]) != 1)
            return 1;
    start = now();
    for (it = 0; it < iterations; it++) {
        for (i = 0; i < 4; i++) {            /* forward */
            double z2 = 0.0;
            for (j = 0; j < 4; j++) {
                double z = 0.0;
                for (k = 0; k < 3; k++)
                    z += X[i][k] * w0[k][j];
                a1[i][j] = 1.0 / (1.0 + exp(-z));
                z2 += a1[i][j] * w1[j];
            }
            a2[i] = 1.0 / (1.0 + exp(-z2));
            d2[i] = (a2[i] - y[i]) * a2[i] * (1.0 - a2[i]);  /* dL/dz2 */
            for (j = 0; j < 4; j++)
                d1[i][j] = d2[i] * w1[j] * a1[i][j] * (1.0 - a1[i][j]);
        }
        for (j = 0; j < 4; j++) {            /* w1 -= a1.T @ d2 */
            double g = 0.0;
            for (i = 0; i < 4; i++)
                g += a1[i][j] * d2[i];
            w1[j] -= g;
        }
        for (k = 0; k < 3; k++)              /* w0 -= X.T @ d1 */
            for (j = 0; j < 4; j++) {
                double g = 0.0;
                for (i = 0; i < 4; i++)
                    g += X[i][k] * d1[i][j];
                w0[k][j] -= g;
            }
    }
    seconds = now() - start;
    for (i = 0; i < 3; i++)
        for (j = 0; j < 4; j++)
            printf("%.17g ", w0[i][j]);
    for (j = 0; j < 4; j++)
        printf("%.17g ", w1[j]);
    printf("\n%.9f\n", seconds);
    return 0;
}
