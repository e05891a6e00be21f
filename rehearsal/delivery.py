"""Lab 1's delivery, per participant and by sample identity: what was lost, what doubled.

Counting rows would net a loss against a duplicate (one sample missing, another twice:
"0 lost"). Each published sample has an identity (fc_samples.sample_id, a hash of its
canonical row); a participant's bucket is compared with the published identities, and
missing samples and extra copies are counted apart. SNS delivers at least once, so a
duplicate is possible on AWS; the collection function forwards each identity once per
delivery, and the rehearsal fails on either count.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Account:
    lost: int
    duplicated: int


def account(published: Iterable[str], delivered: Iterable[str]) -> Account:
    """Published identities never delivered, and copies beyond the first of each delivered."""
    seen = Counter(delivered)
    return Account(lost=len(set(published) - seen.keys()),
                   duplicated=sum(n - 1 for n in seen.values()))
