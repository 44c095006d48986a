/* blas.c: the only place that names OpenBLAS symbols.
 *
 * Prototypes are declared here rather than taken from cblas.h so the same
 * code builds against Debian's OpenBLAS and the scipy-openblas32 wheel (whose
 * symbols carry a "scipy_" prefix).
 */
#include "sacroai/sai_common.h"

#ifdef SAI_BLAS_SYMBOL_PREFIX_SCIPY
#define SAI_BLAS_SYM(name) scipy_##name
#else
#define SAI_BLAS_SYM(name) name
#endif

enum { CblasRowMajor_ = 101 };
enum { CblasNoTrans_ = 111, CblasTrans_ = 112 };

void SAI_BLAS_SYM(cblas_sgemm)(int order, int ta, int tb, int m, int n, int k, float alpha,
                               const float *a, int lda, const float *b, int ldb, float beta,
                               float *c, int ldc);
void SAI_BLAS_SYM(openblas_set_num_threads)(int n);
int SAI_BLAS_SYM(openblas_get_num_threads)(void);
char *SAI_BLAS_SYM(openblas_get_corename)(void);
char *SAI_BLAS_SYM(openblas_get_config)(void);
int SAI_BLAS_SYM(openblas_get_parallel)(void);

void sai_sgemm(sai_transpose ta, sai_transpose tb, int m, int n, int k, float alpha,
               const float *a, int lda, const float *b, int ldb, float beta, float *c, int ldc)
{
    SAI_BLAS_SYM(cblas_sgemm)(CblasRowMajor_, ta == SAI_TRANS ? CblasTrans_ : CblasNoTrans_,
                              tb == SAI_TRANS ? CblasTrans_ : CblasNoTrans_, m, n, k, alpha, a,
                              lda, b, ldb, beta, c, ldc);
}

void sai_blas_set_num_threads(int n) { SAI_BLAS_SYM(openblas_set_num_threads)(n); }
int sai_blas_get_num_threads(void) { return SAI_BLAS_SYM(openblas_get_num_threads)(); }
const char *sai_blas_corename(void) { return SAI_BLAS_SYM(openblas_get_corename)(); }
const char *sai_blas_config(void) { return SAI_BLAS_SYM(openblas_get_config)(); }
int sai_blas_parallel_mode(void) { return SAI_BLAS_SYM(openblas_get_parallel)(); }
