"""``python -m reliability [--short] [--part NAME ...]``: run the reliability suite.

Each part prints its figures and returns False when an invariant broke; the exit
status is 1 when any part did. ``--short`` is the bounded run CI does;
``RELIABILITY_SCALE`` (an environment variable, default 1) multiplies case
counts and durations for a longer run.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time

#: The parts, in the order they run: module names under ``reliability``.
PARTS = ("fuzz", "load", "faults")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m reliability", description=__doc__)
    parser.add_argument("--short", action="store_true", help="the bounded run CI does")
    parser.add_argument("--part", action="append", choices=PARTS, help="run only this part (repeatable)")
    modules = {name: importlib.import_module(f"reliability.{name}") for name in PARTS}
    for module in modules.values():
        module.add_arguments(parser)
    args = parser.parse_args(argv)
    failed = []
    for name in args.part or PARTS:
        started = time.monotonic()
        print(f"\n== {name} ==", flush=True)
        ok = modules[name].run(args)
        print(f"== {name}: {'ok' if ok else 'FAILED'} in {time.monotonic() - started:.0f} s ==", flush=True)
        if not ok:
            failed.append(name)
    if failed:
        print("FAILED: " + ", ".join(failed))
        return 1
    print("\nAll reliability parts passed.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
