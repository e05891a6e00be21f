"""The participant directory the portal reads: sha256(code) -> participant record.

Built on the organizer's side (by the component, from the secret codes and each
participant's resource names) and checked with the portal's own validator, so a document
this module writes is one the portal accepts.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from access.codes import code_hash
from handlers.portal import (
    BUCKET_FIELDS,
    OPTIONAL_RECORD_FIELDS,
    RECORD_FIELDS,
    directory_problems,
)


def directory_document(records: Mapping[str, Mapping[str, str]],
                       codes: Mapping[str, str]) -> str:
    """The directory JSON for records keyed by participant id and their join codes."""
    missing = sorted(set(records) - set(codes))
    if missing:
        raise ValueError(f"no join code for: {', '.join(missing)}")
    mislabeled = sorted(pid for pid, record in records.items() if record.get("id") != pid)
    if mislabeled:
        raise ValueError(f"records whose 'id' differs from their key: {', '.join(mislabeled)}")
    allowed = RECORD_FIELDS + OPTIONAL_RECORD_FIELDS + BUCKET_FIELDS
    document = {"participants": {
        code_hash(codes[pid]): {k: v for k, v in record.items() if k in allowed and v is not None}
        for pid, record in sorted(records.items())}}
    found = directory_problems(document)
    if found:
        raise ValueError("the portal would reject this directory: " + "; ".join(found))
    return json.dumps(document, sort_keys=True, ensure_ascii=False)
