"""Lesson 02's benchmark: exact-score samplers recover a 25-mode Gaussian mixture.

A command line only: the code is minidiff/experiments/reverse_samplers.py, installed with minidiff.
From the repository root: python benchmarks/reverse_samplers.py [--fast]
Anywhere: python -m minidiff.experiments.reverse_samplers [--fast]
"""

from minidiff.experiments import reverse_samplers

if __name__ == "__main__":
    reverse_samplers.main()
