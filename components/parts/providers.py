"""Explicit AWS providers: one per AWS account the event uses, never one per participant.

The engine starts a plugin process for every explicit provider (the AWS provider is reported
at 300-430 MB each), so a provider per participant costs 30-43 GB at 100 participants. The
event's account gets one provider; every distinct participant `account` of the roster gets
one that assumes `participantAccountRole` there. Default tags mark the event; whose a
resource is comes from the participant's component (components/parts/tagging.py).
"""

from __future__ import annotations

from collections.abc import Iterable

import pulumi_aws as aws

from event.config import EventConfig


def event_tags(config: EventConfig) -> dict[str, str]:
    return {"Event": config.event, "ManagedBy": "pulumi"}


def event_provider(config: EventConfig) -> aws.Provider:
    return aws.Provider(
        f"{config.event}-aws",
        region=config.region,
        default_tags=aws.ProviderDefaultTagsArgs(tags=event_tags(config)),
    )


def account_provider(config: EventConfig, account: str) -> aws.Provider:
    """The provider for a participant's own account (roster field `account`)."""
    return aws.Provider(
        f"{config.event}-aws-{account}",
        region=config.region,
        assume_roles=[aws.ProviderAssumeRoleArgs(
            role_arn=f"arn:aws:iam::{account}:role/{config.participant_account_role}",
            session_name=f"{config.event}-{account}"[:64],
        )],
        default_tags=aws.ProviderDefaultTagsArgs(tags=event_tags(config)),
    )


def providers_by_account(config: EventConfig,
                         accounts: Iterable[str | None]) -> dict[str | None, aws.Provider]:
    """None (the event's account) and each distinct account -> its one provider."""
    providers: dict[str | None, aws.Provider] = {None: event_provider(config)}
    for account in sorted({a for a in accounts if a}):
        providers[account] = account_provider(config, account)
    return providers
