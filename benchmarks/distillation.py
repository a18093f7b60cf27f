"""Lesson 08's benchmark: progressive distillation to 8 and 1 steps, and UFOGen.

A command line only: the code is minidiff/experiments/distillation.py, installed with minidiff.
From the repository root: python benchmarks/distillation.py [--fast]
Anywhere: python -m minidiff.experiments.distillation [--fast]
"""

from minidiff.experiments import distillation

if __name__ == "__main__":
    distillation.main()
