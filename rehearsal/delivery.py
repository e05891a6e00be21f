"""Lab 1's delivery, per participant and by sample identity: what was lost, what doubled,
what arrived that was never published.

Counting rows would net a loss against a duplicate (one sample missing, another twice:
"0 lost"). Each published sample has an identity (fc_samples.sample_id, a hash of its
canonical row); a participant's bucket is compared with the published identities, and
missing samples, extra copies and rows nobody published are counted apart. SNS delivers
at least once, so a duplicate is possible on AWS; the collection function forwards each
identity once per delivery, and the rehearsal fails on any of the three counts.

"Published" is taken from the publisher's side, never from what SNS delivered: `Sent`
wraps the publisher's own SNS client and records every entry SNS accepted, so a sample
the publisher dropped (or never handed over) is missing from every bucket and counted
lost, and `publishing_problems` fails a run whose publisher reported a number that is
not what it handed SNS, or not the run's planned rate times period.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from handlers import fc_samples


@dataclass(frozen=True)
class Account:
    lost: int
    duplicated: int
    unpublished: int = 0  # rows whose identity no publish call carried


def account(published: Iterable[str], delivered: Iterable[str]) -> Account:
    """Published identities never delivered, copies beyond the first of each delivered,
    and delivered rows that were never published."""
    sent, seen = set(published), Counter(delivered)
    return Account(lost=len(sent - seen.keys()),
                   duplicated=sum(n - 1 for n in seen.values()),
                   unpublished=sum(n for identity, n in seen.items() if identity not in sent))


class Sent:
    """The publisher's SNS client, recording the identity of each message SNS accepted.

    The identity is computed from the message body, not read from the publisher's own
    `sample_id` attribute: what counts is what was handed over."""

    def __init__(self, client):
        self._client, self.identities = client, []

    def __getattr__(self, name):
        return getattr(self._client, name)

    def publish_batch(self, **kwargs):
        response = self._client.publish_batch(**kwargs)
        accepted = {entry["Id"] for entry in response.get("Successful", [])}
        self.identities += [fc_samples.sample_id(entry["Message"])
                            for entry in kwargs["PublishBatchRequestEntries"]
                            if entry["Id"] in accepted]
        return response

    def publish(self, **kwargs):
        response = self._client.publish(**kwargs)
        self.identities.append(fc_samples.sample_id(kwargs["Message"]))
        return response


def publishing_problems(reported: int, planned: int, sent: list[str]) -> list[str]:
    """Why the publisher's run cannot be trusted: its own count against what it handed
    SNS, and what it handed SNS against the run's plan (samples per second x seconds)."""
    problems = []
    if reported != len(sent):
        problems.append(f"the publisher reported {reported} samples published but handed "
                        f"SNS {len(sent)}")
    if len(sent) != planned:
        problems.append(f"the publisher handed SNS {len(sent)} samples, {planned} planned "
                        "(samples per second x seconds)")
    if len(set(sent)) != len(sent):
        problems.append(f"the publisher handed SNS {len(sent) - len(set(sent))} samples twice")
    return problems
