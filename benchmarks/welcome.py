"""Lesson 00's benchmark: a 2-D diffusion model trained and sampled in under a minute.

A command line only: the code is minidiff/experiments/welcome.py, installed with minidiff.
From the repository root: python benchmarks/welcome.py [--fast]
Anywhere: python -m minidiff.experiments.welcome [--fast]
"""

from minidiff.experiments import welcome

if __name__ == "__main__":
    welcome.main()
