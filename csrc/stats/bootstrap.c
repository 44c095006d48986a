/* bootstrap.c: stratified and clustered bootstrap with explicit-seed streams.
 *
 * Replicate b draws from xoshiro256** seeded by splitmix64 from
 * seed + b * 0x9E3779B97F4A7C15, so a replicate never depends on the thread
 * that computes it.  Uniform integers in [0, k) use Lemire's multiply-shift
 * with rejection (unbiased).
 */
#include <math.h>
#include <string.h>

#include "sacroai/sai_stats.h"

typedef struct {
    uint64_t s[4];
} rng_state;

static inline uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static inline uint64_t xoshiro_next(rng_state *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

static void rng_seed(rng_state *r, uint64_t seed, int64_t replicate)
{
    uint64_t x = seed + (uint64_t)replicate * 0x9E3779B97F4A7C15ull;
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&x);
}

/* Uniform integer in [0, k), k >= 1 (Lemire 2019). */
static inline uint64_t rng_below(rng_state *r, uint64_t k)
{
    unsigned __int128 p = (unsigned __int128)xoshiro_next(r) * k;
    uint64_t lo = (uint64_t)p;
    if (lo < k) {
        uint64_t thresh = (0 - k) % k;
        while (lo < thresh) {
            p = (unsigned __int128)xoshiro_next(r) * k;
            lo = (uint64_t)p;
        }
    }
    return (uint64_t)(p >> 64);
}

/* Units grouped by stratum: members[start[s] .. start[s+1]) */
typedef struct {
    int64_t *start;
    int64_t *members;
} strata_index;

static sai_status build_strata(const int64_t *unit_stratum, int64_t n_units, int64_t n_strata,
                               strata_index *ix)
{
    if (n_units < 1) return sai_error_set(SAI_EINVAL, "bootstrap: need at least one unit");
    if (n_strata < 1) return sai_error_set(SAI_EINVAL, "bootstrap: need at least one stratum");
    ix->start = sai_calloc((size_t)(n_strata + 1) * sizeof(int64_t));
    ix->members = sai_alloc((size_t)n_units * sizeof(int64_t));
    if (!ix->start || !ix->members) {
        sai_free(ix->start);
        sai_free(ix->members);
        return SAI_ENOMEM;
    }
    for (int64_t u = 0; u < n_units; u++) {
        int64_t s = unit_stratum[u];
        if (s < 0 || s >= n_strata) {
            sai_free(ix->start);
            sai_free(ix->members);
            return sai_error_set(SAI_EINVAL, "bootstrap: unit %lld has stratum %lld outside [0, %lld)",
                                 (long long)u, (long long)s, (long long)n_strata);
        }
        ix->start[s + 1]++;
    }
    for (int64_t s = 0; s < n_strata; s++) ix->start[s + 1] += ix->start[s];
    int64_t *fill = sai_alloc((size_t)n_strata * sizeof(int64_t));
    if (!fill) {
        sai_free(ix->start);
        sai_free(ix->members);
        return SAI_ENOMEM;
    }
    memcpy(fill, ix->start, (size_t)n_strata * sizeof(int64_t));
    for (int64_t u = 0; u < n_units; u++) ix->members[fill[unit_stratum[u]]++] = u;
    sai_free(fill);
    return SAI_OK;
}

static void free_strata(strata_index *ix)
{
    sai_free(ix->start);
    sai_free(ix->members);
}

/* One replicate's draw counts (counts zeroed by the caller). */
static void draw_replicate(const strata_index *ix, int64_t n_strata, uint64_t seed, int64_t b,
                           int32_t *counts)
{
    rng_state r;
    rng_seed(&r, seed, b);
    for (int64_t s = 0; s < n_strata; s++) {
        int64_t a = ix->start[s], size = ix->start[s + 1] - a;
        for (int64_t t = 0; t < size; t++) counts[ix->members[a + (int64_t)rng_below(&r, (uint64_t)size)]]++;
    }
}

