"""Argument checks at the API edge (style guide R19), written once.

Each raises a TypeError (wrong kind of thing) or ValueError (right kind, bad value) whose message
names the argument, shows the value received and says what would work. Numpy scalars pass
wherever Python numbers do; bools never pass as numbers.
"""

import inspect
import numbers

import torch


def describe(value) -> str:
    """A short account of a value for an error message: a tensor's dtype and shape, not its data."""
    if isinstance(value, torch.Tensor):
        return f"a {value.dtype} tensor of shape {tuple(value.shape)}"
    if isinstance(value, type):
        return f"the class {value.__name__} itself"
    if isinstance(value, torch.nn.Module):
        return f"a {type(value).__name__} module"
    if type(value).__module__ == "numpy" and hasattr(value, "shape") and value.ndim:
        return f"a numpy {value.dtype} array of shape {tuple(value.shape)}"
    if isinstance(value, (list, tuple)) and any(isinstance(v, torch.Tensor) for v in value):
        return f"a {type(value).__name__} of {len(value)}: " + ", ".join(map(describe, value[:3]))
    text = repr(value).splitlines()[0] if repr(value) else ""
    return f"{type(value).__name__} {text if len(text) <= 60 else text[:57] + '...'}"


def check_int(name: str, value, low: int = 0) -> int:
    """value must be an int (numpy's too, not a bool) >= low; returns it as an int."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
        raise ValueError(f"{name}: expected an int >= {low}, got {describe(value)}")
    return int(value)


def check_float(name: str, value, low=None, high=None, *, open_low=False, open_high=False):
    """value must be a finite real number (numpy's too, not a bool) in [low, high] (bounds None:
    unbounded; open_low/open_high exclude the bound); returns it as a float."""
    real = isinstance(value, numbers.Real) and not isinstance(value, bool)
    ok = real and value == value and abs(value) != float("inf")
    ok = ok and (low is None or (value > low if open_low else value >= low))
    ok = ok and (high is None or (value < high if open_high else value <= high))
    if not ok:
        left = "" if low is None else f"{'>' if open_low else '>='} {low}"
        right = "" if high is None else f"{'<' if open_high else '<='} {high}"
        span = " and ".join(s for s in (left, right) if s)
        raise ValueError(f"{name}: expected a finite number{' ' + span if span else ''}, "
                         f"got {describe(value)}")  # fmt: skip
    return float(value)


def check_tensor(name: str, value, *, min_ndim: int = 1, floating: bool = True, finite=True):
    """value must be a tensor with >= min_ndim dims, a non-empty batch (first) dim, a floating
    dtype (if floating) and only finite values (if finite: one host sync). Returns value."""
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"{name}: expected a torch.Tensor, got {describe(value)}")
    if value.ndim < min_ndim or (min_ndim > 0 and value.shape[0] == 0):
        raise ValueError(f"{name}: expected a non-empty tensor with >= {min_ndim} dims, "
                         f"got {describe(value)}")  # fmt: skip
    if floating and not value.is_floating_point():
        raise TypeError(f"{name}: expected a floating-point tensor, got {describe(value)}; "
                        f"convert it, e.g. {name}.float()")  # fmt: skip
    if finite and value.is_floating_point() and not bool(torch.isfinite(value).all()):
        bad = int((~torch.isfinite(value)).sum())
        raise ValueError(f"{name}: contains NaN or inf ({bad} of {value.numel()} values); "
                         "the input must be finite")  # fmt: skip
    return value


def check_callable(name: str, value, example: str = "a function", allow_class: bool = False):
    """value must be callable and (unless allow_class: a factory) not a class, which is a class
    passed where an instance is wanted."""
    if isinstance(value, type) and not allow_class:
        raise TypeError(f"{name}: expected {example}, got the class {value.__name__} itself; "
                        f"pass an instance, e.g. {value.__name__}(...)")  # fmt: skip
    if not callable(value):
        raise TypeError(f"{name}: expected {example}, got {describe(value)}")
    return value


def _kind(cls: type) -> str:
    """'a TextEncoder instance', 'an SDE instance', 'a nn.Module instance': as a user writes it."""
    known = {"torch.nn.modules.module": "nn.", "torch.optim.optimizer": "torch.optim."}
    prefix = "" if cls.__module__.startswith("minidiff") else known.get(cls.__module__, "")
    name = prefix + cls.__name__
    return f"{'an' if name[0] in 'AEIOUaeiou' or name.startswith('SDE') else 'a'} {name} instance"


def check_instance(name: str, value, cls: type, example: str | None = None):
    """value must be an instance of cls; a class (cls or a subclass) itself gets the advice
    to call it."""
    if isinstance(value, type):
        raise TypeError(f"{name}: expected {_kind(cls)}, got the class {value.__name__} itself; "
                        f"call it: {value.__name__}()")  # fmt: skip
    if not isinstance(value, cls):
        hint = f", e.g. {example}" if example else ""
        raise TypeError(f"{name}: expected {_kind(cls)}{hint}, got {describe(value)}")
    return value


def check_generator(name: str, value, device=None):
    """value must be None or a torch.Generator (on `device`'s type, if given); a seed gets the
    advice to wrap it."""
    if value is None:
        return None
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        raise TypeError(f"{name}: expected a torch.Generator or None, got the int {value}; "
                        f"pass torch.Generator().manual_seed({value})")  # fmt: skip
    if not isinstance(value, torch.Generator):
        raise TypeError(f"{name}: expected a torch.Generator or None, got {describe(value)}")
    if device is not None and value.device.type != torch.device(device).type:
        raise ValueError(f"{name}: expected a generator on {torch.device(device).type}, got one "
                         f"on {value.device}")  # fmt: skip
    return value


def check_choice(name: str, value, choices) -> str:
    """value must be one of choices (strings)."""
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name}: expected one of {', '.join(map(repr, choices))}, "
                         f"got {describe(value)}")  # fmt: skip
    return value


def check_signature(name: str, value, *args, expected: str, allow_class=False, **kwargs):
    """value must be callable with (*args, **kwargs) (arguments bound, not called): a function
    with the wrong parameters is named here, not by a TypeError deep in a loop."""
    check_callable(name, value, expected, allow_class)
    try:
        signature = inspect.signature(value)
    except (TypeError, ValueError):  # a builtin or C function: nothing to check
        return value
    try:
        signature.bind(*args, **kwargs)
    except TypeError as err:
        raise TypeError(f"{name}: expected {expected}; {describe(value)} cannot be called so "
                        f"({err})") from None  # fmt: skip
    return value


def values_checked(x: torch.Tensor) -> bool:
    """Whether per-call value checks (NaN, ranges) run on x: on the CPU they cost nothing; on an
    accelerator each would wait for the device (a host sync), so functions called every
    training step skip them there (train.fit checks its data once, its losses every log_every)."""
    return not isinstance(x, torch.Tensor) or x.device.type == "cpu"


def check_shape(name: str, shape) -> tuple[int, ...]:
    """shape as a tuple of ints >= 1 (numpy's too; an int is a 1-D shape): no empty batch."""
    sizes = (shape,) if isinstance(shape, numbers.Integral) else shape
    if not isinstance(sizes, tuple | list | torch.Size) or not sizes:
        raise TypeError(f"{name}: expected a tuple of ints such as (64, 2), got {describe(shape)}")
    return tuple(check_int(f"{name}[{i}]", s, 1) for i, s in enumerate(sizes))


def check_dtype(name: str, value):
    """value must be None or a torch.dtype (not a string such as "float32")."""
    if value is not None and not isinstance(value, torch.dtype):
        raise TypeError(
            f"{name}: expected a torch.dtype such as torch.float32, got {describe(value)}"
        )
    return value


def check_denoiser(name: str, value):
    """value must be a denoiser with its process attached (a targets.Denoiser: `.sde`)."""
    check_callable(name, value, "a targets.Denoiser(net, sde)")
    if not hasattr(value, "sde"):
        raise TypeError(f"{name}: expected a denoiser with an .sde, e.g. targets.Denoiser(net, "
                        f"sde), got {describe(value)}")  # fmt: skip
    return value


def check_samples(name: str, value, least: int = 1) -> torch.Tensor:
    """value must be finite floating-point samples (n, d), n >= least and d >= 1 (metrics, FD)."""
    check_tensor(name, value, min_ndim=2, floating=False)
    if value.ndim != 2 or len(value) < least or value.shape[1] < 1 or not value.is_floating_point():
        raise ValueError(f"{name}: expected floating-point samples of shape (n >= {least}, "
                         f"d >= 1), got {describe(value)}")  # fmt: skip
    return value
