"""python -m greenlight_local.chaos [--uploads N] [--seed S] [--small]: run, print the figures, exit 1 on
any violation."""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

from greenlight_local.chaos.config import ChaosConfig
from greenlight_local.chaos.run import run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m greenlight_local.chaos",
                                     description="Run the chaos harness against the local pipeline.")
    parser.add_argument("--uploads", type=int, default=None, help="items to upload (default 1000; --small: 60)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--small", action="store_true", help="the small run of make test (shorter time scale)")
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args(argv)
    config = ChaosConfig.small(seed=args.seed) if args.small else ChaosConfig(seed=args.seed)
    if args.uploads is not None:
        config = replace(config, uploads=args.uploads)
    if args.workdir is not None:
        config = replace(config, workdir=args.workdir)
    report = run(config)
    print(report.summary(), flush=True)
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
