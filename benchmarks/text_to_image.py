"""Lesson 05's benchmark: guidance, thresholding and Imagen's grid on text-to-shapes.

A command line only: the code is minidiff/experiments/text_to_image.py, installed with minidiff.
From the repository root: python benchmarks/text_to_image.py [--fast]
Anywhere: python -m minidiff.experiments.text_to_image [--fast]
"""

from minidiff.experiments import text_to_image

if __name__ == "__main__":
    text_to_image.main()
