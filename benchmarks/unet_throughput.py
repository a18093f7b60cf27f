"""UNet training throughput against diffusers' UNet2DModel (README, lesson 04).

A command line only: the code is minidiff/experiments/unet_throughput.py, installed with minidiff.
From the repository root: python benchmarks/unet_throughput.py [--fast] [--threads N]
Anywhere: python -m minidiff.experiments.unet_throughput [--fast] [--threads N]
"""

from minidiff.experiments import unet_throughput

if __name__ == "__main__":
    unet_throughput.main()
