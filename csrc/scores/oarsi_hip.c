/* oarsi_hip.c: OARSI atlas hip features and the Croft feature-based hip grade.
 * Source definitions: Altman RD, Gold GE, Osteoarthritis Cartilage 2007;15
 * (Suppl A):A1-A56 (feature grades); Croft P et al., Am J Epidemiol
 * 1990;132:514-522 (grade 0-5); OARSI-to-presence mapping is the sacroai
 * convention of SCORES.md section 7.3. */
#include "sc_internal.h"

static const int8_t HI[9] = {3, 3, 3, 1, 3, 3, 1, 1, 1};

sai_status sai_oarsi_hip(int64_t n, const int8_t *feat, sai_sc_rows rows, int8_t *out,
                         int8_t *warn)
{
    SC_CHECK_ROWS(n, rows);
    for (int64_t r = 0; r < n; r++) {
        const int8_t *f = feat + 9 * r;
        int8_t *o = out + 4 * r;
        o[0] = o[1] = o[2] = o[3] = -1;
        warn[r] = 0;
        int bad = -1, rc = 0;
        for (int k = 0; k < 9 && bad < 0; k++) if ((rc = sc_check_grade(f[k], 0, HI[k], 0, 0))) bad = k;
        if (bad >= 0) { sc_error(rows, r, rc, bad); continue; }
        o[0] = (int8_t)(f[0] + f[1] + f[2] + f[3]);
        o[1] = (int8_t)(f[4] + f[5]);
        int O = o[0] > 0, N = o[1] > 0, S = f[6], C = f[7], D = f[8];
        int nf = O + N + S + C, croft;
        if (nf == 0) croft = 0;
        else if (nf == 1) croft = O ? 1 : (N ? 2 : -1);
        else if (nf == 2) croft = 3;
        else croft = 4;
        if (croft < 0) warn[r] |= 1;
        if (D) {
            if (nf >= 3) croft = 5;
            else warn[r] |= 2;
        }
        o[2] = (int8_t)croft;
        o[3] = (int8_t)(croft < 0 ? -1 : croft >= 3);
        sc_ok(rows, r, croft < 0);
    }
    return SAI_OK;
}
