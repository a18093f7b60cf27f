"""Argument checks at the API edge (style guide R19), written once.

Each raises a ValueError that names the argument, the value received and what was expected.
"""


def check_int(name: str, value, low: int = 0) -> int:
    """value must be an int (not a bool) >= low."""
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"{name}: expected an int >= {low}, got {value!r}")
    return value
