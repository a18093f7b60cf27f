"""The harness for the bad-input tables (tests/test_bad_inputs_*.py): every bad input raises the
expected exception type, and its message names the argument and shows what was received."""

import pytest


def case(argument: str, call, error: type = ValueError, id: str | None = None):
    """One table row: call() must raise `error` with a message that names `argument`."""
    return pytest.param(argument, call, error, id=id or argument)


def assert_rejected(argument: str, call, error: type) -> str:
    """Run call(); it must raise `error` (not return, never return NaN) naming `argument`."""
    with pytest.raises(Exception) as info:
        result = call()
        pytest.fail(f"returned {result!r} instead of raising")  # no silent result, NaN or not
    assert isinstance(info.value, error), f"raised {type(info.value).__name__}: {info.value}"
    message = str(info.value)
    assert argument in message, f"message does not name {argument!r}: {message}"
    return message