sai_status sai_stats_boot_counts(const int64_t *unit_stratum, int64_t n_units, int64_t n_strata,
                                 int64_t n_boot, uint64_t seed, int32_t *counts)
{
    if (n_boot < 1) return sai_error_set(SAI_EINVAL, "bootstrap: n_boot must be >= 1, got %lld", (long long)n_boot);
    if (n_units > INT32_MAX) return sai_error_set(SAI_EINVAL, "bootstrap: too many units");
    strata_index ix;
    sai_status rc = build_strata(unit_stratum, n_units, n_strata, &ix);
    if (rc) return rc;
#pragma omp parallel for schedule(static) num_threads(sai_get_num_threads())
    for (int64_t b = 0; b < n_boot; b++) {
        int32_t *row = counts + b * n_units;
        memset(row, 0, (size_t)n_units * sizeof(int32_t));
        draw_replicate(&ix, n_strata, seed, b, row);
    }
    free_strata(&ix);
    return SAI_OK;
}

sai_status sai_stats_boot_auc(const double *score, const uint8_t *y, const int64_t *unit,
                              int64_t n, const int64_t *unit_stratum, int64_t n_units,
                              int64_t n_strata, int64_t n_boot, uint64_t seed, double *auc)
{
    if (n_boot < 1) return sai_error_set(SAI_EINVAL, "bootstrap: n_boot must be >= 1, got %lld", (long long)n_boot);
    if (n < 1) return sai_error_set(SAI_EINVAL, "bootstrap: no observations");
    if (n_units > INT32_MAX) return sai_error_set(SAI_EINVAL, "bootstrap: too many units");
    for (int64_t i = 0; i < n; i++) {
        if (unit[i] < 0 || unit[i] >= n_units)
            return sai_error_set(SAI_EINVAL, "bootstrap: observation %lld has unit %lld outside [0, %lld)",
                                 (long long)i, (long long)unit[i], (long long)n_units);
        if (y[i] > 1) return sai_error_set(SAI_EINVAL, "y_true[%lld] = %d is not 0 or 1", (long long)i, y[i]);
    }
    strata_index ix;
    sai_status rc = build_strata(unit_stratum, n_units, n_strata, &ix);
    if (rc) return rc;
    /* One sort; then tie groups in ascending order as runs of
     * (unit, label) pairs so that a replicate is one linear pass. */
    int64_t *order = sai_alloc((size_t)n * sizeof(int64_t));
    int64_t *group_end = sai_alloc((size_t)n * sizeof(int64_t));
    int64_t *sorted_unit = sai_alloc((size_t)n * sizeof(int64_t));
    uint8_t *sorted_y = sai_alloc((size_t)n);
    if (!order || !group_end || !sorted_unit || !sorted_y) {
        rc = SAI_ENOMEM;
        goto done;
    }
    if ((rc = sai_stats_argsort(score, n, order))) goto done;
    int64_t n_groups = 0;
    for (int64_t i = 0; i < n;) {
        int64_t j = i;
        double v = score[order[i]];
        while (j < n && score[order[j]] == v) j++;
        group_end[n_groups++] = j;
        i = j;
    }
    for (int64_t i = 0; i < n; i++) {
        sorted_unit[i] = unit[order[i]];
        sorted_y[i] = y[order[i]];
    }
    int nthreads = sai_get_num_threads();
    int failed = 0;
#pragma omp parallel num_threads(nthreads)
    {
        int32_t *counts = sai_alloc((size_t)n_units * sizeof(int32_t));
        if (!counts) {
#pragma omp atomic write
            failed = 1;
        }
#pragma omp for schedule(dynamic, 32)
        for (int64_t b = 0; b < n_boot; b++) {
            if (!counts) continue;
            memset(counts, 0, (size_t)n_units * sizeof(int32_t));
            draw_replicate(&ix, n_strata, seed, b, counts);
            double neg_below = 0.0, num = 0.0, wpos = 0.0;
            int64_t i = 0;
            for (int64_t g = 0; g < n_groups; g++) {
                double gp = 0.0, gn = 0.0;
                for (; i < group_end[g]; i++) {
                    double w = (double)counts[sorted_unit[i]];
                    if (sorted_y[i]) gp += w; else gn += w;
                }
                num += gp * (neg_below + 0.5 * gn);
                neg_below += gn;
                wpos += gp;
            }
            auc[b] = (wpos > 0.0 && neg_below > 0.0) ? num / (wpos * neg_below) : NAN;
        }
        sai_free(counts);
    }
    if (failed) rc = sai_error_set(SAI_ENOMEM, "bootstrap: out of memory for per-thread counts");
done:
    free_strata(&ix);
    sai_free(order);
    sai_free(group_end);
    sai_free(sorted_unit);
    sai_free(sorted_y);
    return rc;
}
