/* sort.c: stable argsort of float64 by LSD radix sort on the IEEE bits. */
#include <math.h>
#include <string.h>

#include "sacroai/sai_stats.h"

#define RADIX_BITS 11
#define RADIX_SIZE (1u << RADIX_BITS)
#define RADIX_PASSES 6 /* 6 * 11 = 66 >= 64 bits */

/* Map a double to an unsigned key with the same order (NaN excluded). */
static inline uint64_t order_key(double v)
{
    uint64_t u;
    v += 0.0; /* -0.0 becomes +0.0: equal values must tie (stable order) */
    memcpy(&u, &v, sizeof u);
    return (u & 0x8000000000000000ull) ? ~u : (u | 0x8000000000000000ull);
}

static void insertion_argsort(const double *x, int64_t n, int64_t *order)
{
    for (int64_t i = 0; i < n; i++) order[i] = i;
    for (int64_t i = 1; i < n; i++) {
        int64_t o = order[i];
        double v = x[o];
        int64_t j = i - 1;
        while (j >= 0 && x[order[j]] > v) {
            order[j + 1] = order[j];
            j--;
        }
        order[j + 1] = o;
    }
}

sai_status sai_stats_argsort(const double *x, int64_t n, int64_t *order)
{
    if (n < 0) return sai_error_set(SAI_EINVAL, "argsort: n must be >= 0, got %lld", (long long)n);
    if (n > (int64_t)UINT32_MAX)
        return sai_error_set(SAI_EINVAL, "argsort: n = %lld exceeds 2^32 - 1", (long long)n);
    for (int64_t i = 0; i < n; i++)
        if (isnan(x[i])) return sai_error_set(SAI_EINVAL, "argsort: value %lld is NaN", (long long)i);
    if (n <= 32) {
        insertion_argsort(x, n, order);
        return SAI_OK;
    }
    size_t nb = (size_t)n;
    uint64_t *keys = sai_alloc(2 * nb * sizeof(uint64_t));
    int64_t *idx2 = sai_alloc(nb * sizeof(int64_t));
    uint32_t *hist = sai_calloc((size_t)RADIX_PASSES * RADIX_SIZE * sizeof(uint32_t));
    if (!keys || !idx2 || !hist) {
        sai_free(keys);
        sai_free(idx2);
        sai_free(hist);
        return SAI_ENOMEM;
    }
    uint64_t *ka = keys, *kb = keys + nb;
    int64_t *ia = order, *ib = idx2;
    for (int64_t i = 0; i < n; i++) {
        uint64_t k = order_key(x[i]);
        ka[i] = k;
        ia[i] = i;
        for (int p = 0; p < RADIX_PASSES; p++) hist[p * RADIX_SIZE + ((k >> (p * RADIX_BITS)) & (RADIX_SIZE - 1))]++;
    }
    for (int p = 0; p < RADIX_PASSES; p++) {
        uint32_t *h = hist + p * RADIX_SIZE;
        /* a digit shared by every key leaves the order unchanged: skip the pass */
        int trivial = 0;
        for (uint32_t d = 0; d < RADIX_SIZE; d++)
            if (h[d]) {
                trivial = (h[d] == (uint32_t)n);
                break;
            }
        if (trivial) continue;
        uint32_t sum = 0;
        for (uint32_t d = 0; d < RADIX_SIZE; d++) {
            uint32_t c = h[d];
            h[d] = sum;
            sum += c;
        }
        int shift = p * RADIX_BITS;
        for (int64_t i = 0; i < n; i++) {
            uint32_t d = (uint32_t)((ka[i] >> shift) & (RADIX_SIZE - 1));
            uint32_t pos = h[d]++;
            kb[pos] = ka[i];
            ib[pos] = ia[i];
        }
        uint64_t *kt = ka; ka = kb; kb = kt;
        int64_t *it = ia; ia = ib; ib = it;
    }
    if (ia != order) memcpy(order, ia, nb * sizeof(int64_t));
    sai_free(keys);
    sai_free(idx2);
    sai_free(hist);
    return SAI_OK;
}
