"""Lesson 06's benchmark: MobileDiffusion's UNet changes, applied one at a time.

A command line only: the code is minidiff/experiments/mobile_unet.py, installed with minidiff.
From the repository root: python benchmarks/mobile_unet.py [--fast]
Anywhere: python -m minidiff.experiments.mobile_unet [--fast]
"""

from minidiff.experiments import mobile_unet

if __name__ == "__main__":
    mobile_unet.main()
