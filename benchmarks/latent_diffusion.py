"""Lesson 07's benchmark: a light decoder's cost and PSNR; latent vs pixel space at equal
training compute; the end-to-end cost of one image.

A command line only: the code is minidiff/experiments/latent_diffusion.py, installed with minidiff.
From the repository root: python benchmarks/latent_diffusion.py [--fast]
Anywhere: python -m minidiff.experiments.latent_diffusion [--fast]
"""

from minidiff.experiments import latent_diffusion

if __name__ == "__main__":
    latent_diffusion.main()
