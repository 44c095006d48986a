"""Reproduce the CT bone-segmentation weights (sacrum, left/right hip bone) from phantoms.

    python weights/train_sij_ct_bones.py [--out weights] [--seed 0] [--threads 1]

Trains ``sacroai.pipelines.sij_ct_seg.bones_model`` on procedural phantoms only
(``generate_pelvis_ct`` and, for the grading pipeline's phantoms, ``generate_sij_ct``),
writes ``sij_ct_bones.safetensors`` and its card ``sij_ct_bones.json``.  The same seed
and thread count write the same weight file byte for byte.  When the real CT of
``--real-dir`` exists it is only *evaluated* (Dice, joint-centre distances) and the
figures go into the card; nothing is trained or selected on it.
"""
import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import numpy as np  # noqa: E402

from sacroai import config  # noqa: E402
from sacroai.nn.losses import DiceCELoss  # noqa: E402
from sacroai.nn.optim import Adam  # noqa: E402
from sacroai.nn.weights import save_weights  # noqa: E402
from sacroai.phantoms import generate_sij_ct  # noqa: E402
from sacroai.phantoms.pelvis_ct import generate_pelvis_ct  # noqa: E402
from sacroai.pipelines import sij_ct_seg as seg  # noqa: E402
from sacroai.train import fit  # noqa: E402
from sacroai.transforms import CTNormalizer, resample_labels  # noqa: E402
from sacroai.volume import Volume  # noqa: E402
from sacroai.nn import conv_algorithm  # noqa: E402

TRAIN_SHAPE = (128, 112)   # in-plane training crop at 3 mm (384 x 336 mm)
_REPO = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
REAL_DIR = os.path.join(os.environ.get("SACROAI_REAL_DATA", os.path.join(_REPO, "..", "shared", "data", "real")),
                        "totalsegmentator")


def phantom(seed: int, kind: str):
    """(ct Volume, labels uint8) of one training/test phantom; spacing drawn from the seed."""
    rng = np.random.default_rng([seed, 7])
    if kind == "sij_ct":
        g = {"left": int(rng.integers(0, 5)), "right": int(rng.integers(0, 5))}
        ph = generate_sij_ct(seed, grades=g)
        return ph.ct, ph.bones
    sp = (rng.uniform(2.4, 3.6), rng.uniform(2.4, 3.6), rng.uniform(1.0, 4.0))
    sp = (sp[0], sp[0], sp[2])
    ph = generate_pelvis_ct(seed, spacing=sp)
    return ph.ct, ph.labels


def grid_case(seed: int, kind: str):
    """The phantom on the network grid: (HU (I, J, K) float32, labels (I, J, K) uint8)."""
    ct, lab = phantom(seed, kind)
    grid = seg.prepare(ct)
    glab = resample_labels(Volume(lab.astype(np.uint8), ct.affine), affine=grid.affine, shape=grid.shape)
    return np.asarray(grid.array, np.float32), np.asarray(glab.array, np.uint8)


def _fit_crop(a: np.ndarray, shape, fill, rng):
    """Crop (random offset) or pad (centred) the first two axes to ``shape``."""
    out = np.full(tuple(shape) + a.shape[2:], fill, a.dtype)
    src, dst = [], []
    for ax in range(2):
        n, m = a.shape[ax], shape[ax]
        if n >= m:
            o = int(rng.integers(0, n - m + 1))
            src.append(slice(o, o + m)), dst.append(slice(0, m))
        else:
            o = (m - n) // 2
            src.append(slice(0, n)), dst.append(slice(o, o + n))
    out[dst[0], dst[1]] = a[src[0], src[1]]
    return out


def build_arrays(cases, normalizer, rng, max_slices=40, bg_fraction=0.25):
    """Training samples: (N, 3, 128, 112) inputs and (N, 1, 128, 112) int64 labels."""
    xs, ys = [], []
    for hu, lab in cases:
        # one crop for image and labels: crop them stacked, padding with NaN
        stack = np.stack([hu, lab.astype(np.float32)], axis=-1)
        stack = _fit_crop(stack, TRAIN_SHAPE, np.nan, np.random.default_rng(rng.integers(2**63)))
        hu_c = np.where(np.isnan(stack[..., 0]), seg.HU_AIR, stack[..., 0]).astype(np.float32)
        lab_c = np.nan_to_num(stack[..., 1]).astype(np.int64)
        x = seg.slices_input(hu_c, normalizer)                      # (K, 3, 128, 112)
        fg = np.nonzero(lab_c.any(axis=(0, 1)))[0]
        bg = np.nonzero(~lab_c.any(axis=(0, 1)))[0]
        n_fg = min(len(fg), max_slices)
        pick = list(rng.choice(fg, n_fg, replace=False)) if n_fg else []
        n_bg = min(len(bg), int(round(bg_fraction * max(n_fg, 8))))
        pick += list(rng.choice(bg, n_bg, replace=False)) if n_bg else []
        pick = np.sort(np.asarray(pick, int))
        xs.append(x[pick])
        ys.append(np.moveaxis(lab_c, 2, 0)[pick][:, None])
    return np.concatenate(xs), np.concatenate(ys)


