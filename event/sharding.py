"""Which shared REST API serves which participant's live inference stage.

API Gateway allows one CreateRestApi every 3 s and one DeleteRestApi every 30 s per
account, and 10 stages per API by default. So participants share APIs, one stage each.
Packing follows roster order: the k-th participant of the event's account goes to API
k // stagesPerApi, so appending participants never moves anyone. Participants deployed
into their own account get an API of their own there and are not packed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from event.roster import Participant


def api_count(participants: int, stages_per_api: int) -> int:
    return math.ceil(participants / stages_per_api)


def shared_api_of(roster: Sequence[Participant], stages_per_api: int) -> dict[str, int]:
    """participant id -> index of the shared API that holds their stage."""
    shared = [p.id for p in roster if not p.account]
    return {pid: position // stages_per_api for position, pid in enumerate(shared)}


def shared_api_name(event: str, index: int) -> str:
    return f"{event}-liveinference-{index + 1:02d}"
