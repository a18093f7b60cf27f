"""Lesson 03's benchmark: PF-ODE likelihood of trained denoisers, and Euler vs Heun.

A command line only: the code is minidiff/experiments/likelihood.py, installed with minidiff.
From the repository root: python benchmarks/likelihood.py [--fast]
Anywhere: python -m minidiff.experiments.likelihood [--fast]
"""

from minidiff.experiments import likelihood

if __name__ == "__main__":
    likelihood.main()