def augment(x, y, rng):
    """Left-right mirror (swapping the hip labels), intensity scale/shift and noise."""
    x, y = x.copy(), y.copy()
    flip = rng.random(len(x)) < 0.5
    if flip.any():
        x[flip] = x[flip][:, :, ::-1]
        yf = y[flip][:, :, ::-1]
        y[flip] = np.where(yf == 2, 3, np.where(yf == 3, 2, yf))
    scale = rng.uniform(0.9, 1.1, (len(x), 1, 1, 1)).astype(np.float32)
    shift = rng.uniform(-0.1, 0.1, (len(x), 1, 1, 1)).astype(np.float32)
    x = x * scale + shift + rng.normal(0, 0.05, x.shape).astype(np.float32)
    return np.ascontiguousarray(x, np.float32), np.ascontiguousarray(y)


def dice(p, t):
    p, t = np.asarray(p, bool), np.asarray(t, bool)
    s = p.sum() + t.sum()
    return float(2.0 * (p & t).sum() / s) if s else 1.0


def _val_dice(pred, target):
    lab = pred.argmax(axis=1)
    return float(np.mean([dice(lab == c, target[:, 0] == c) for c in (1, 2, 3)]))


def evaluate_phantoms(segmenter, seeds, kind):
    rows = []
    for s in seeds:
        ct, lab = phantom(s, kind)
        pred = np.asarray(segmenter.segment(ct).array)
        rows.append({c: dice(pred == k, lab == k) for k, c in ((1, "sacrum"), (2, "hip_left"), (3, "hip_right"))})
    out = {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}
    return dict(out, n=len(rows), min=float(min(min(r.values()) for r in rows)))


def evaluate_real_ct(segmenter, folder=REAL_DIR):
    """Dice against the TotalSegmentator masks and joint-centre distances on the real CT (evaluation only)."""
    import sacroai
    path = os.path.join(folder, "example_ct.nii.gz")
    if not os.path.exists(path):
        return None
    ct = sacroai.load(path)
    pred = segmenter.segment(ct)
    p = np.asarray(pred.array)
    ref = np.zeros(ct.shape, np.uint8)
    for k, name in ((1, "sacrum"), (2, "hip_left"), (3, "hip_right")):
        ref[np.asarray(sacroai.load(os.path.join(folder, "example_seg", name + ".nii.gz")).array) > 0.5] = k
    truth = seg.joint_rois(Volume(ref, ct.affine), contact_mm=4.5)
    rois = seg.joint_rois(pred)
    ks = sorted({k for s in ("left", "right") if truth[s]["found"] for k in truth[s]["slices"]})
    ksl = slice(ks[0], ks[-1] + 1)
    out = {"dice": {}, "dice_sij_slices": {}, "roi_distance_mm": {}, "roi_centre_mm": {}, "truth_centre_mm": {}}
    for k, name in ((1, "sacrum"), (2, "hip_left"), (3, "hip_right")):
        out["dice"][name] = dice(p == k, ref == k)
        out["dice_sij_slices"][name] = dice(p[:, :, ksl] == k, ref[:, :, ksl] == k)
    for side in ("left", "right"):
        t = truth[side]["centre_mm"]
        out["truth_centre_mm"][side] = [round(v, 2) for v in t]
        if rois[side]["found"]:
            c = rois[side]["centre_mm"]
            out["roi_centre_mm"][side] = [round(v, 2) for v in c]
            out["roi_distance_mm"][side] = float(np.linalg.norm(np.subtract(c, t)))
        else:
            out["roi_centre_mm"][side] = None
            out["roi_distance_mm"][side] = None
    out["sij_slices_k"] = [ks[0], ks[-1]]
    return out


