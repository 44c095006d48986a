/* sai_common.h: status codes, the thread-local error slot, threads, memory.
 *
 * The C core never prints, aborts or exits.  A function that fails returns a
 * non-zero sai_status and leaves a message with sai_error_set(); the Python
 * layer turns the pair into an exception.  Outputs are allocated by callers;
 * the core owns only scratch memory.
 */
#ifndef SAI_COMMON_H
#define SAI_COMMON_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    SAI_OK = 0,
    SAI_EINVAL = 1,   /* a bad argument value          -> ValueError       */
    SAI_ETYPE = 2,    /* a bad argument type / dtype   -> TypeError        */
    SAI_ENOMEM = 3,   /* an allocation failed          -> MemoryError      */
    SAI_EIO = 4,      /* the OS refused (open/read)    -> OSError          */
    SAI_ENOENT = 5,   /* a file does not exist         -> FileNotFoundError*/
    SAI_EFORMAT = 6,  /* a file is corrupt/unsupported -> sacroai.FileFormatError */
    SAI_ENUMERIC = 7, /* NaN/Inf or a numerical breakdown -> sacroai.NumericalError */
    SAI_EINTERNAL = 8 /* a broken invariant (a bug)    -> RuntimeError     */
} sai_status;

#define SAI_ERROR_LEN 1024

/* Element types the kernels understand (the Python layer maps NumPy dtypes). */
typedef enum {
    SAI_DT_U8, SAI_DT_I8, SAI_DT_U16, SAI_DT_I16, SAI_DT_U32, SAI_DT_I32,
    SAI_DT_U64, SAI_DT_I64, SAI_DT_F32, SAI_DT_F64
} sai_dtype;


/* Record an error for the calling thread and return `status`. printf-style. */
sai_status sai_error_set(sai_status status, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* Message of the last error on this thread ("" if none). */
const char *sai_error_message(void);
sai_status sai_error_status(void);
void sai_error_clear(void);

/* ---- threads: one knob for OpenBLAS and the core's OpenMP loops ---- */
void sai_set_num_threads(int n);
int sai_get_num_threads(void);
/* Make the calling OS thread use the knob (OpenMP ICVs are per thread, and
 * OpenMP-flavoured OpenBLAS follows omp_get_max_threads()).  Call before a
 * core entry point that may go parallel; cheap when nothing changed. */
void sai_threads_sync(void);
int sai_openmp_version(void); /* _OPENMP date, 0 without OpenMP */

/* ---- memory ---- */
/* 64-byte aligned allocation; blocks of 2 MiB and more are advised as huge
 * pages (a fresh 4 KiB page costs ~13 us to fault in on these machines).
 * Returns NULL and sets SAI_ENOMEM on failure. Free with sai_free. */
void *sai_alloc(size_t nbytes);
void *sai_calloc(size_t nbytes);
void sai_free(void *p);

/* A grow-only scratch workspace reused across calls.  Not thread safe: one
 * per thread or per object. */
typedef struct {
    void *ptr;
    size_t size;
} sai_workspace;
void *sai_workspace_get(sai_workspace *ws, size_t nbytes); /* NULL on ENOMEM */
void sai_workspace_release(sai_workspace *ws);

/* Overflow-checked size arithmetic: return 0 on overflow. */
int sai_mul_size(size_t a, size_t b, size_t *out);

/* ---- BLAS (float32 GEMM and run-time identification) ---- */
typedef enum { SAI_NO_TRANS = 0, SAI_TRANS = 1 } sai_transpose;
/* Row-major C = alpha * op(A) * op(B) + beta * C. */
void sai_sgemm(sai_transpose ta, sai_transpose tb, int m, int n, int k, float alpha,
               const float *a, int lda, const float *b, int ldb, float beta, float *c, int ldc);
const char *sai_blas_corename(void);
const char *sai_blas_config(void);
int sai_blas_get_num_threads(void);
int sai_blas_parallel_mode(void); /* 0 sequential, 1 pthreads, 2 OpenMP */

#ifdef __cplusplus
}
#endif
#endif
