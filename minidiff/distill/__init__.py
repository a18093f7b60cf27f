"""Few-step and one-step students of a diffusion teacher.

progressive.py: progressive distillation (Salimans & Ho 2022), with SnapFusion's CFG-aware
teacher (Li et al. 2023), halving the DDIM steps each round. diffusion_gan.py: UFOGen's
diffusion-GAN fine-tuning (Xu et al. 2023) to one step, with gan.Discriminator. dmd.py:
distribution matching distillation (DMD and DMD2, Yin et al. 2024). players.py: the two-player
training loop that UFOGen and DMD share.
"""

from . import diffusion_gan, dmd, players, progressive

__all__ = ["diffusion_gan", "dmd", "players", "progressive"]
