"""What train.fit costs beyond the maths: fit against a bare AdamW loop, aten ops per step, and
digits_unet's step time vs batch size on MINIDIFF_DEVICE.

A command line only: the code is minidiff/experiments/fit_overhead.py, installed with minidiff.
From the repository root: python benchmarks/fit_overhead.py [--fast]
Anywhere: python -m minidiff.experiments.fit_overhead [--fast]
"""

from minidiff.experiments import fit_overhead

if __name__ == "__main__":
    fit_overhead.main()
