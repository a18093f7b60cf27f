"""Lesson 10's aspect-ratio benchmark: ARAD against a square-only model (3 training seeds each),
composition failures at 1:2, 1:1 and 2:1; and the two-stage pipeline (ARAD, then FSTD 2x
super-resolution) timed per stage.

A command line only: the code is minidiff/experiments/aspect_buckets.py, installed with minidiff.
From the repository root: python benchmarks/aspect_buckets.py [--fast]
Anywhere: python -m minidiff.experiments.aspect_buckets [--fast]
"""

from minidiff.experiments import aspect_buckets

if __name__ == "__main__":
    aspect_buckets.main()
