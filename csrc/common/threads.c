/* threads.c: one thread count for OpenBLAS and the core's OpenMP loops. */
#include <stdatomic.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "sacroai/sai_common.h"

void sai_blas_set_num_threads(int n); /* blas.c */

static atomic_int g_num_threads = 1;

void sai_set_num_threads(int n)
{
    if (n < 1) n = 1;
    atomic_store(&g_num_threads, n);
    sai_blas_set_num_threads(n);
    sai_threads_sync();
}

int sai_get_num_threads(void) { return atomic_load(&g_num_threads); }

void sai_threads_sync(void)
{
#ifdef _OPENMP
    int n = atomic_load(&g_num_threads);
    if (omp_get_max_threads() != n) omp_set_num_threads(n);
#endif
}

int sai_openmp_version(void)
{
#ifdef _OPENMP
    return _OPENMP;
#else
    return 0;
#endif
}
