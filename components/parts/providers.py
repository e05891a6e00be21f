"""Explicit AWS providers: one for the shared event parts, one per participant.

Default tags on the provider tag every resource it creates. A participant with an
`account` in the roster gets a provider that assumes a role in that account.
"""

from __future__ import annotations

import pulumi_aws as aws

from event.config import EventConfig
from event.roster import Participant


def event_tags(config: EventConfig) -> dict[str, str]:
    return {"Event": config.event, "ManagedBy": "pulumi"}


def participant_tags(config: EventConfig, participant: Participant) -> dict[str, str]:
    return {**event_tags(config), "Participant": participant.id}


def event_provider(config: EventConfig) -> aws.Provider:
    return aws.Provider(
        f"{config.event}-aws",
        region=config.region,
        default_tags=aws.ProviderDefaultTagsArgs(tags=event_tags(config)),
    )


def participant_provider(config: EventConfig, participant: Participant) -> aws.Provider:
    assume_role = None
    if participant.account:
        assume_role = [aws.ProviderAssumeRoleArgs(
            role_arn=f"arn:aws:iam::{participant.account}:role/{config.participant_account_role}",
            session_name=f"{config.event}-{participant.id}"[:64],
        )]
    return aws.Provider(
        f"{participant.id}-aws",
        region=config.region,
        assume_roles=assume_role,
        default_tags=aws.ProviderDefaultTagsArgs(tags=participant_tags(config, participant)),
    )
