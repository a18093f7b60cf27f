"""Lesson 09's quality benchmark: HDiT, its parameter-matched DiT and the course's UNet trained
for the same FLOPs on 32x32 shapes, and HDiT's two ablations, 3 training seeds each.

A command line only: the code is minidiff/experiments/hdit_quality.py, installed with minidiff.
From the repository root: python benchmarks/hdit_quality.py [--fast]
Anywhere: python -m minidiff.experiments.hdit_quality [--fast]
"""

from minidiff.experiments import hdit_quality

if __name__ == "__main__":
    hdit_quality.main()
