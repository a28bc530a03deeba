"""Before and after: the numbers two ``--json`` outputs of a benchmark disagree on, side by side.

    python benchmarks/bench_accuracy_cuts.py --json before.json      # on the old code
    python benchmarks/bench_accuracy_cuts.py --json after.json       # on the new code
    python benchmarks/compare.py before.json after.json [--all]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def leaves(value, prefix: str = ""):
    """(dotted path, value) of every number, string and null in a JSON value."""
    if isinstance(value, dict):
        for k in sorted(value):
            yield from leaves(value[k], f"{prefix}.{k}" if prefix else str(k))
    elif isinstance(value, list) and all(not isinstance(v, (dict, list)) for v in value) and len(value) <= 8:
        yield prefix, value
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from leaves(v, f"{prefix}[{i}]")
    else:
        yield prefix, value


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("before", type=Path)
    ap.add_argument("after", type=Path)
    ap.add_argument("--all", action="store_true", help="also the numbers that did not change")
    args = ap.parse_args()
    a, b = (json.loads(p.read_text()) for p in (args.before, args.after))
    if a.get("benchmark") != b.get("benchmark"):
        print(f"warning: comparing {a.get('benchmark')} with {b.get('benchmark')}", file=sys.stderr)
    print(f"{'':<60} {'before':>14} {'after':>14}")
    print(f"{'commit':<60} {a.get('commit', '?') + ('+' if a.get('dirty') else ''):>14} "
          f"{b.get('commit', '?') + ('+' if b.get('dirty') else ''):>14}")
    old, new = dict(leaves(a.get("results", {}))), dict(leaves(b.get("results", {})))
    for key in sorted(set(old) | set(new)):
        x, y = old.get(key), new.get(key)
        if x == y and not args.all:
            continue
        show = lambda v: f"{v:.4g}" if isinstance(v, float) else json.dumps(v)[:14]  # noqa: E731
        change = f"  ({y - x:+.4g})" if isinstance(x, (int, float)) and isinstance(y, (int, float)) else ""
        print(f"{key[:60]:<60} {show(x):>14} {show(y):>14}{change}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
