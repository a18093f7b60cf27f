"""Lesson 04's benchmark: what classifier-free guidance buys (samples classified as the requested
digit) and costs (FD, precision/recall, within-class spread) against a real-vs-real reference the
feature net never saw; FD vs NFE; DDIM and Heun on the same grids. Prints the tables, the
lesson's claim lines, then one JSON line.

A command line only: the code is minidiff/experiments/digits_cfg.py, installed with minidiff.
From the repository root: python benchmarks/digits_cfg.py [--fast]
Anywhere: python -m minidiff.experiments.digits_cfg [--fast]
"""

from minidiff.experiments import digits_cfg

if __name__ == "__main__":
    digits_cfg.main()
