"""Lesson 10's tiled-sampling benchmark: one tile model draws 32x256 canvases through naive tiles,
MultiDiffusion (strides 16 and 8) and FSTD, and whole: seam scores, tile evaluations, wall time,
crop FD.

A command line only: the code is minidiff/experiments/tiled_sampling.py, installed with minidiff.
From the repository root: python benchmarks/tiled_sampling.py [--fast]
Anywhere: python -m minidiff.experiments.tiled_sampling [--fast]
"""

from minidiff.experiments import tiled_sampling

if __name__ == "__main__":
    tiled_sampling.main()
