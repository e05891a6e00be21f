"""Stop this SageMaker notebook instance once Jupyter has been idle long enough.

Run by cron every 5 minutes (see on-start.sh). Idle means no kernel is busy and none
has had activity for the given minutes. Standard library and the AWS CLI only.
"""

import argparse
import json
import ssl
import subprocess
import sys
import urllib.request
from datetime import UTC, datetime

SESSIONS_URL = "https://localhost:8443/api/sessions"
METADATA = "/opt/ml/metadata/resource-metadata.json"


def parse_time(text):
    return datetime.strptime(text.split(".")[0].rstrip("Z"), "%Y-%m-%dT%H:%M:%S").replace(
        tzinfo=UTC)


def idle_minutes(sessions, now):
    """Minutes since the last kernel activity, 0 if a kernel is busy, None if no kernels."""
    kernels = [s["kernel"] for s in sessions if s.get("kernel")]
    if not kernels:
        return None
    if any(k.get("execution_state") == "busy" for k in kernels):
        return 0.0
    last = max(parse_time(k["last_activity"]) for k in kernels)
    return (now - last).total_seconds() / 60


def should_stop(sessions, now, limit, uptime_minutes):
    idle = idle_minutes(sessions, now)
    if idle is None:  # no kernel at all: idle since the instance started
        idle = uptime_minutes
    return idle >= limit


def fetch_sessions():
    context = ssl._create_unverified_context()  # Jupyter's own self-signed certificate
    with urllib.request.urlopen(SESSIONS_URL, context=context, timeout=10) as response:
        return json.loads(response.read())


def uptime_minutes():
    with open("/proc/uptime") as uptime:
        return float(uptime.read().split()[0]) / 60


def main(argv):
    parser = argparse.ArgumentParser()
    parser.add_argument("--idle-minutes", type=float, required=True)
    # cron's PATH has no aws: on-start.sh passes the absolute path it resolved.
    parser.add_argument("--aws", default="aws")
    options = parser.parse_args(argv)
    limit = options.idle_minutes
    now = datetime.now(UTC)
    if not should_stop(fetch_sessions(), now, limit, uptime_minutes()):
        return 0
    with open(METADATA) as metadata:
        name = json.load(metadata)["ResourceName"]
    print(f"{now.isoformat()} idle for {limit} minutes: stopping {name}", flush=True)
    return subprocess.call([options.aws, "sagemaker", "stop-notebook-instance",
                            "--notebook-instance-name", name])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
