"""The ``streamfuse`` command. Only this module imports the argument parser.

Exit codes: 0 success; 1 the work failed; 2 bad usage or bad input, with a one-line message;
130 interrupted (Ctrl-C); 143 terminated (SIGTERM) while analysing.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import signal
import sys
import traceback
from pathlib import Path
from typing import Iterator

from ..errors import StreamfuseError
from .common import EXIT_FAILED, EXIT_OK, EXIT_USAGE, _add_config_args, _Parser

def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="streamfuse", description="Multimodal understanding of video and audio, as it streams.")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of internal errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    a = sub.add_parser("analyze", help="analyse files, folders, globs or URLs; write results under OUT")
    a.add_argument("inputs", nargs="*", metavar="INPUT",
                   help="files, folders, globs or URLs (none: analyse a generated sample clip)")
    a.add_argument("-o", "--output", default=None, metavar="OUT", help="results folder (default ./streamfuse-out)")
    a.add_argument("--runtime", choices=["local", "ray"], default=None, help="where stages run (default: local)")
    a.add_argument("--subtitles", default=None, metavar="PATH", help="sidecar .srt/.vtt to use for the input(s)")
    a.add_argument("--no-progress", action="store_true", help="no progress bar")
    from .archive import add_batch_args
    add_batch_args(a)
    _add_config_args(a)

    r = sub.add_parser("search", help="ranked moments from analysed results", add_help=False)
    r.add_argument("rest", nargs=argparse.REMAINDER)

    t = sub.add_parser("report", help="a self-contained HTML timeline per input under OUT", add_help=False)
    t.add_argument("rest", nargs=argparse.REMAINDER)

    x = sub.add_parser("export", help="the archive's index as Parquet files", add_help=False)
    x.add_argument("rest", nargs=argparse.REMAINDER)

    s = sub.add_parser("subscribe", help="print events from a live server or a broker as JSON lines",
                       add_help=False)
    s.add_argument("rest", nargs=argparse.REMAINDER)

    w = sub.add_parser("watch", help="analyse a live feed until stopped", add_help=False)
    w.add_argument("rest", nargs=argparse.REMAINDER)

    m = sub.add_parser("models", help="which models each stage uses, where from, whether available offline")
    _add_config_args(m)
    m.add_argument("--json", action="store_true", help="print JSON")

    from .match import add_parser as add_match_parser
    add_match_parser(sub)
    from .generate import add_parser as add_generate_parser
    add_generate_parser(sub)
    from .learn import add_parsers as add_learning_parsers
    add_learning_parsers(sub)

    j = sub.add_parser("schema", help="print the JSON Schema events validate against (derived from the stages)")
    j.add_argument("-o", "--output", default=None, metavar="PATH", help="write it to PATH instead")
    return parser


def _load_config(args):
    from ..config.loader import load_config
    overrides = {}
    if getattr(args, "runtime", None):
        overrides["runtime"] = {"kind": args.runtime}
    if getattr(args, "subtitles", None):
        overrides["decode"] = {"subtitles": args.subtitles}
    if getattr(args, "output", None):
        overrides["output"] = {"directory": args.output}
    return load_config(args.config, args.sets, **overrides)


def cmd_analyze(args) -> int:
    from ..sources.resolve import resolve_inputs
    from .archive import run_batch_cli

    config = _load_config(args)
    out_dir = Path(config.output.directory)
    inputs = list(args.inputs)
    if not inputs:
        from ..testing.media import make_sample_clip
        sample_dir = out_dir / ".sample"
        sample_dir.mkdir(parents=True, exist_ok=True)
        sample = sample_dir / "sample.mkv"
        truth = make_sample_clip(str(sample))
        print(f"no input given: analysing a generated sample clip ({sample})", file=sys.stderr)
        inputs = [str(getattr(truth, "path", sample))]
    from ..archive.inputs import expand_list_files
    sources = resolve_inputs(expand_list_files(inputs), subtitles=config.decode.subtitles)
    progress = not args.no_progress and (sys.stderr.isatty() or len(sources) > 1)
    results, batch_code = run_batch_cli(args, sources, config, progress)
    code = batch_code
    for r in results:
        if r.ok:
            s = r.summary
            for a, b, reason in s["decode"]["damaged"]:
                if "truncated" not in reason:
                    print(f"streamfuse: warning: {r.source.name}: skipped damaged data at {a:.2f}-{b:.2f} s "
                          f"({reason}); the rest was analysed", file=sys.stderr)
            for note in s["decode"].get("warnings", ()):
                print(f"streamfuse: warning: {r.source.name}: {note}", file=sys.stderr)
            events = ", ".join(f"{k} {v}" for k, v in s["events"].items()) or "no events"
            print(f"{r.source.name}: {s['media_seconds']:.1f} s of media in {s['wall_seconds']:.1f} s "
                  f"({s['speed']}x), {s['windows']} windows; events: {events}")
            print(f"  results: {r.folder}")
        if r.error:
            if r.traceback and (args.debug or args.verbose):
                print(r.traceback, file=sys.stderr)
            print(f"streamfuse: error: {r.error}", file=sys.stderr)
        code = max(code, r.exit_code)
    return code


def cmd_models(args) -> int:
    from ..models import describe_models
    rows = describe_models(_load_config(args))
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        width = max(len(str(row["model"])) for row in rows)
        stage = max(len(str(row["stage"])) for row in rows)
        for row in rows:
            ok = "offline: yes" if row.get("available") else "offline: NO "
            off = "" if row.get("enabled", True) else "  (disabled)"
            how = "" if row.get("available") or not row.get("how") else f"  ({row['how']})"
            print(f"{row['stage']:<{stage}} {row['model']:<{width}}  {ok}  {row.get('location') or '-'}{off}{how}")
    return EXIT_OK


def cmd_schema(args) -> int:
    from ..events.cloudevents import event_schema
    text = json.dumps(event_schema(), indent=1) + "\n"
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return EXIT_OK


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C so that work in progress is abandoned the same careful way."""