def train(out_dir, seed=0, n_train=100, n_sij=16, n_val=6, n_test=16, epochs=3, threads=1, batch_size=16,
          lr=3e-3, max_slices=40, progress=True, real_dir=REAL_DIR):
    config.set_num_threads(threads)
    os.makedirs(out_dir, exist_ok=True)
    t0 = time.time()
    base = 1000 + seed * 100000
    tr = list(range(base, base + n_train))
    va = list(range(base + n_train, base + n_train + n_val))
    te = list(range(base + n_train + n_val, base + n_train + n_val + n_test))
    tr_sij = list(range(base + 50000, base + 50000 + n_sij))
    te_sij = list(range(base + 60000, base + 60000 + max(n_test // 4, 1)))
    rng = np.random.default_rng(seed)
    cases_tr = [grid_case(s, "pelvis") for s in tr] + [grid_case(s, "sij_ct") for s in tr_sij]
    cases_va = [grid_case(s, "pelvis") for s in va]
    norm = CTNormalizer(samples_per_case=10000, seed=seed).fit([c[0] for c in cases_tr], [c[1] > 0 for c in cases_tr])
    xtr, ytr = build_arrays(cases_tr, norm, rng, max_slices=max_slices)
    xva, yva = build_arrays(cases_va, norm, rng, max_slices=max_slices)
    del cases_tr, cases_va
    t_data = time.time() - t0

    model = seg.bones_model(rng=seed)
    loss = DiceCELoss(softmax=True, to_onehot_y=True, include_background=False, batch=True)
    opt = Adam(model.parameters(), lr=lr)
    from sacroai.nn.schedules import CosineAnnealingLR
    sched = CosineAnnealingLR(opt, T_max=max(epochs, 1))
    hist = fit(model, loss, opt, (xtr, ytr), (xva, yva), epochs=epochs, batch_size=batch_size, seed=seed,
               metrics={"dice": _val_dice}, progress=progress, monitor="val_dice", mode="max", augment=augment,
               scheduler=sched, clip_grad_norm=12.0)
    t_train = time.time() - t0 - t_data
    segm = seg.CTBoneSegmenter(model, norm)
    held = {"pelvis_ct": evaluate_phantoms(segm, te, "pelvis"), "sij_ct": evaluate_phantoms(segm, te_sij, "sij_ct")}
    real = evaluate_real_ct(segm, real_dir) if real_dir else None
    card = {
        "architecture": f"PlainConvUNet(spatial_dims=2, input_channels={2 * seg.CONTEXT + 1}, num_classes=4, "
                        f"features_per_stage={seg.FEATURES}, n_conv_per_stage=2, n_conv_per_stage_decoder=1)",
        "classes": [seg.LABELS[k] for k in range(4)],
        "input": "axial slices of the CT reoriented to RAS and resampled to 3 mm isotropic; channels = slices "
                 "k-1, k, k+1; nnU-Net CT normalisation (normalizer below); padded with -1024 HU",
        "spacing_mm": [seg.SPACING_MM] * 3,
        "normalizer": norm.to_dict(),
        "trained_on": f"{n_train} pelvic CT phantoms (sacroai.phantoms.generate_pelvis_ct, seeds {tr[0]}-{tr[-1]}) "
                      f"and {n_sij} SIJ CT phantoms (generate_sij_ct, seeds {tr_sij[0]}-{tr_sij[-1]}); "
                      f"{len(xtr)} slices; validated on {n_val} phantoms; never trained or selected on patient data",
        "seed": seed, "threads": config.get_num_threads(), "epochs": epochs, "batch_size": batch_size, "lr": lr,
        "training": {"history": [{k: v for k, v in h.items()} for h in hist]},
        "held_out_phantoms_dice": held,
        "real_ct_evaluation": real,
        "real_ct_note": "evaluation only: TotalSegmentator v1 masks of example_ct.nii.gz (model predictions, not "
                        "manual ground truth); joint centres = contact-zone centroids (joint_rois, 4.5 mm)",
        "selection_note": "the phantom was modelled on the real CT's images, and three phantom versions were "
                          "trained and compared on the real-CT figures in real_ct_evaluation, so those figures "
                          "are optimistic for new scans; no training sample, loss, epoch choice or early stopping "
                          "used the real CT or its masks",
        "created": None,
    }
    path = os.path.join(out_dir, seg.WEIGHTS_FILE)
    save_weights(model, path, card=card)
    return {"held_out_phantoms_dice": held, "real_ct": real, "n_slices": int(len(xtr)),
            "seconds_data": round(t_data, 1), "seconds_train": round(t_train, 1), "path": path}


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default=os.path.dirname(os.path.abspath(__file__)))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--n-train", type=int, default=100)
    p.add_argument("--n-sij", type=int, default=16)
    p.add_argument("--n-val", type=int, default=6)
    p.add_argument("--n-test", type=int, default=16)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--max-slices", type=int, default=40)
    p.add_argument("--real-dir", default=REAL_DIR)
    p.add_argument("--quiet", action="store_true")
    a = p.parse_args()
    res = train(a.out, seed=a.seed, n_train=a.n_train, n_sij=a.n_sij, n_val=a.n_val, n_test=a.n_test,
                epochs=a.epochs, threads=a.threads, max_slices=a.max_slices, progress=not a.quiet,
                real_dir=a.real_dir)
    print(json.dumps(res, indent=1))


if __name__ == "__main__":
    # the shipped weights were trained with im2col + GEMM convolutions; pinning
    # that algorithm reproduces them byte for byte (see sacroai.nn.backends)
    with conv_algorithm("gemm"):
        main()
