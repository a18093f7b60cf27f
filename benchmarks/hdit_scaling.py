"""Lesson 09's cost benchmark: how HDiT's and a flat DiT's FLOPs, CPU latency and
peak memory grow with the number of pixels.

A command line only: the code is minidiff/experiments/hdit_scaling.py, installed with minidiff.
From the repository root: python benchmarks/hdit_scaling.py [--fast]
Anywhere: python -m minidiff.experiments.hdit_scaling [--fast]
"""

from minidiff.experiments import hdit_scaling

if __name__ == "__main__":
    hdit_scaling.main()
