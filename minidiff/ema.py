"""An exponential moving average of a model's weights (as in DDPM, Ho et al. 2020, and EDM).

The averaged model, not the trained one, is what diffusion models sample from: it smooths the
noise of the last steps of SGD. Notable choice: the update is two foreach ops whatever the size of
the model, and parameters that are not trained (and buffers) are copied, so they stay exact.
"""

import copy
import weakref

import torch
from torch import nn

from .checks import check_float, check_instance, describe


class EMA:
    """EMA of the weights, shadow = decay shadow + (1 - decay) param, in `ema.model`: a frozen
    deep copy in eval mode. Frozen parameters and buffers (e.g. norm statistics) are copied."""

    def __init__(self, model: nn.Module, decay: float = 0.999):
        check_instance("model", model, nn.Module)
        self.decay = check_float("decay", decay, 0, 1, open_high=True)
        self.model = copy.deepcopy(model).eval().requires_grad_(False)
        self._source = weakref.ref(model)  # update() checks any other model once

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        """One foreach lerp over the trained parameters, one foreach copy of the rest: two ops
        whatever the model's size; a frozen parameter's shadow stays bit-exact."""
        if model is not self._source():
            self._check_like(model)
        averaged, copied = ([], []), ([], [])
        for shadow, param in zip(self.model.parameters(), model.parameters()):
            shadows, sources = averaged if param.requires_grad else copied
            shadows.append(shadow)
            sources.append(param)
        copied[0].extend(self.model.buffers())
        copied[1].extend(model.buffers())
        if averaged[0]:
            torch._foreach_lerp_(*averaged, 1.0 - self.decay)
        if copied[0]:
            torch._foreach_copy_(*copied)

    def _check_like(self, model) -> None:
        """model must have the averaged model's parameter shapes; then it is the one checked."""
        shapes = [tuple(p.shape) for p in getattr(model, "parameters", list)()]
        if shapes != [tuple(p.shape) for p in self.model.parameters()]:
            raise ValueError(f"model: expected the model this EMA averages (a "
                             f"{type(self.model).__name__}), got {describe(model)}")  # fmt: skip
        self._source = weakref.ref(model)
