"""The ``sacroai`` command line.

    sacroai info                      what the core was built and linked with
    sacroai demo [--out DIR]          the demo cohort study on generated data

Errors print as one line (``sacroai: error: ...``) and exit with status 1;
``--debug`` shows the traceback instead.
"""
from __future__ import annotations

import argparse
import sys


def _cmd_info(args) -> int:
    from . import show_config
    show_config()
    return 0


def _cmd_demo(args) -> int:
    from .demo import run_demo
    run_demo(out=args.out, patients=args.patients, seed=args.seed)
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="sacroai", description="Rheumatology imaging research on a CPU.")
    p.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    p.add_argument("--threads", type=int, default=None, help="threads for the C core (default: all cores)")
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("info", help="show build and run-time configuration").set_defaults(func=_cmd_info)
    d = sub.add_parser("demo", help="run the demo cohort study on generated phantoms")
    d.add_argument("--out", default="report", help="output folder (default: ./report)")
    d.add_argument("--patients", type=int, default=60, help="phantom patients to generate (default 60)")
    d.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    d.set_defaults(func=_cmd_demo)
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
