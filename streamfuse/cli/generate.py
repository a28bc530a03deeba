"""``streamfuse generate "TEXT" -o image.png [--model ID|FOLDER] [--steps N] [--seed S] [--size WxH]``:
a picture from words with the ``models.generate`` diffusers pipeline (the same seed gives the same
picture), e.g. to look for moments like it with ``streamfuse match INPUT --image image.png``."""

from __future__ import annotations

import sys

from .common import EXIT_OK, _add_config_args


def add_parser(sub) -> None:
    g = sub.add_parser("generate", help="a picture from words (models.generate: a diffusers text-to-image pipeline)")
    g.add_argument("text", metavar="TEXT", help="what the picture shows")
    g.add_argument("-o", "--output", required=True, metavar="PATH", help="the PNG to write")
    g.add_argument("--model", default=None, metavar="ID|FOLDER", help="pipeline to use (default: models.generate)")
    g.add_argument("--steps", type=int, default=None, metavar="N", help="denoising steps (default: encoders.generate.steps)")
    g.add_argument("--seed", type=int, default=None, metavar="S", help="seed (default: encoders.generate.seed)")
    g.add_argument("--size", default=None, metavar="WxH", help="picture size, multiples of 8 (default 512x512)")
    _add_config_args(g)


def run_generate(args) -> int:
    from ..config.loader import load_config
    from ..encode.foundation.generate import Generator, parse_size, write_png
    from ..errors import ConfigError

    sets = list(args.sets) + ([f"models.generate={args.model}"] if args.model else [])
    config = load_config(args.config, sets)
    if args.size:
        parse_size(args.size)
    if args.steps is not None and not 1 <= args.steps <= 1000:
        raise ConfigError(f"--steps {args.steps}: must be 1-1000")
    if args.seed is not None and not 0 <= args.seed < 2**32:
        raise ConfigError(f"--seed {args.seed}: must be 0 to 2**32-1")
    generator = Generator(config.encoders.generate)
    image = generator.generate(args.text, steps=args.steps, seed=args.seed, size=args.size)
    path = write_png(image, args.output)
    print(f"{path}: {image.shape[1]}x{image.shape[0]}", file=sys.stderr)
    return EXIT_OK
