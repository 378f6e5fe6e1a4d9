"""``python -m reliability [--short] [--part NAME ...]``: run the reliability suite.

Each part prints its figures and returns False when an invariant broke; the exit
status is 1 when any part did. ``--short`` is the bounded run CI does;
``RELIABILITY_SCALE`` (an environment variable, default 1) multiplies case
counts and durations for a longer run.
"""

from __future__ import annotations

import argparse
import importlib
import subprocess
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
    argv = sys.argv[1:] if argv is None else argv
    args = parser.parse_args(argv)
    parts = args.part or PARTS
    failed = []
    for name in parts:
        started = time.monotonic()
        if len(parts) == 1:
            print(f"\n== {name} ==", flush=True)
            ok = modules[name].run(args)
            print(f"== {name}: {'ok' if ok else 'FAILED'} in {time.monotonic() - started:.0f} s ==", flush=True)
        else:
            # A process per part: each configures Django in-process for its own
            # server's database and keys, which a second part could not redo.
            command = [sys.executable, "-m", "reliability", "--part", name, *_without_parts(argv)]
            ok = subprocess.run(command, check=False).returncode == 0
        if not ok:
            failed.append(name)
    if failed:
        print("FAILED: " + ", ".join(failed))
        return 1
    print(f"\nAll reliability parts passed ({', '.join(parts)}).")
    return 0


def _without_parts(argv: list[str]) -> list[str]:
    out, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--part":
            skip = True
        elif not arg.startswith("--part="):
            out.append(arg)
    return out


if __name__ == "__main__":
    sys.exit(main())
