"""``streamfuse subscribe URL|BROKER-URI [--type T]... [--query TEXT] [--since ID] [--limit N]
[--timeout S]``: print events as JSON lines on stdout.

Exit codes: 0 done (``--limit`` reached, ``--timeout`` passed, or the stream ended); 2 bad usage,
a bad or unreachable URI, refused credentials (one line on stderr, no traceback); 1 anything else.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from typing import TextIO

from ..errors import StreamfuseError
from . import subscribe


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="streamfuse subscribe",
                                description="Print events from the live server or a broker as JSON lines.")
    p.add_argument("url", metavar="URL|BROKER-URI",
                   help="http://HOST:PORT (live server), mqtt://, redis://, nats://")
    p.add_argument("--type", action="append", dest="types", metavar="T",
                   help="only this event type (repeatable; e.g. speech, scene.cut)")
    p.add_argument("--query", metavar="TEXT", help="only events whose text matches TEXT (at most 256 characters)")
    p.add_argument("--threshold", type=float, help="similarity a --query match needs")
    p.add_argument("--min-confidence", type=float, metavar="C", help="only events with confidence >= C")
    p.add_argument("--since", metavar="ID", help="replay the events after this event id first")
    p.add_argument("--limit", type=int, metavar="N", help="stop after N events")
    p.add_argument("--timeout", type=float, metavar="S", help="stop after S seconds")
    p.add_argument("--token", help="bearer token for the live server (default: $STREAMFUSE_TOKEN)")
    return p


async def _run(args: argparse.Namespace, out: TextIO) -> int:
    sub = subscribe(args.url, types=args.types, query=args.query, since=args.since,
                    min_confidence=args.min_confidence, token=args.token, threshold=args.threshold)
    deadline = None if args.timeout is None else time.monotonic() + args.timeout
    count = 0
    try:
        if deadline is None:
            await sub.start()
        else:
            await asyncio.wait_for(sub.start(), max(0.0, deadline - time.monotonic()))
        while args.limit is None or count < args.limit:
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                break
            try:
                event = await (sub.__anext__() if left is None else asyncio.wait_for(sub.__anext__(), left))
            except (StopAsyncIteration, asyncio.TimeoutError):
                break
            out.write(json.dumps(event, ensure_ascii=False, separators=(",", ":")) + "\n")
            out.flush()
            count += 1
    except asyncio.TimeoutError:
        pass
    finally:
        await sub.aclose()
    return 0


def run_subscribe_cli(args: list[str], out: TextIO | None = None, err: TextIO | None = None) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    try:
        ns = _parser().parse_args(args)
    except SystemExit as exc:  # argparse already printed the usage line
        return 0 if exc.code == 0 else 2
    if ns.limit is not None and ns.limit < 1 or ns.timeout is not None and ns.timeout <= 0:
        print("streamfuse subscribe: --limit and --timeout must be positive", file=err)
        return 2
    try:
        return asyncio.run(_run(ns, out))
    except StreamfuseError as exc:
        print(f"streamfuse subscribe: {exc}", file=err)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
