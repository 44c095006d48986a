/* asas.c: ASAS definition of active sacroiliitis on MRI (operational 2009
 * rule) and the ASAS classification criteria for axial SpA.
 * Source definitions: Rudwaleit M et al., Ann Rheum Dis 2009;68:1520-1527
 * (MRI); Lambert RGW et al., Ann Rheum Dis 2016;75:1958-1963 (update);
 * Rudwaleit M et al., Ann Rheum Dis 2009;68:777-783 (classification);
 * SCORES.md section 6. */
#include "sc_internal.h"

sai_status sai_asas_mri_sij(int64_t n, const int64_t *lesion_ptr, const int64_t *slice_ptr,
                            const int32_t *slice_idx, const int8_t *typical,
                            const int8_t *suggestive, sai_sc_rows rows, int8_t *positive,
                            int8_t *criterion)
{
    SC_CHECK_ROWS(n, rows);
#pragma omp parallel for num_threads(sai_get_num_threads()) schedule(dynamic, 256) if (n > 4096)
    for (int64_t r = 0; r < n; r++) {
        positive[r] = criterion[r] = -1;
        int bad = 0;
        for (int64_t L = lesion_ptr[r]; L < lesion_ptr[r + 1] && !bad; L++) {
            int64_t a = slice_ptr[L], b = slice_ptr[L + 1];
            if (b <= a) { sc_error(rows, r, SAI_SC_R_MALFORMED_INPUT, (int32_t)(L - lesion_ptr[r])); bad = 1; break; }
            for (int64_t i = a; i < b && !bad; i++) {
                if (slice_idx[i] < 0) { sc_error(rows, r, SAI_SC_R_VALUE_OUT_OF_RANGE, (int32_t)(L - lesion_ptr[r])); bad = 1; }
                for (int64_t j = a; j < i && !bad; j++)
                    if (slice_idx[j] == slice_idx[i]) { sc_error(rows, r, SAI_SC_R_MALFORMED_INPUT, (int32_t)(L - lesion_ptr[r])); bad = 1; }
            }
        }
        if (bad) continue;
        int multi_slice = 0, multi_lesion = 0;
        for (int64_t L = lesion_ptr[r]; L < lesion_ptr[r + 1]; L++) {
            if (!typical[L]) continue;
            int64_t a = slice_ptr[L], b = slice_ptr[L + 1];
            for (int64_t i = a; i < b; i++) {
                for (int64_t j = a; j < b; j++)
                    if (slice_idx[j] == slice_idx[i] + 1) multi_slice = 1;
                /* another typical lesion on the same slice */
                for (int64_t M = lesion_ptr[r]; M < lesion_ptr[r + 1] && !multi_lesion; M++) {
                    if (M == L || !typical[M]) continue;
                    for (int64_t k = slice_ptr[M]; k < slice_ptr[M + 1]; k++)
                        if (slice_idx[k] == slice_idx[i]) { multi_lesion = 1; break; }
                }
            }
        }
        int pos = suggestive[r] && (multi_slice || multi_lesion);
        positive[r] = (int8_t)pos;
        criterion[r] = (int8_t)(pos ? (multi_slice ? 1 : 0) + (multi_lesion ? 2 : 0) : 0);
        sc_ok(rows, r, 0);
    }
    return SAI_OK;
}

/* three-valued "at least k true" over m flags */
static int at_least(const int8_t *f, int m, int k)
{
    int yes = 0, unk = 0;
    for (int i = 0; i < m; i++) { yes += f[i] == 1; unk += f[i] == SAI_SC_NULL; }
    if (yes >= k) return 1;
    if (yes + unk < k) return 0;
    return -1;
}

static int and3(int a, int b) { return (a == 0 || b == 0) ? 0 : ((a == 1 && b == 1) ? 1 : -1); }
static int or3(int a, int b) { return (a == 1 || b == 1) ? 1 : ((a == 0 && b == 0) ? 0 : -1); }

sai_status sai_asas_axspa(int64_t n, const double *months, const double *onset_age,
                          const int8_t *flags, sai_sc_rows rows, int8_t *out)
{
    SC_CHECK_ROWS(n, rows);
#pragma omp parallel for num_threads(sai_get_num_threads()) schedule(static) if (n > 8192)
    for (int64_t r = 0; r < n; r++) {
        const int8_t *f = flags + 13 * r;
        int8_t *o = out + 5 * r;
        for (int k = 0; k < 5; k++) o[k] = -1;
        int bad = -1, rc = 0;
        if (sc_check_real(months[r], 0.0, INFINITY)) { bad = 0; rc = SAI_SC_R_VALUE_OUT_OF_RANGE; }
        else if (sc_check_real(onset_age[r], 0.0, 150.0)) { bad = 1; rc = SAI_SC_R_VALUE_OUT_OF_RANGE; }
        for (int k = 0; k < 13 && bad < 0; k++) if ((rc = sc_check_grade(f[k], 0, 1, 1, 0))) bad = 2 + k;
        if (bad >= 0) { sc_error(rows, r, rc, bad); continue; }
        int e1 = isnan(months[r]) ? -1 : months[r] >= 3.0;
        int e2 = isnan(onset_age[r]) ? -1 : onset_age[r] < 45.0;
        int entry = and3(e1, e2);
        o[0] = (int8_t)entry;
        int anynull = isnan(months[r]) || isnan(onset_age[r]);
        for (int k = 0; k < 13; k++) anynull |= f[k] == SAI_SC_NULL;
        if (entry == 0) { o[3] = 0; sc_ok(rows, r, anynull); continue; }
        int mri = f[0], xray = f[1], b27 = f[2];
        const int8_t *feat = f + 3;
        int8_t with_b27[11];
        for (int k = 0; k < 10; k++) with_b27[k] = feat[k];
        with_b27[10] = (int8_t)b27;
        int sacroiliitis = or3(mri, xray);
        int imaging = and3(sacroiliitis, at_least(with_b27, 11, 1));
        int clinical = and3(b27, at_least(feat, 10, 2));
        int cls = and3(entry, or3(imaging, clinical));
        o[1] = (int8_t)imaging;
        o[2] = (int8_t)clinical;
        o[3] = (int8_t)cls;
        o[4] = cls == 1 ? (int8_t)(xray == 1 ? 1 : (xray == 0 ? 0 : -1)) : -1;
        sc_ok(rows, r, anynull);
    }
    return SAI_OK;
}
