"""A Lambda function's environment as one typed contract, written by its component and read
by its handler, so that each variable's name is written once: the field's name, upper-cased.

    @dataclass(frozen=True)
    class Settings(Environment):
        delivery_stream_name: str          # -> DELIVERY_STREAM_NAME
        period_seconds: int = 60           # -> PERIOD_SECONDS

    Settings(delivery_stream_name=stream.name).to_environment()   # component, at declaration
    Settings.from_environment(os.environ)                          # handler, per invocation

Standard library only: this module ships in the Lambda zip. At declaration a field may hold
a Pulumi Input (an Output of the field's type); `to_environment` leaves such values as they
are and the component side (components/parts/lambda_function.py) formats them once resolved
with the same `format_value`.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from typing import Any, TypeVar, Union

E = TypeVar("E", bound="Environment")
PLAIN = (str, int, float, bool)
TRUE, FALSE = "true", "false"


class SettingsError(ValueError):
    """The function's environment does not match its contract (names every variable)."""


def variable_name(field_name: str) -> str:
    return field_name.upper()


def format_value(value: Any) -> str:
    """A plain value as the environment holds it: booleans as true/false, numbers as str()."""
    if isinstance(value, bool):
        return TRUE if value else FALSE
    return str(value)


def _plain_type(hint: Any) -> type:
    """str for `str`, int for `Optional[int]` / `int | None`."""
    if typing.get_origin(hint) in (Union, types.UnionType):
        (hint,) = [a for a in typing.get_args(hint) if a is not type(None)]
    if hint not in PLAIN:
        raise TypeError(f"environment fields must be one of {[t.__name__ for t in PLAIN]} "
                        f"(or Optional of one), not {hint!r}")
    return hint


def _parse(kind: type, text: str) -> Any:
    if kind is bool:
        if text not in (TRUE, FALSE):
            raise ValueError(f"expected {TRUE} or {FALSE}")
        return text == TRUE
    return kind(text)


@dataclasses.dataclass(frozen=True)
class Environment:
    """Base of every function's settings; subclasses are frozen dataclasses of plain fields."""

    @classmethod
    def variables(cls) -> dict[str, str]:
        """{field name: environment variable name}."""
        return {f.name: variable_name(f.name) for f in dataclasses.fields(cls)}

    def to_environment(self) -> dict[str, Any]:
        """{VARIABLE: value}: plain values formatted, Pulumi Inputs left for the component.

        A field left at None is not written, so the handler reads its default back."""
        return {variable_name(f.name): format_value(v) if isinstance(v, PLAIN) else v
                for f in dataclasses.fields(self)
                if (v := getattr(self, f.name)) is not None}

    @classmethod
    def from_environment(cls: type[E], env: Mapping[str, str]) -> E:
        """Parse each field by its type; raises SettingsError naming every bad variable."""
        hints = typing.get_type_hints(cls)
        values, problems = {}, []
        for f in dataclasses.fields(cls):
            name = variable_name(f.name)
            if name not in env:
                if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                    problems.append(f"{name} is not set")
                continue
            kind = _plain_type(hints[f.name])
            try:
                values[f.name] = _parse(kind, env[name])
            except ValueError as error:
                problems.append(f"{name}={env[name]!r} is not a valid {kind.__name__}: {error}")
        if problems:
            raise SettingsError(f"{cls.__module__}.{cls.__name__}: " + "; ".join(problems))
        return cls(**values)
