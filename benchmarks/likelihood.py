"""Lesson 03's benchmark: PF-ODE likelihood of trained denoisers, and Euler vs Heun.

A command line only: the code is minidiff/experiments/likelihood.py, installed with minidiff. It
loads the zoo's seed runs (recipes.toy.ring_seeds: 4 parameterisations + 1 contrast, 3 training
seeds each), training them first if the cache lacks them, then prints its tables, the lesson's
claim lines and one JSON line.
From the repository root: python benchmarks/likelihood.py [--fast]
Anywhere: python -m minidiff.experiments.likelihood [--fast]
"""

from minidiff.experiments import likelihood

if __name__ == "__main__":
    likelihood.main()
