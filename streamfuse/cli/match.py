"""``streamfuse match INPUT "text" [-k N] [--json]``: the moments that best match a text (or, with
``--image PATH``, a picture). INPUT is a result folder of ``analyze`` (or a folder of them), or
media to analyse first with the same configuration (into ``-o OUT`` when given, else a temporary
folder)."""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from ..errors import ConfigError, UserInputError
from .common import EXIT_OK, _add_config_args


def add_parser(sub) -> None:
    m = sub.add_parser("match", help="the moments that best match a text or a picture (image-text model, or "
                                     "offline through labels, transcripts and descriptions)")
    m.add_argument("input", metavar="INPUT", help="a result folder (or folder of them), or media to analyse first")
    m.add_argument("query", nargs="?", default=None, metavar="TEXT", help="what to look for, in words")
    m.add_argument("--image", default=None, metavar="PATH", help="look for moments like this picture instead")
    m.add_argument("-k", type=int, default=5, metavar="N", help="moments to print (default 5)")
    m.add_argument("--threshold", type=float, default=None, metavar="Z",
                   help="calibrated score a moment needs to count as a match (default 3: it stands out by three "
                        "spreads from the query's usual score)")
    m.add_argument("-o", "--output", default=None, metavar="OUT", help="keep the analysis of media INPUT here")
    m.add_argument("--json", action="store_true", help="print JSON lines")
    _add_config_args(m)


def _result_folders(path: Path) -> list[Path]:
    from ..match.search import is_result

    if is_result(path):
        return [path]
    if path.is_dir():
        found = sorted(p for p in path.iterdir() if p.is_dir() and not p.name.startswith(".") and is_result(p))
        if found:
            return found
    return []


def _read_image(path: str):
    import cv2

    image = cv2.imread(path, cv2.IMREAD_COLOR) if Path(path).is_file() else None
    if image is None:
        raise UserInputError(f"--image {path!r} is not a readable picture (PNG, JPEG...)")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def run_match(args) -> int:
    from ..config.loader import load_config
    from ..match.calibrate import THRESHOLD
    from ..match.search import search

    if args.k < 1:
        raise ConfigError(f"-k {args.k}: must be at least 1")
    if (args.query is None) == (args.image is None):
        raise ConfigError('match needs one of a text query or --image PATH: streamfuse match INPUT "a red car"')
    image = _read_image(args.image) if args.image else None
    config = load_config(args.config, args.sets)
    folders = _result_folders(Path(args.input))
    with tempfile.TemporaryDirectory(prefix="streamfuse-match-") as tmp:
        if not folders:
            folders = _analyse(args.input, config, args.output or tmp)
        moments = search(folders, args.query, image=image, config=config, k=args.k,
                         threshold=THRESHOLD if args.threshold is None else args.threshold)
    for m in moments:
        if args.json:
            print(json.dumps({k: v for k, v in m.as_dict().items() if k != "result"}))
        else:
            frame = "-" if m.frame is None else f"{m.frame:.2f}"
            mark = "match" if m.match else "     "
            print(f"{m.source}  {m.start:8.2f}-{m.end:<8.2f} score {m.score:.4f}  z {m.z:6.2f}  {mark}  "
                  f"frame {frame}  via {m.via}")
    if not moments:
        print("no windows to match (nothing analysed)", file=sys.stderr)
    return EXIT_OK


def _analyse(input: str, config, out: str) -> list[Path]:
    import dataclasses

    from pipelines.analyze import run
    from ..sources.resolve import resolve_inputs

    config = dataclasses.replace(config, output=dataclasses.replace(config.output, directory=out))
    sources = resolve_inputs([input], subtitles=config.decode.subtitles)
    folders = []
    for r in run(sources, config, progress=False):
        if r.error:
            raise UserInputError(f"{r.source.name}: {r.error}")
        folders.append(r.folder)
    return folders
