"""The retraining loop on this machine: its Lambda function and EventBridge's part in it.

On AWS, EventBridge delivers "SageMaker Training Job State Change" to the participant's
retraining function when a job ends. Here, training jobs end inside CreateTrainingJob
(tools.local_sagemaker), so `LocalLoop.invoke` runs the handler and then delivers the
state change of every job of the participant's that ended and was not delivered yet,
with the event shape EventBridge uses (detail = DescribeTrainingJob).

`LocalLambda` serves Lambda's Invoke API on 127.0.0.1 for the notebooks, whose kernels
are other processes: point `AWS_ENDPOINT_URL_LAMBDA` at it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from typing import Any

from handlers import retraining
from handlers.retraining_events import JOB_DETAIL_TYPE, TERMINAL_STATUSES
from tools.loopback import LoopbackServer


def job_state_change(described: Mapping[str, Any], account: str, region: str) -> dict:
    """The EventBridge event for a training job, from DescribeTrainingJob's answer."""
    detail = json.loads(json.dumps({k: v for k, v in described.items()
                                    if k != "ResponseMetadata"}, default=str))
    return {"version": "0", "id": f"local-{described['TrainingJobName']}",
            "detail-type": JOB_DETAIL_TYPE, "source": "aws.sagemaker", "account": account,
            "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), "region": region,
            "resources": [described["TrainingJobArn"]], "detail": detail}


class LocalLoop:
    """One participant's retraining function, with job state changes delivered to it."""

    def __init__(self, env: Mapping[str, str], clients: retraining.Clients,
                 account: str = "123456789012", region: str = "us-east-1",
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)):
        self.env, self.clients, self.clock = dict(env), clients, clock
        self.account, self.region = account, region
        self.delivered: set[str] = set()
        self.responses: list[dict] = []

    def _ended_jobs(self) -> list[dict]:
        prefix = retraining.Settings.checked(self.env).job_prefix + "-"
        summaries = self.clients.sagemaker.list_training_jobs(MaxResults=100)
        return [self.clients.sagemaker.describe_training_job(TrainingJobName=s["TrainingJobName"])
                for s in summaries["TrainingJobSummaries"]
                if s["TrainingJobName"].startswith(prefix)
                and s["TrainingJobName"] not in self.delivered
                and s["TrainingJobStatus"] in TERMINAL_STATUSES]

    def deliver(self) -> list[dict]:
        """Send every ended, undelivered job's state change; return the answers."""
        answers = []
        for described in self._ended_jobs():
            self.delivered.add(described["TrainingJobName"])
            answers.append(self.handle(job_state_change(described, self.account, self.region)))
        return answers

    def handle(self, event: Any) -> dict:
        answer = retraining.handle(event, self.env, self.clients, clock=self.clock)
        self.responses.append(answer)
        return answer

    def invoke(self, event: Any, deliver: bool = True) -> dict:
        answer = self.handle(event)
        if deliver:
            self.deliver()
        return answer


class LocalLambda(LoopbackServer):
    """Lambda's Invoke API (`POST /2015-03-31/functions/<name>/invocations`) on 127.0.0.1."""

    def __init__(self, functions: Mapping[str, Callable[[Any], dict]]):
        self.functions = dict(functions)
        registry = self.functions

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                parts = self.path.split("/")
                name = parts[3] if len(parts) > 4 and parts[4] == "invocations" else ""
                payload = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                function = registry.get(name.rsplit(":", 1)[-1])
                if function is None:
                    return self._send(404, {"Type": "User", "Message":
                                            f"Function not found: {name}"},
                                      {"x-amzn-ErrorType": "ResourceNotFoundException"})
                try:
                    result = function(json.loads(payload or b"{}"))
                except Exception as error:
                    return self._send(200, {"errorMessage": str(error),
                                            "errorType": type(error).__name__},
                                      {"X-Amz-Function-Error": "Unhandled"})
                self._send(200, result, {"X-Amz-Executed-Version": "$LATEST"})

            def _send(self, status: int, body: Any, headers: dict):
                data = json.dumps(body, default=str).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        super().__init__(Handler)
