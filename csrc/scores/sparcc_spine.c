/* sparcc_spine.c: SPARCC MRI spine inflammation score (0-108).
 * Source definition: Maksymowych WP et al., Arthritis Rheum 2005;53:502-509;
 * rules as restated in SCORES.md section 2 (23 discovertebral units, three
 * sagittal slices each, six highest DVU scores summed). */
#include "sc_internal.h"

enum { NL = 23, NS = 3 };

static void spine_row(const int8_t *q, const int8_t *in, const int8_t *de, const int8_t *pr,
                      sai_sc_rows rows, int64_t r, int32_t *score, int32_t *total,
                      int32_t *total_all, int32_t *sel)
{
    for (int l = 0; l < NL; l++) {
        if (!pr[l]) continue;
        for (int s = 0; s < NS; s++) {
            int u = l * NS + s, lesion = 0, unknown = 0;
            for (int j = 0; j < 4; j++) {
                int rc = sc_check_grade(q[u * 4 + j], 0, 1, 1, 0);
                if (rc) { sc_error(rows, r, rc, u * 6 + j); return; }
                lesion |= q[u * 4 + j] == 1;
                unknown |= q[u * 4 + j] == SAI_SC_NULL;
            }
            int rc = sc_check_grade(in[u], 0, 1, 1, 0);
            if (rc) { sc_error(rows, r, rc, u * 6 + 4); return; }
            rc = sc_check_grade(de[u], 0, 1, 1, 0);
            if (rc) { sc_error(rows, r, rc, u * 6 + 5); return; }
            if (!lesion && !unknown && (in[u] == 1 || de[u] == 1)) {
                sc_error(rows, r, SAI_SC_R_BONUS_WITHOUT_LESION, u * 6 + (in[u] == 1 ? 4 : 5));
                return;
            }
        }
    }
    int any_null = 0, all = 0;
    for (int l = 0; l < NL; l++) {
        score[l] = -1;
        if (!pr[l]) continue;
        int v = 0, nul = 0;
        for (int s = 0; s < NS; s++) {
            int u = l * NS + s;
            for (int j = 0; j < 4; j++) {
                if (q[u * 4 + j] == SAI_SC_NULL) nul = 1; else v += q[u * 4 + j];
            }
            if (in[u] == SAI_SC_NULL) nul = 1; else v += in[u];
            if (de[u] == SAI_SC_NULL) nul = 1; else v += de[u];
        }
        if (nul) any_null = 1; else { score[l] = v; all += v; }
    }
    for (int k = 0; k < 6; k++) sel[k] = -1;
    if (any_null) { *total = *total_all = -1; sc_ok(rows, r, 1); return; }
    /* six largest, ties cranial first (lower level index wins) */
    int used[NL] = {0}, tot = 0;
    for (int k = 0; k < 6; k++) {
        int best = -1;
        for (int l = 0; l < NL; l++)
            if (pr[l] && !used[l] && (best < 0 || score[l] > score[best])) best = l;
        if (best < 0) break;
        used[best] = 1;
        sel[k] = best;
        tot += score[best];
    }
    *total = tot;
    *total_all = all;
    sc_ok(rows, r, 0);
}

sai_status sai_sparcc_spine(int64_t n, const int8_t *quad, const int8_t *intense,
                            const int8_t *deep, const int8_t *present, sai_sc_rows rows,
                            int32_t *dvu_score, int32_t *total, int32_t *total_all,
                            int32_t *selected)
{
    SC_CHECK_ROWS(n, rows);
#pragma omp parallel for num_threads(sai_get_num_threads()) schedule(static) if (n > 2048)
    for (int64_t r = 0; r < n; r++) {
        int32_t *sc = dvu_score + r * NL, *sel = selected + r * 6;
        for (int l = 0; l < NL; l++) sc[l] = -1;
        for (int k = 0; k < 6; k++) sel[k] = -1;
        total[r] = total_all[r] = -1;
        spine_row(quad + r * NL * NS * 4, intense + r * NL * NS, deep + r * NL * NS,
                  present + r * NL, rows, r, sc, total + r, total_all + r, sel);
    }
    return SAI_OK;
}
