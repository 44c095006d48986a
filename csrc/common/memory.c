/* memory.c: aligned allocations, huge-page advice, scratch workspaces. */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "sacroai/sai_common.h"

#define SAI_ALIGN 64
#define SAI_HUGE (2u << 20)

int sai_mul_size(size_t a, size_t b, size_t *out)
{
    if (a != 0 && b > SIZE_MAX / a) return 0;
    *out = a * b;
    return 1;
}

void *sai_alloc(size_t nbytes)
{
    void *p = NULL;
    size_t align = nbytes >= SAI_HUGE ? SAI_HUGE : SAI_ALIGN;
    size_t rounded = (nbytes + align - 1) / align * align;
    if (rounded < nbytes || posix_memalign(&p, align, rounded ? rounded : align) != 0) {
        sai_error_set(SAI_ENOMEM, "cannot allocate %zu bytes", nbytes);
        return NULL;
    }
#ifdef MADV_HUGEPAGE
    if (rounded >= SAI_HUGE) madvise(p, rounded, MADV_HUGEPAGE);
#endif
    return p;
}

void *sai_calloc(size_t nbytes)
{
    void *p = sai_alloc(nbytes);
    if (p) memset(p, 0, nbytes);
    return p;
}

void sai_free(void *p) { free(p); }

void *sai_workspace_get(sai_workspace *ws, size_t nbytes)
{
    if (ws->size >= nbytes && ws->ptr) return ws->ptr;
    void *p = sai_alloc(nbytes);
    if (!p) return NULL;
    sai_free(ws->ptr);
    ws->ptr = p;
    ws->size = nbytes;
    return p;
}

void sai_workspace_release(sai_workspace *ws)
{
    sai_free(ws->ptr);
    ws->ptr = NULL;
    ws->size = 0;
}
