"""What every ``streamfuse`` sub-command shares: exit codes, the one-line-error parser, config options."""

from __future__ import annotations

import argparse

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2
        self.exit(EXIT_USAGE, f"streamfuse: error: {message} (see 'streamfuse {self.prog.split()[-1]} --help')\n"
                  if " " in self.prog else f"streamfuse: error: {message} (see 'streamfuse --help')\n")


def _add_config_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("-c", "--config", action="append", default=[], metavar="CONFIG",
                   help="YAML config file (repeatable; later files win)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="sets",
                   help="override one config key, e.g. --set window.length=3 (repeatable)")
