"""The only module that touches Pulumi's private runtime; everything else uses public APIs.

Three jobs need internals Pulumi does not expose:
- listing every config key the stack sets (`pulumi.Config` only answers for a known
  key, so a mistyped key would go unnoticed): `all_config()`;
- running the program several times in one process under the mock engine, which
  `pulumi.runtime.set_mocks` alone does not allow: `reset_stack()` and `sync_await()`,
  and running `transforms` there as the engine would (the mock monitor does not):
  `transforms_of()`, `serialize_properties()`;
- knowing whether a resource type takes `tags` (the SDK's type registry): `resource_class()`.

`missing_internals()` names every private symbol this module relies on that the
installed Pulumi no longer has (tests/test_pulumi_internals.py fails with its list),
so a Pulumi upgrade that moves one breaks loudly here rather than oddly elsewhere.
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable
from typing import Any, TypeVar

T = TypeVar("T")

# (module, attribute, what it must offer): the private surface, in one place.
REQUIRED = (
    ("pulumi.runtime.config", "CONFIG", "get"),  # ContextVar of the config map
    ("pulumi.runtime.settings", "ROOT", "set"),  # ContextVar of the root stack resource
    ("pulumi.runtime.settings", "SETTINGS", "rpc_manager"),
    ("pulumi.runtime.settings", "SETTINGS", "outputs"),
    ("pulumi.runtime.sync_await", "_sync_await", "__call__"),
    ("pulumi.runtime.rpc", "deserialize_properties", "__call__"),  # the monitor's wire format
    ("pulumi.runtime.rpc", "serialize_properties", "__call__"),
    ("pulumi.runtime.rpc", "get_resource_module", "__call__"),  # type token -> SDK class
    ("pulumi.runtime.mocks", "_resolve_callbacks", "__call__"),  # a registration's transforms
    ("pulumi.runtime.rpc", "_special_sig_key", "__len__"),  # how a secret is marked on the wire
    ("pulumi.runtime.rpc", "_special_secret_sig", "__len__"),
)


def missing_internals() -> list[str]:
    """`module.attribute` (and what it lacks) for each required private symbol that is gone."""
    missing = []
    for module_name, attribute, offers in REQUIRED:
        try:
            value = getattr(importlib.import_module(module_name), attribute)
        except (ImportError, AttributeError):
            missing.append(f"{module_name}.{attribute}")
            continue
        if not hasattr(value, offers):
            missing.append(f"{module_name}.{attribute}.{offers}")
    return missing


def _symbol(module_name: str, attribute: str) -> Any:
    try:
        return getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError):
        raise ImportError(f"this Pulumi version has no {module_name}.{attribute}; "
                          "update tools/pulumi_internals.py") from None


def all_config() -> dict[str, Any]:
    """Every `namespace:key` set for the running program, as the engine handed them over."""
    from pulumi.runtime import (
        get_config_env,  # public: the PULUMI_CONFIG environment map
    )

    return {**get_config_env(), **_symbol("pulumi.runtime.config", "CONFIG").get()}


def reset_stack() -> None:
    """Forget the previous run's root stack, pending RPCs and outputs before the next run."""
    settings = _symbol("pulumi.runtime.settings", "SETTINGS")
    _symbol("pulumi.runtime.settings", "ROOT").set(None)
    settings.rpc_manager.clear()
    settings.outputs.clear()


def sync_await(awaitable: Awaitable[T]) -> T:
    """Run a coroutine to completion on the current event loop, as Pulumi's own runner does."""
    return _symbol("pulumi.runtime.sync_await", "_sync_await")(awaitable)


def deserialize_properties(struct: Any) -> Any:
    """A registration's properties (a protobuf Struct) as Python values, as the engine sees them."""
    return _symbol("pulumi.runtime.rpc", "deserialize_properties")(struct)


async def serialize_properties(props: dict[str, Any]) -> Any:
    """Python values back into a registration's protobuf Struct."""
    return await _symbol("pulumi.runtime.rpc", "serialize_properties")(props, {})


def transforms_of(request: Any) -> list[Any]:
    """The transform functions a registration request carries (mock engine only)."""
    return _symbol("pulumi.runtime.mocks", "_resolve_callbacks")(request.transforms)


def resource_class(type_token: str) -> type | None:
    """The SDK class registered for a resource type token, e.g. pulumi_aws.s3.Bucket."""
    package, module_name = (type_token.split(":") + [""])[:2]
    module = _symbol("pulumi.runtime.rpc", "get_resource_module")(package, module_name, "")
    info = getattr(module, "mod_info", None) or {}  # pulumi_aws's registration record
    class_name = info.get("classes", {}).get(type_token)
    if class_name is None:
        return None
    return getattr(importlib.import_module(info["fqn"]), class_name)
def is_wire_secret(value: Any) -> bool:
    """Whether a registered property arrived marked secret (so the engine encrypts it in the state)."""
    return (isinstance(value, dict)
            and value.get(_symbol("pulumi.runtime.rpc", "_special_sig_key"))
            == _symbol("pulumi.runtime.rpc", "_special_secret_sig"))
