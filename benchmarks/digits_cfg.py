"""Lesson 04's benchmark: classifier-free guidance makes digit samples show their class.

A command line only: the code is minidiff/experiments/digits_cfg.py, installed with minidiff.
From the repository root: python benchmarks/digits_cfg.py [--fast]
Anywhere: python -m minidiff.experiments.digits_cfg [--fast]
"""

from minidiff.experiments import digits_cfg

if __name__ == "__main__":
    digits_cfg.main()
