"""Tag every taggable resource below a component, through Pulumi's `transforms` option.

Providers are per AWS account, not per participant (each explicit provider is one plugin
process of the engine), so a provider's default tags can no longer say whose a resource is.
The participant's component carries a transform instead: the engine runs it on every
resource below the component and it adds `Participant=<id>` to the `tags` of each one whose
pulumi_aws class accepts tags. Untaggable resources (IAM role policies, Lambda permissions,
API Gateway methods...) are attributed by their component parent.
"""

from __future__ import annotations

import functools
import inspect

import pulumi

from tools.pulumi_internals import resource_class

PARTICIPANT_TAG = "Participant"


@functools.cache
def taggable(type_token: str) -> bool:
    """Whether the pulumi_aws resource class of `type_token` takes a `tags` input."""
    cls = resource_class(type_token) if type_token.startswith("aws:") else None
    return cls is not None and "tags" in inspect.signature(cls._internal_init).parameters


def participant_tag(participant: str) -> pulumi.ResourceTransform:
    """A transform adding `Participant=<participant>` to every taggable resource it sees."""

    def add_tag(args: pulumi.ResourceTransformArgs) -> pulumi.ResourceTransformResult | None:
        if not args.custom or not taggable(args.type_):
            return None
        tags = dict(args.props.get("tags") or {})
        tags[PARTICIPANT_TAG] = participant
        return pulumi.ResourceTransformResult(props={**args.props, "tags": tags}, opts=args.opts)

    return add_tag
