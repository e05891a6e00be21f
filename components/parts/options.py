"""Resource options for a component's children, so every child is parented the same way."""

from __future__ import annotations

from typing import Any

import pulumi


def child_of(parent: pulumi.Resource, **options: Any) -> pulumi.ResourceOptions:
    """Options for a resource declared inside `parent` (plus e.g. depends_on, ignore_changes)."""
    return pulumi.ResourceOptions(parent=parent, **options)


def invoke_of(parent: pulumi.Resource) -> pulumi.InvokeOutputOptions:
    """Options for a data-source call made on behalf of `parent` (same provider)."""
    return pulumi.InvokeOutputOptions(parent=parent)
