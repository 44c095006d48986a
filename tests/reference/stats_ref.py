"""Slow, obviously-correct NumPy twins of the statistics formulas (test references)."""
import numpy as np

MASK = (1 << 64) - 1


def delong_direct(y, s):
    """DeLong 1988 by the O(m*n) kernel psi(x, y) = 1, 1/2, 0."""
    y = np.asarray(y).astype(bool)
    x, z = s[y], s[~y]
    psi = (x[:, None] > z[None, :]) + 0.5 * (x[:, None] == z[None, :])
    v10 = psi.mean(axis=1)
    v01 = psi.mean(axis=0)
    auc = psi.mean()
    m, n = len(x), len(z)
    se = np.sqrt(np.var(v10, ddof=1) / m + np.var(v01, ddof=1) / n)
    return auc, v10, v01, se


def delong_paired_direct(y, a, b):
    y = np.asarray(y).astype(bool)
    comps = [delong_direct(y, s) for s in (a, b)]
    m, n = y.sum(), (~y).sum()
    s10 = np.cov(np.vstack([comps[0][1], comps[1][1]]))
    s01 = np.cov(np.vstack([comps[0][2], comps[1][2]]))
    S = s10 / m + s01 / n
    var = S[0, 0] + S[1, 1] - 2 * S[0, 1]
    return comps[0][0] - comps[1][0], var


def weighted_auc(y, s, w):
    """AUC with frequency weights w (O(m*n))."""
    y = np.asarray(y).astype(bool)
    x, z, wx, wz = s[y], s[~y], w[y], w[~y]
    psi = (x[:, None] > z[None, :]) + 0.5 * (x[:, None] == z[None, :])
    W = wx[:, None] * wz[None, :]
    return (psi * W).sum() / W.sum()


# --- the bootstrap RNG (splitmix64 seeding, xoshiro256**, Lemire bounded ints) in Python ints
def _splitmix(state):
    state = (state + 0x9E3779B97F4A7C15) & MASK
    z = state
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return state, z ^ (z >> 31)


def _rotl(x, k):
    return ((x << k) | (x >> (64 - k))) & MASK


class Xoshiro:
    def __init__(self, seed, replicate):
        x = (seed + replicate * 0x9E3779B97F4A7C15) & MASK
        self.s = []
        for _ in range(4):
            x, v = _splitmix(x)
            self.s.append(v)

    def next(self):
        s = self.s
        result = (_rotl((s[1] * 5) & MASK, 7) * 9) & MASK
        t = (s[1] << 17) & MASK
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = _rotl(s[3], 45)
        return result

    def below(self, k):
        p = self.next() * k
        lo = p & MASK
        if lo < k:
            thresh = (2**64 - k) % k
            while lo < thresh:
                p = self.next() * k
                lo = p & MASK
        return p >> 64


def boot_counts(unit_stratum, n_strata, n_boot, seed):
    unit_stratum = np.asarray(unit_stratum)
    out = np.zeros((n_boot, len(unit_stratum)), dtype=np.int32)
    for b in range(n_boot):
        r = Xoshiro(seed, b)
        for s in range(n_strata):
            members = np.flatnonzero(unit_stratum == s)
            for _ in range(len(members)):
                out[b, members[r.below(len(members))]] += 1
    return out


def obuchowski_se(y, s, groups):
    """Obuchowski (1997) clustered AUC variance, directly from the psi matrix."""
    y = np.asarray(y).astype(bool)
    g = np.asarray(groups)
    x, z = s[y], s[~y]
    gx, gz = g[y], g[~y]
    psi = (x[:, None] > z[None, :]) + 0.5 * (x[:, None] == z[None, :])
    M, N = len(x), len(z)
    theta = psi.mean()
    clusters = np.unique(g)
    I = len(clusters)
    s10 = s01 = s11 = 0.0
    for c in clusters:
        rows = gx == c
        cols = gz == c
        a = psi[rows].sum() / N - rows.sum() * theta   # sum of V10 over the cluster's positives
        b = psi[:, cols].sum() / M - cols.sum() * theta  # sum of V01 over the cluster's negatives
        s10 += a * a
        s01 += b * b
        s11 += a * b
    s10 *= I / ((I - 1) * M)
    s01 *= I / ((I - 1) * N)
    s11 *= I / (I - 1)
    return np.sqrt(s10 / M + s01 / N + 2 * s11 / (M * N))


def obuchowski_paired_var(y, a, b, groups):
    """Variance of AUC_a - AUC_b with clustered data (Obuchowski 1997), from psi matrices."""
    y = np.asarray(y).astype(bool)
    g = np.asarray(groups)
    gx, gz = g[y], g[~y]
    M, N = y.sum(), (~y).sum()
    clusters = np.unique(g)
    I = len(clusters)
    A, B, th = [], [], []
    for s in (a, b):
        x, z = s[y], s[~y]
        psi = (x[:, None] > z[None, :]) + 0.5 * (x[:, None] == z[None, :])
        t = psi.mean()
        th.append(t)
        A.append([psi[gx == c].sum() / N - (gx == c).sum() * t for c in clusters])
        B.append([psi[:, gz == c].sum() / M - (gz == c).sum() * t for c in clusters])
    A, B = np.array(A), np.array(B)
    f = I / (I - 1)
    cov = np.empty((2, 2))
    for r in range(2):
        for s in range(2):
            s10 = f / M * np.sum(A[r] * A[s])
            s01 = f / N * np.sum(B[r] * B[s])
            s11 = f * np.sum(A[r] * B[s])
            s11t = f * np.sum(A[s] * B[r])
            cov[r, s] = s10 / M + s01 / N + (s11 + s11t) / (M * N)
    return th[0] - th[1], cov[0, 0] + cov[1, 1] - 2 * cov[0, 1]
