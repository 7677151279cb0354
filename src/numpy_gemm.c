/*
 * numpy_gemm.c - large products on NumPy's own matmul.
 *
 * The kernels run small products in their own loop and hand large ones to a
 * routine registered with rp_set_large_gemm (src/kernels/rp_kernels.h). This
 * file registers the inner loop that np.matmul itself runs for two float64
 * (or float32) operands: found once, at import, in the matmul ufunc's table
 * of loops by its types ("dd->d", "ff->f"). That loop calls NumPy's BLAS, so
 *   - retroprop brings no BLAS of its own: one library, one thread pool
 *     (threadpoolctl and OPENBLAS_NUM_THREADS control it), nothing loaded
 *     into the process that NumPy has not loaded already;
 *   - a large product gives exactly np.matmul's bits;
 *   - it needs no Python object and no GIL (NumPy's ufunc machinery calls
 *     the same loop with the GIL released), so MLP.fit calls it from C
 *     without taking the GIL back, and without NumPy's per-call cost.
 * Only the floating-point error check of a ufunc call is left out: as in the
 * rest of retroprop, a product of inf and 0 gives NaN without a warning.
 *
 * The loop is the gufunc (n?,k),(k,m?)->(n?,m?) over one outer iteration:
 * dimensions {1, m, k, n}, steps {outer strides (unused), A's two strides,
 * B's two, C's two}, in bytes. It is only given what BLAS can read: each
 * operand contiguous along its rows or its columns, C along its rows (a C
 * stored by columns is computed as C.T = B.T @ A.T). Other strides (a[::2],
 * a[::-1]) stay in our loop, where NumPy's would run its own plain loop too.
 */
#include "binding.h"

#include <limits.h>
#include <string.h>

typedef struct {
    PyUFuncGenericFunction loop;
    void *data;
} matmul_loop;

static matmul_loop matmul_f32, matmul_f64;

/* The view's strides as NumPy would give a fresh array of its shape: a
 * dimension of length 1 gets the stride of a contiguous array, so that the
 * loop's choice (BLAS gemm, gemv, dot) depends on the shape alone, as it
 * does for np.matmul on arrays of that shape. */
static void canonical(rp_index rows, rp_index cols, rp_index item, rp_index *s0, rp_index *s1)
{
    if (rows == 1) {
        *s0 = cols * item;
    }
    if (cols == 1) {
        *s1 = item;
    }
}

/* Contiguous along the rows (row-major) or down the columns, with a leading
 * dimension BLAS takes: the layouts NumPy's loop hands to BLAS. */
static int by_rows(rp_index rows, rp_index cols, rp_index s0, rp_index s1, rp_index item)
{
    (void)rows;
    return s1 == item && s0 % item == 0 && s0 / item >= cols && s0 / item <= INT_MAX;
}

static int blas_readable(rp_cview v, rp_index item)
{
    rp_index s0 = v.s0, s1 = v.s1;
    canonical(v.rows, v.cols, item, &s0, &s1);
    return v.rows <= INT_MAX && v.cols <= INT_MAX &&
           (by_rows(v.rows, v.cols, s0, s1, item) || by_rows(v.cols, v.rows, s1, s0, item));
}

static void run(const matmul_loop *f, rp_index item, rp_cview A, rp_cview B, rp_view C)
{
    char *args[3];
    npy_intp dims[4];
    npy_intp steps[9];
    rp_index a0 = A.s0, a1 = A.s1, b0 = B.s0, b1 = B.s1, c0 = C.s0, c1 = C.s1;
    canonical(A.rows, A.cols, item, &a0, &a1);
    canonical(B.rows, B.cols, item, &b0, &b1);
    canonical(C.rows, C.cols, item, &c0, &c1);
    args[0] = (char *)A.data;
    args[1] = (char *)B.data;
    args[2] = C.data;
    dims[0] = 1;
    dims[1] = C.rows;
    dims[2] = A.cols;
    dims[3] = C.cols;
    steps[0] = steps[1] = steps[2] = 0;
    steps[3] = a0;
    steps[4] = a1;
    steps[5] = b0;
    steps[6] = b1;
    steps[7] = c0;
    steps[8] = c1;
    f->loop(args, dims, steps, f->data);
}

static int large_gemm(const matmul_loop *f, rp_index item, rp_cview A, rp_cview B, rp_view C)
{
    rp_index c0 = C.s0, c1 = C.s1;
    if (C.rows > INT_MAX || C.cols > INT_MAX || A.cols > INT_MAX ||
        !blas_readable(A, item) || !blas_readable(B, item)) {
        return 0;
    }
    canonical(C.rows, C.cols, item, &c0, &c1);
    if (by_rows(C.rows, C.cols, c0, c1, item)) {
        run(f, item, A, B, C);
        return 1;
    }
    if (by_rows(C.cols, C.rows, c1, c0, item)) {
        run(f, item, rp_cview_transposed(B), rp_cview_transposed(A), rp_view_transposed(C));
        return 1;
    }
    return 0;
}

static int large_gemm_f32(rp_cview A, rp_cview B, rp_view C)
{
    return large_gemm(&matmul_f32, (rp_index)sizeof(float), A, B, C);
}

static int large_gemm_f64(rp_cview A, rp_cview B, rp_view C)
{
    return large_gemm(&matmul_f64, (rp_index)sizeof(double), A, B, C);
}

/* The loop of `ufunc` for three operands of type `typenum`, if it has one. */
static int find_loop(PyUFuncObject *ufunc, char typenum, matmul_loop *out)
{
    int i;
    for (i = 0; i < ufunc->ntypes; i++) {
        const char *t = ufunc->types + 3 * i;
        if (t[0] == typenum && t[1] == typenum && t[2] == typenum &&
            ufunc->functions[i] != NULL) {
            out->loop = ufunc->functions[i];
            out->data = ufunc->data != NULL ? ufunc->data[i] : NULL;
            return 1;
        }
    }
    return 0;
}

const char *rpb_register_numpy_gemm(void)
{
    PyObject *numpy, *matmul;
    PyUFuncObject *ufunc;
    int found;
    rp_set_large_gemm(NULL, NULL);
    numpy = PyImport_ImportModule("numpy");
    if (numpy == NULL) {
        return NULL;
    }
    matmul = PyObject_GetAttrString(numpy, "matmul");
    Py_DECREF(numpy);
    if (matmul == NULL) {
        return NULL;
    }
    /* np.matmul is a gufunc with this signature on every NumPy we support;
     * should one ever differ, every product stays in our own loop. */
    ufunc = (PyUFuncObject *)matmul;
    found = PyObject_TypeCheck(matmul, &PyUFunc_Type) && ufunc->nin == 2 && ufunc->nout == 1 &&
            ufunc->core_enabled && ufunc->core_signature != NULL &&
            strcmp(ufunc->core_signature, "(n?,k),(k,m?)->(n?,m?)") == 0 &&
            find_loop(ufunc, NPY_FLOAT, &matmul_f32) && find_loop(ufunc, NPY_DOUBLE, &matmul_f64);
    /* the loops live in NumPy's own extension module, loaded for good */
    Py_DECREF(matmul);
    if (!found) {
        return "retroprop";
    }
    rp_set_large_gemm(large_gemm_f32, large_gemm_f64);
    return "numpy.matmul";
}
