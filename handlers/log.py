"""One JSON object per log line, so CloudWatch Logs Insights can query every field."""

import json
import sys


def log(event: str, **fields) -> None:
    print(json.dumps({"event": event, **fields}, default=str), file=sys.stdout, flush=True)
