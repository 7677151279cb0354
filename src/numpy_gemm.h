/*
 * numpy_gemm.h - the binding's registration of NumPy's matmul loop as the
 * kernels' routine for large products (src/numpy_gemm.c).
 */
#ifndef RP_NUMPY_GEMM_H
#define RP_NUMPY_GEMM_H

/* Find np.matmul's float32 and float64 loops and register them with
 * rp_set_large_gemm. Call it once from the module's init, after
 * import_array(). Returns the name of what large products run on:
 * "numpy.matmul", or "retroprop" when this NumPy's matmul is not the gufunc
 * we know (every product then stays in our loop); NULL with a Python error
 * set if numpy.matmul cannot be looked up. */
const char *rpb_register_numpy_gemm(void);

#endif /* RP_NUMPY_GEMM_H */
