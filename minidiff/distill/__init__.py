"""Few-step and one-step students of a diffusion teacher.

progressive.py: progressive distillation (Salimans & Ho 2022), with SnapFusion's CFG-aware
teacher (Li et al. 2023), halving the DDIM steps each round. diffusion_gan.py: UFOGen's
diffusion-GAN fine-tuning (Xu et al. 2023) to one step, with gan.Discriminator.
"""

from . import diffusion_gan, progressive

__all__ = ["diffusion_gan", "progressive"]
