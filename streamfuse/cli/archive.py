"""The archive side of the command line: ``analyze``'s batch options, ``search`` and ``report``."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

from ..errors import ConfigError
from .common import EXIT_OK, _Parser


def add_batch_args(a: argparse.ArgumentParser) -> None:
    a.add_argument("--sink", action="append", default=[], metavar="URI",
                   help="also send every result's events to URI: a .jsonl path, file://, mqtt://, redis://, "
                        "nats://, http(s):// webhook (repeatable; at-least-once, CloudEvents ids)")
    a.add_argument("--address", default=None, metavar="RAY",
                   help="join this Ray cluster (implies --runtime ray), e.g. ray://head:10001 or auto")
    a.add_argument("--workers", type=int, default=None, metavar="N",
                   help="Ray workers analysing files at once (default: half the cluster's CPUs)")
    a.add_argument("--no-index", action="store_true", help="do not add results to OUT/index.sqlite")
    a.add_argument("--index-db", default=None, metavar="URL",
                   help="index into this PostgreSQL database instead (postgresql://USER@HOST/DB[?schema=NAME]), "
                        "for an archive shared by many machines")


def run_batch_cli(args, sources, config, progress: bool):
    """Run the batch; returns (the results analysed in this run, exit code)."""
    from ..archive.batch import print_summary, run_batch
    from ..sinks.uri import open_configured_sink

    from ..archive.pg_index import is_pg_url
    if args.index_db and not is_pg_url(args.index_db):
        raise ConfigError(f"--index-db {args.index_db!r}: give a postgresql:// URL")
    if args.workers is not None and args.workers < 1:
        raise ConfigError(f"--workers {args.workers}: give at least 1")
    # Ray over files (file workers) for several inputs or when --workers is given; one input on Ray
    # runs its stages in the Ray runtime's actor pools (one pool per encoder)
    on_ray = bool(args.address) or config.runtime.kind == "ray"
    by_files = on_ray and (len(sources) > 1 or args.workers is not None)
    runtime = "ray" if by_files else "local"
    if args.address and not by_files:
        config = replace(config, runtime=replace(config.runtime, kind="ray", ray_address=args.address))
    sinks = []
    try:
        for uri in args.sink:
            sinks.append(open_configured_sink(uri, config.sinks))
        report = run_batch(sources, config, Path(config.output.directory), workers=args.workers, runtime=runtime,
                           address=args.address or config.runtime.ray_address, sinks=sinks,
                           index=not args.no_index, progress=progress, index_url=args.index_db)
    finally:
        for sink in reversed(sinks):
            try:
                sink.close()
            except Exception as exc:  # noqa: BLE001 - closing the others matters more
                print(f"streamfuse: closing {getattr(sink, 'name', 'a sink')} failed: {exc}", file=sys.stderr)
    if len(sources) > 1 or report.skipped or report.retried or args.sink or report.removed:
        print_summary(report)
    code = report.exit_code
    if report.failures and not code:
        code = 1
    return report.results, code


# -- search ------------------------------------------------------------------------------------------

def _search_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="streamfuse search", description="Ranked moments from analysed results.")
    p.add_argument("query", metavar="QUERY", help="what to look for, in words")
    p.add_argument("--index", default="streamfuse-out", metavar="OUT",
                   help="the results folder (holding index.sqlite), the index file, or a postgresql:// URL "
                        "(default ./streamfuse-out)")
    p.add_argument("-k", type=int, default=10, metavar="N", help="how many moments (default 10)")
    p.add_argument("--type", default=None, metavar="T", help="only events of this type (speech, person, sound, ...)")
    p.add_argument("--source", default=None, metavar="S", help="only inputs whose name or path contains S")
    p.add_argument("--since", type=float, default=None, metavar="SECONDS", help="only moments ending after this media time")
    p.add_argument("--until", type=float, default=None, metavar="SECONDS", help="only moments starting before this media time")
    p.add_argument("--json", action="store_true", help='print {"results": [...]}')
    p.add_argument("--model", default="bundled:all-MiniLM-L6-v2", metavar="M",
                   help="sentence model for the query (the one the results were embedded with)")
    return p


def run_search_cli(argv: list[str]) -> int:
    from ..archive.index import INDEX_FILE, Index
    from ..archive.search import Query, search

    args = _search_parser().parse_args(argv)
    if args.k < 1:
        raise ConfigError(f"-k {args.k}: give at least 1")
    from ..archive.pg_index import PgIndex, is_pg_url
    if len(args.query) > 1000:
        raise ConfigError("query too long: keep it under 1000 characters")
    if is_pg_url(args.index):
        index = PgIndex(args.index)
    else:
        path = Path(args.index)
        if path.is_dir():
            path = path / INDEX_FILE
        if not path.is_file():
            raise ConfigError(f"no index at {path}; run 'streamfuse analyze INPUT... -o OUT' first, "
                              "then 'streamfuse search QUERY --index OUT'")
        index = Index(path)
    try:
        embed = None
        if index.dim is not None:
            from ..encode.text.embed import TextEmbedder
            embedder = TextEmbedder(args.model)
            embed = lambda text: embedder.embed([text])[0]  # noqa: E731
        query = Query(args.query, k=args.k, type=args.type, source=args.source, since=args.since, until=args.until)
        hits = index.search(query, embed) if isinstance(index, PgIndex) else search(index, query, embed)
    finally:
        index.close()
    if args.json:
        print(json.dumps({"results": [h.as_dict() for h in hits]}, ensure_ascii=False))
    elif not hits:
        print("no matching moments", file=sys.stderr)
    else:
        for h in hits:
            print(f"{h.score:.3f}  {h.source}  {h.start:.2f}-{h.end:.2f} s  [{h.via}]  {h.description}")
    return EXIT_OK


# -- report ------------------------------------------------------------------------------------------

def run_report_cli(argv: list[str]) -> int:
    from ..archive.report import write_reports

    p = _Parser(prog="streamfuse report", description="Self-contained HTML timelines of analysed results.")
    p.add_argument("out", metavar="OUT", help="the results folder of 'streamfuse analyze'")
    p.add_argument("--no-thumbnails", action="store_true", help="do not decode key frames from the inputs")
    args = p.parse_args(argv)
    out = Path(args.out)
    if not out.is_dir():
        raise ConfigError(f"{out}: no such results folder; give the -o OUT of 'streamfuse analyze'")
    pages = write_reports(out, thumbnails=not args.no_thumbnails)
    if not pages:
        raise ConfigError(f"{out}: holds no analysed results (no */summary.json)")
    print(f"report: {out / 'report' / 'index.html'} ({len(pages)} inputs)")
    return EXIT_OK


# -- export ------------------------------------------------------------------------------------------

def run_export_cli(argv: list[str]) -> int:
    from ..archive.export import export_parquet
    from ..archive.index import INDEX_FILE, Index

    p = _Parser(prog="streamfuse export", description="The archive's index as Parquet files.")
    p.add_argument("out", metavar="OUT", help="the results folder of 'streamfuse analyze' (holding index.sqlite)")
    p.add_argument("-o", "--output", default=None, metavar="DIR", help="where the files go (default OUT/parquet)")
    args = p.parse_args(argv)
    path = Path(args.out) / INDEX_FILE
    if not path.is_file():
        raise ConfigError(f"no index at {path}; run 'streamfuse analyze INPUT... -o {args.out}' first")
    target = Path(args.output) if args.output else Path(args.out) / "parquet"
    index = Index(path)
    try:
        counts = export_parquet(index, target)
    finally:
        index.close()
    print(f"export: {target} (" + ", ".join(f"{name} {n} rows" for name, n in counts.items()) + ")")
    return EXIT_OK
