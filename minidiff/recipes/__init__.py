"""The course's zoo recipes: every model a lesson loads with zoo.load, built by `make zoo`.

Each recipe is two plain functions (build, train) bundled in a zoo.Recipe; fast mode trains a
tiny version. python -m minidiff.recipes [--fast] trains whatever is missing from the cache.
toy.py: lesson 03's seed runs (ring_seeds) and lesson 08's ring teachers; digits.py: lesson 04;
shapes.py: lesson 05 onwards;
mobile.py: lesson 06's UNet ablation; latent.py: lesson 07's autoencoders, latent model and its
seeds against pixel space (space_runs); curves.py: a run that keeps its learning curve (06, 07);
distill.py: lesson 08's progressive distillation rounds and UFOGen runs; hdit.py: lesson 09's
HDiT, DiT and UNet at equal training FLOPs and HDiT's ablations; anysize.py: lesson 10's tile,
super-resolution and aspect-ratio (composition) models and the scenes judge; matching.py: lesson
11's distribution matching distillation runs (its 2-D part so far).
"""

from . import anysize, distill, hdit, latent, matching, mobile
from .digits import ClassConditional, digits_classifier, digits_unet
from .latent import latent_t2i, shapes_autoencoder, shapes_light_decoder
from .shapes import shapes_classifier, shapes_t2i, t2i, text_encoders
from .toy import ring_seeds, ring_teacher, ring_v_teacher

ALL = [
    ring_teacher,
    *ring_seeds.values(),
    digits_classifier,
    digits_unet,
    shapes_classifier,
    *text_encoders.values(),
    *t2i.values(),
    shapes_t2i,
    *(r for seeds in mobile.runs.values() for r in seeds),
    shapes_autoencoder,
    shapes_light_decoder,
    latent_t2i,
    *(r for seeds in latent.space_runs.values() for r in seeds.values()),
    ring_v_teacher,
    distill.ring_ufogen,
    *(r for runs in distill.pd_runs.values() for r in runs.values()),
    *distill.ufogen_runs.values(),
    *distill.ufogen_random_d_runs.values(),
    *(r for seeds in hdit.runs.values() for r in seeds),
    anysize.scenes_judge,
    anysize.scenes_tile,
    anysize.scenes_sr,
    *(r for seeds in anysize.composition_runs.values() for r in seeds),
    matching.grid_v_teacher,
    *(r for seeds in matching.toy_runs.values() for r in seeds),
]
__all__ = [
    "ALL", "ClassConditional", "digits_classifier", "digits_unet", "distill", "hdit", "latent",
    "mobile",
    "latent_t2i", "ring_seeds", "ring_teacher", "ring_v_teacher", "shapes_autoencoder",
    "shapes_classifier", "shapes_light_decoder", "shapes_t2i", "t2i", "text_encoders",
]  # fmt: skip
