"""The ``longtail`` command line: ``longtail demo`` and ``longtail report``."""

from __future__ import annotations

import argparse
import sys

import longtail


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="longtail", description="Tools for class-imbalanced, long-tailed data."
    )
    parser.add_argument("--version", action="version", version=f"longtail {longtail.__version__}")
    parser.add_subparsers(dest="command")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stdout)
        return 0
    return 0
