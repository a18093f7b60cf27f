"""python -m minidiff.recipes [--fast]: train every zoo model missing from the cache.

Subcommands move the trained zoo as one file (see minidiff/archive.py): `pack FILE [--fast]`
writes the cache's models into an archive; `unpack FILE` and `fetch URL` verify an archive (from
a file or a URL) and add its models to the cache.
"""

import argparse
import sys

from .. import archive, runtime
from . import ALL
from .build import build_all

parser = argparse.ArgumentParser(prog="python -m minidiff.recipes", description=__doc__)
parser.add_argument("--fast", action="store_true", help="the tiny fast-mode versions")
commands = parser.add_subparsers(dest="command")
pack = commands.add_parser("pack", help="write every zoo model into one archive FILE")
pack.add_argument("file")
# SUPPRESS: unset here, `--fast pack FILE` keeps the top-level flag's True
pack.add_argument("--fast", action="store_true", default=argparse.SUPPRESS, help="fast-mode models")
unpack = commands.add_parser("unpack", help="verify the archive FILE, then add it to the cache")
unpack.add_argument("file")
fetch = commands.add_parser("fetch", help="download the archive at URL, then unpack it")
fetch.add_argument("url")
args = parser.parse_args()

if args.command is None:
    print(build_all(ALL, fast=args.fast or None))
    sys.exit()
try:
    if args.command == "pack":
        manifest = archive.pack(args.file, ALL, fast=args.fast or runtime.fast_mode())
        print(f"packed {len(manifest['models'])} models into {args.file}")
    else:
        if args.command == "unpack":
            names = archive.unpack(args.file, ALL)
        else:
            names = archive.fetch(args.url, ALL)
        print(f"unpacked {len(names)} models into {runtime.cache_dir()}: {', '.join(names)}")
except (archive.ArchiveError, OSError) as err:
    print(f"error: {err}", file=sys.stderr)
    sys.exit(2)
