"""Run every benchmark script, one after another, and print their tables.

    python benches/run.py            # default sizes, a few minutes
    python benches/run.py --large    # the big sizes named in the issues
    python benches/run.py samplers   # only some of them
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCRIPTS = ["samplers", "metrics", "cluster"]
SCRIPTS += ["losses"]
SCRIPTS += ["trust"]  # issue 16: per-class bootstrap intervals
SCRIPTS.append("detection")
SCRIPTS += ["select", "select_dynamics"]
SCRIPTS += ["noise"]  # label issues vs cleanlab


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("only", nargs="*", choices=SCRIPTS + [[]], help="scripts to run")
    parser.add_argument("--large", action="store_true", help="run the large sizes too")
    args = parser.parse_args()
    failed = []
    for name in args.only or SCRIPTS:
        script = HERE / f"{name}.py"
        if not script.exists():
            print(f"# {name}: {script.name} not found, skipped")
            continue
        cmd = [sys.executable, str(script)] + (["--large"] if args.large else [])
        print(f"\n## {name}\n", flush=True)
        if subprocess.call(cmd) != 0:
            failed.append(name)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
