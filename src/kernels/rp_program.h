/*
 * rp_program.h - a straight-line program of array operations, run for many
 * iterations without returning to Python: the interpreter behind
 * retroprop.capture (the %%retroprop cell magic).
 *
 * Pure C99, no Python. A program is a list of operations over "slots":
 * each slot is the base address of an array the caller owns (the user's
 * own arrays, preallocated buffers, constants). Every operand is a slot, a
 * byte offset and byte strides, so views (W.T, X[a:b], x[:, None]) are read
 * in place. Nothing is allocated while a program runs.
 *
 * Elementwise operations call a strided loop with NumPy's ufunc inner-loop
 * signature (the binding hands in NumPy's own loops, so np.exp, np.add, ...
 * give NumPy's bits); products call rp_gemm; sums follow NumPy's order of
 * summation (see rp_program.c).
 */
#ifndef RP_PROGRAM_H
#define RP_PROGRAM_H

#include "rp_kernels.h"

/* Operands of one operation: inputs first, the output last. */
#define RP_PROGRAM_MAXARGS 3

/* A strided inner loop: args[i] advances by steps[i] bytes, dims[0] times
 * (NumPy's PyUFuncGenericFunction, with rp_index for npy_intp). */
typedef void (*rp_strided_loop)(char **args, const rp_index *dims, const rp_index *steps,
                                void *data);

typedef enum {
    /* out = loop(inputs) over dim[0] (outer) x dim[1] (inner) elements,
     * stride[a][0] / stride[a][1] bytes apart for operand a */
    RP_PROGRAM_LOOP = 0,
    /* C = A @ B; A (dim[0], dim[1]), B (dim[1], dim[2]); stride[a] = row,
     * column strides of A, B, C */
    RP_PROGRAM_GEMM_F32 = 1,
    RP_PROGRAM_GEMM_F64 = 2,
    /* out = in, elements of `itemsize` bytes, over dim[0] x dim[1] */
    RP_PROGRAM_COPY = 3,
    /* out[o] = sum over r of in[o, r]: dim[0] outputs (stride[0][0] in the
     * input, stride[1][0] in the output), dim[1] terms each, stride[0][1]
     * apart. dim[2] says in which order NumPy sums them (rp_program.c). */
    RP_PROGRAM_SUM_F32 = 4,
    RP_PROGRAM_SUM_F64 = 5,
    /* out = (float) in and out = (double) in, over dim[0] x dim[1] */
    RP_PROGRAM_CAST_F64_F32 = 6,
    RP_PROGRAM_CAST_F32_F64 = 7,
    /* out = a OP b (or -a) over dim[0] x dim[1], OP = dim[2] (RP_ARITH_*),
     * in float32 (itemsize 4) or float64 (8): IEEE arithmetic, so the same
     * bits as NumPy's loops, without their per-call cost */
    RP_PROGRAM_ARITH = 8
} rp_program_kind;

/* The operations of RP_PROGRAM_ARITH (dim[2]). */
enum {
    RP_ARITH_ADD = 0,
    RP_ARITH_SUBTRACT = 1,
    RP_ARITH_MULTIPLY = 2,
    RP_ARITH_DIVIDE = 3,
    RP_ARITH_NEGATIVE = 4 /* two operands: a, out */
};

/* The orders of summation of RP_PROGRAM_SUM (dim[2]). */
enum {
    /* out = in[0] + in[1] + ... in turn (NumPy over an outer axis) */
    RP_SUM_SEQUENTIAL = 0,
    /* out = 0 + NumPy's pairwise sum of the terms (its reduction along the
     * innermost axis in memory) */
    RP_SUM_PAIRWISE = 1
};

typedef struct rp_program_op rp_program_op;

/* Runs one operation on its operands' addresses this iteration (ptr). */
typedef void (*rp_program_step)(const rp_program_op *op, char *const *ptr);

struct rp_program_op {
    int kind;
    int nargs;
    int slot[RP_PROGRAM_MAXARGS];
    rp_index offset[RP_PROGRAM_MAXARGS];
    /* per iteration k (counted from the loop's start): operand a is at
     * offset[a] + (period ? k % period : k) * iter_step[a] (minibatches) */
    rp_index iter_step[RP_PROGRAM_MAXARGS];
    rp_index period;
    rp_index dim[3];
    rp_index stride[RP_PROGRAM_MAXARGS][2];
    rp_index itemsize;
    rp_strided_loop loop;
    void *loop_data;
    /* filled by rp_program_prepare: base[slot[a]] + offset[a]; whether an
     * operand moves with the iteration; the routine that runs the operation,
     * picked once for its kind, dtype and layout (rp_program.c) */
    char *at[RP_PROGRAM_MAXARGS];
    int moves;
    rp_program_step step;
};

typedef struct {
    int nslots;
    char **base;
    int nops;
    rp_program_op *ops;
} rp_program;

/* Resolve every operand's address and pick each operation's routine (call
 * once the slots' bases are set, and again if an operation changes). */
void rp_program_prepare(rp_program *p);

/* Floating-point exceptions an operation raised (the result of rp_program_run). */
#define RP_FP_INVALID 1
#define RP_FP_DIVBYZERO 2
#define RP_FP_OVERFLOW 4
#define RP_FP_UNDERFLOW 8

/* Run ops [begin, end) for iterations first, first + 1, ..., first + count - 1
 * (first numbers the iteration for iter_step); returns the RP_FP_* flags
 * raised meanwhile (they are cleared first). */
int rp_program_run(const rp_program *p, int begin, int end, rp_index first, rp_index count);

#endif /* RP_PROGRAM_H */
