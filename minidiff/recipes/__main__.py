"""python -m minidiff.recipes [--fast]: train every zoo model missing from the cache."""

import argparse

from .. import zoo
from . import ALL

parser = argparse.ArgumentParser(description="Train every zoo model missing from the cache.")
parser.add_argument("--fast", action="store_true", help="the tiny fast-mode versions")
print(zoo.build_all(ALL, fast=parser.parse_args().fast or None))