@contextlib.contextmanager
def _sigterm_interrupts() -> Iterator[None]:
    """While analysing, SIGTERM (``docker stop``, ``timeout``, systemd) stops like Ctrl-C: the
    result being written is discarded (no half-written folder) and the decoding worker is stopped."""
    def handler(signum, frame):
        raise Terminated()

    try:
        old = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if args.command in ("watch", "subscribe", "search", "report", "export"):  # their own parsers take everything after the command, as given
        args.rest = argv[argv.index(args.command) + 1:]
    elif unknown:
        parser.parse_args(argv)  # reports the unknown arguments, exit 2
    logging.basicConfig(level=logging.WARNING - 10 * min(args.verbose, 2),
                        format="streamfuse: %(levelname)s: %(message)s")
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        if args.command == "analyze":
            with _sigterm_interrupts():
                return cmd_analyze(args)
        if args.command == "models":
            return cmd_models(args)
        if args.command == "schema":
            return cmd_schema(args)
        if args.command == "match":
            from .match import run_match
            return run_match(args)
        if args.command == "generate":
            from .generate import run_generate
            return run_generate(args)
        if args.command in ("train", "eval"):
            from .learn import cmd_eval, cmd_train
            return cmd_train(args) if args.command == "train" else cmd_eval(args)
        if args.command == "subscribe":
            from ..client.cli import run_subscribe_cli
            return run_subscribe_cli(args.rest)
        if args.command == "watch":
            from .watch import run_watch_cli
            return run_watch_cli(args.rest)
        if args.command == "search":
            from .archive import run_search_cli
            return run_search_cli(args.rest)
        if args.command == "report":
            from .archive import run_report_cli
            return run_report_cli(args.rest)
        if args.command == "export":
            from .archive import run_export_cli
            return run_export_cli(args.rest)
    except StreamfuseError as exc:
        print(f"streamfuse: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt as exc:
        terminated = isinstance(exc, Terminated)
        print(f"streamfuse: {'terminated' if terminated else 'interrupted'}", file=sys.stderr)
        return 143 if terminated else 130
    except Exception as exc:  # a bug, not the user's mistake: one line unless --debug
        if args.debug:
            traceback.print_exc()
        print(f"streamfuse: internal error: {type(exc).__name__}: {exc} (rerun with --debug for details)",
              file=sys.stderr)
        return EXIT_FAILED
    return EXIT_USAGE


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
