"""Check request values against the AWS API's own constraints, as botocore's models state them.

botocore ships every service's model (required members, min/max, patterns, enums). A
pattern is applied to the whole value, as the services do; the few Java-only regex
constructs Python cannot compile are skipped rather than guessed.
"""

from __future__ import annotations

import functools
import re
from typing import Any

import botocore.session
from botocore.model import OperationModel, Shape


@functools.cache
def operation(service: str, name: str) -> OperationModel:
    return botocore.session.get_session().get_service_model(service).operation_model(name)


@functools.cache
def shape(service: str, name: str) -> Shape:
    return botocore.session.get_session().get_service_model(service).shape_for(name)


def enum(service: str, shape_name: str) -> list[str]:
    return list(shape(service, shape_name).enum)


@functools.cache
def _pattern(text: str) -> re.Pattern | None:
    try:
        return re.compile(text)
    except re.error:
        return None


def _key(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def to_api(value: Any, target: Shape) -> Any:
    """Pulumi-shaped input (camelCase, numbers as floats) -> the API's shape.

    Structure members are matched case-insensitively (memorySizeInMb -> MemorySizeInMB);
    keys the API does not know are dropped, a scalar given for a list becomes a list.
    """
    kind = target.type_name
    if kind == "structure" and isinstance(value, dict):
        members = {_key(name): name for name in target.members}
        converted = {}
        for key, item in value.items():
            member = members.get(_key(key))
            if member is not None and item is not None:
                converted[member] = to_api(item, target.members[member])
        return converted
    if kind == "list":
        items = value if isinstance(value, list) else [value]
        return [to_api(item, target.member) for item in items]
    if kind == "map" and isinstance(value, dict):
        return {k: to_api(v, target.value) for k, v in value.items()}
    if kind in ("integer", "long") and isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def problems(value: Any, target: Shape, path: str) -> list[str]:
    """Every way `value` breaks `target`'s constraints, each as '<path>: <what> (<limit>)'."""
    kind, meta = target.type_name, target.metadata
    found: list[str] = []
    if kind == "structure":
        if not isinstance(value, dict):
            return [f"{path}: expected a structure, got {type(value).__name__}"]
        for member in target.required_members:
            if value.get(member) in (None, "", [], {}):
                found.append(f"{path}.{member}: required by the API, missing")
        for member, item in value.items():
            found += problems(item, target.members[member], f"{path}.{member}")
        return found
    if kind == "list":
        if not isinstance(value, list):
            return [f"{path}: expected a list"]
        found += _bounds(len(value), meta, path, "items")
        for index, item in enumerate(value):
            found += problems(item, target.member, f"{path}[{index}]")
        return found
    if kind == "map":
        if not isinstance(value, dict):
            return [f"{path}: expected a map"]
        found += _bounds(len(value), meta, path, "entries")
        for key, item in value.items():
            found += problems(key, target.key, f"{path} key {key!r}")
            found += problems(item, target.value, f"{path}[{key!r}]")
        return found
    if kind == "string":
        if not isinstance(value, str):
            return [f"{path}: expected a string, got {value!r}"]
        found += _bounds(len(value), meta, path, "characters")
        if target.enum and value not in target.enum:
            found.append(f"{path}: {value!r} is not one of the API's {len(target.enum)} allowed "
                         f"values ({target.name})")
        compiled = _pattern(meta["pattern"]) if "pattern" in meta else None
        if compiled is not None and not compiled.fullmatch(value):
            found.append(f"{path}: {_short(value)} does not match the API's pattern "
                         f"{meta['pattern']}")
        return found
    if kind in ("integer", "long", "float", "double"):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return [f"{path}: expected a number, got {value!r}"]
        return _bounds(value, meta, path, "")
    return found


def _bounds(size: float, meta: dict, path: str, unit: str) -> list[str]:
    what = f"{size:g} {unit}".strip()
    if "min" in meta and size < meta["min"]:
        return [f"{path}: {what}, under the API's minimum of {meta['min']}"]
    if "max" in meta and size > meta["max"]:
        return [f"{path}: {what}, over the API's maximum of {meta['max']}"]
    return []


def _short(value: str) -> str:
    return repr(value if len(value) <= 80 else value[:77] + "...")


def check_request(service: str, operation_name: str, request: dict[str, Any],
                  not_declared: tuple[str, ...] = ()) -> list[str]:
    """Problems of a request built from declared inputs, each '<Member path>: <problem>'.

    `not_declared` are required members the program supplies in a form not checked here
    (a code archive, an id the API generates)."""
    top = operation(service, operation_name).input_shape
    found = [f"{member}: required by {service} {operation_name}, missing"
             for member in top.required_members
             if member not in not_declared and request.get(member) in (None, "", [], {})]
    for member, value in request.items():
        if value is not None:
            found += problems(to_api(value, top.members[member]), top.members[member], member)
    return found
