"""Names of the shared live inference REST APIs participants' stages join.

API Gateway allows one CreateRestApi every 3 s and one DeleteRestApi every 30 s per
account, and 10 stages per API by default. So participants share APIs, one stage each;
which API and place each participant holds is their slot (event/slots.py), stable for as
long as they stay on the roster. Participants deployed into their own account get an API
of their own there and hold no slot.
"""

from __future__ import annotations


def shared_api_name(event: str, index: int) -> str:
    return f"{event}-liveinference-{index + 1:02d}"
