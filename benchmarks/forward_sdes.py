"""Lesson 01's benchmark: simulated forward-SDE marginals match the closed forms.

A command line only: the code is minidiff/experiments/forward_sdes.py, installed with minidiff.
From the repository root: python benchmarks/forward_sdes.py [--fast]
Anywhere: python -m minidiff.experiments.forward_sdes [--fast]
"""

from minidiff.experiments import forward_sdes

if __name__ == "__main__":
    forward_sdes.main()
