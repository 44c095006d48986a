"""The ``sacroai`` command line.

    sacroai info                                  what the core was built and linked with
    sacroai demo [--study S] [--out DIR] [--patients N] [--train]
                                                  a demo cohort study on phantoms (S: sij_mri, the
                                                  default; sij_ct; hip_xray; dlr)
    sacroai sparcc SCAN.nii.gz [--out DIR]        SPARCC SIJ and ASAS for one STIR series
    sacroai evaluate PRED.csv --outcome COL --score COL [--score COL ...] [--groups COL] [--out DIR]
                                                  ROC/DeLong, calibration, decision curve report

Errors print as one line (``sacroai: error: ...``) and exit with status 1;
``--debug`` shows the traceback instead.
"""
from __future__ import annotations

import argparse
import sys

STUDIES = ("sij_mri", "sij_ct", "hip_xray", "dlr")


def _cmd_info(args) -> int:
    from . import show_config
    show_config()
    return 0


def _cmd_demo(args) -> int:
    from .demo import run_study_demo
    run_study_demo(args.study, out=args.out, patients=args.patients, seed=args.seed, train=args.train,
                   weights=args.weights)
    return 0


def _cmd_sparcc(args) -> int:
    import json
    import os

    from .io import load
    from .pipelines.sij_mri import SIJMRIPipeline

    if not os.path.exists(args.scan):
        raise FileNotFoundError(f"{args.scan}: no such file")
    vol = load(args.scan)
    if vol.ndim != 3:
        raise ValueError(f"{args.scan}: expected one 3-D STIR series, got {vol.ndim} dimensions {vol.shape}")
    res = SIJMRIPipeline.from_weights(args.weights).run(vol, check_orientation=not args.any_orientation)
    summary = res.summary()
    os.makedirs(args.out, exist_ok=True)
    stem = os.path.basename(args.scan).split(".")[0]
    with open(os.path.join(args.out, f"{stem}_sparcc.json"), "w") as f:
        json.dump(summary, f, indent=1, default=float)
    res.overlay(os.path.join(args.out, f"{stem}_overlay.png"))
    print(f"{stem}: SPARCC {summary['sparcc_total']} (left {summary['sparcc_left']}, right {summary['sparcc_right']}); "
          f"ASAS MRI {'positive' if summary['asas_positive'] else 'negative'}; "
          f"P(active) {summary['p_active']:.2f}; details in {args.out}/")
    return 0


def _cmd_evaluate(args) -> int:
    import csv
    import json
    import os

    import numpy as np

    from .plotting import report
    from .stats import roc_auc

    if not os.path.exists(args.predictions):
        raise FileNotFoundError(f"{args.predictions}: no such file")
    with open(args.predictions, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        raise ValueError(f"{args.predictions}: no rows")
    for col in [args.outcome, *args.score] + ([args.groups] if args.groups else []):
        if col not in rows[0]:
            raise ValueError(f"{args.predictions}: no column '{col}'; columns are {list(rows[0])}")
    try:
        y = np.array([float(r[args.outcome]) for r in rows])
        risks = {c: np.array([float(r[c]) for r in rows]) for c in args.score}
    except ValueError as exc:
        raise ValueError(f"{args.predictions}: a non-numeric value ({exc})") from None
    groups = np.array([r[args.groups] for r in rows]) if args.groups else None
    os.makedirs(args.out, exist_ok=True)
    out = {}
    for name, s in risks.items():
        a = roc_auc(y, s, ci="delong", groups=groups)
        out[name] = {"auc": a.estimate, "ci": [a.ci_low, a.ci_high], "method": a.method, "n": a.n}
        print(f"{name}: AUC {a.estimate:.3f} [{a.ci_low:.3f}, {a.ci_high:.3f}] ({a.method}, n = {a.n})")
    probs = {k: v for k, v in risks.items() if np.all((v >= 0) & (v <= 1))}
    if probs:
        report(y, probs, os.path.join(args.out, "report.html"), title=os.path.basename(args.predictions))
        report(y, probs, os.path.join(args.out, "report.png"), title=os.path.basename(args.predictions))
    with open(os.path.join(args.out, "metrics.json"), "w") as f:
        json.dump(out, f, indent=1, default=float)
    print(f"report written to {args.out}/" + ("" if probs else " (scores are not probabilities: ROC only)"))
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="sacroai", description="Rheumatology imaging research on a CPU.")
    p.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    p.add_argument("--threads", type=int, default=None, help="threads for the C core (default: all cores)")
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("info", help="show build and run-time configuration").set_defaults(func=_cmd_info)
    d = sub.add_parser("demo", help="run the demo cohort study on generated phantoms")
    d.add_argument("--study", default="sij_mri", choices=STUDIES,
                   help="which study: sij_mri (default), sij_ct, hip_xray or dlr")
    d.add_argument("--out", default=None,
                   help="output folder (default: ./report for sij_mri, ./report_<study> for the others)")
    d.add_argument("--patients", type=int, default=None,
                   help="phantom patients to generate (default: the study's own, 60 for sij_mri)")
    d.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    d.add_argument("--train", action="store_true", help="train the networks first instead of using the shipped weights")
    d.add_argument("--weights", default=None, help="folder with the pipeline's weights (default: the shipped ones)")
    d.set_defaults(func=_cmd_demo)
    sp = sub.add_parser("sparcc", help="SPARCC SIJ and ASAS for one semicoronal STIR series")
    sp.add_argument("scan", help="the STIR series (.nii or .nii.gz)")
    sp.add_argument("--out", default="sparcc", help="output folder (default: ./sparcc)")
    sp.add_argument("--weights", default=None, help="folder with the pipeline's weights")
    sp.add_argument("--any-orientation", action="store_true", help="skip the semicoronal slice check")
    sp.set_defaults(func=_cmd_sparcc)
    ev = sub.add_parser("evaluate", help="diagnostic statistics report from a predictions table")
    ev.add_argument("predictions", help="CSV with one row per case")
    ev.add_argument("--outcome", required=True, help="column with the 0/1 outcome")
    ev.add_argument("--score", required=True, action="append", help="column with a score (repeatable)")
    ev.add_argument("--groups", default=None, help="column with the patient id (clustered DeLong)")
    ev.add_argument("--out", default="evaluation", help="output folder (default: ./evaluation)")
    ev.set_defaults(func=_cmd_evaluate)
    return p


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.threads is not None:
            from . import set_num_threads
            set_num_threads(args.threads)
        return args.func(args)
    except KeyboardInterrupt:
        print("sacroai: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # one clear line unless --debug
        if args.debug:
            raise
        print(f"sacroai: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
