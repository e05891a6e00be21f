"""`fleet status` and the organizer's bulk actions: the console for the day of the event.

One row per participant: their stack's state, notebook state, endpoint state and the model
it serves, samples collected (objects and bytes in their bucket), last score and the error
class seen most in that minute. Bulk actions: start or stop every notebook; point one
participant's endpoint back at their baseline endpoint configuration.

What it reads, by name (the program's stack outputs):
- a participant stack: `notebook`, `endpoint`, `baseline_endpoint_config`, `bucket`;
- the event stack: `scores_table` (the edge's DynamoDB table), and in single-stack mode
  `participants` (id -> the same names), which is used when a participant has no stack.
Every AWS call goes through a client factory `(service, account) -> client`, so tests
hand in moto or Stubber clients and participants in their own accounts are reached through
an assumed role. A lookup that fails shows its error code in the row; the console never
stops at one participant.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from event.roster import Participant
from fleet.naming import FleetPlan
from fleet.stacks import Stacks
from handlers import scoring

ClientFactory = Callable[[str, "str | None"], Any]  # (service, participant account) -> client
SCORE_MINUTES = 10  # how far back `status` looks for a participant's last scored minute
NAMES = ("notebook", "endpoint", "baseline_endpoint_config", "bucket")


def boto3_clients(region: str, participant_role: str) -> ClientFactory:
    """boto3 clients: the event's account by default credentials, a participant's own
    account through `participant_role` (the program's participantAccountRole)."""
    import boto3

    sessions: dict[str | None, Any] = {}

    def session_for(account: str | None):
        if account not in sessions:
            if account is None:
                sessions[account] = boto3.Session(region_name=region)
            else:
                credentials = boto3.client("sts", region_name=region).assume_role(
                    RoleArn=f"arn:aws:iam::{account}:role/{participant_role}",
                    RoleSessionName="fleet-console")["Credentials"]
                sessions[account] = boto3.Session(
                    aws_access_key_id=credentials["AccessKeyId"],
                    aws_secret_access_key=credentials["SecretAccessKey"],
                    aws_session_token=credentials["SessionToken"], region_name=region)
        return sessions[account]

    return lambda service, account=None: session_for(account).client(service)


def _problem(error: Exception) -> str:
    if isinstance(error, ClientError):
        return error.response.get("Error", {}).get("Code", "error")
    return type(error).__name__


@dataclass
class ParticipantStatus:
    participant: str
    name: str
    stack: str = "absent"
    notebook: str = "-"
    endpoint: str = "-"
    model: str = "-"
    samples: int | None = None
    sample_bytes: int | None = None
    last_rmse_ms: float | None = None
    error_class: str = "-"
    scored_minute: str = "-"


def resource_names(participant: str, participant_outputs: Mapping[str, Any],
                   event_outputs: Mapping[str, Any]) -> dict[str, str]:
    """The participant's resource names: their stack's outputs, else the single-stack map."""
    single = (event_outputs.get("participants") or {}).get(participant) or {}
    return {key: participant_outputs.get(key) or single.get(key) for key in NAMES
            if participant_outputs.get(key) or single.get(key)}


def _notebook(sagemaker, name: str | None) -> str:
    if not name:
        return "-"
    try:
        return sagemaker.describe_notebook_instance(NotebookInstanceName=name)["NotebookInstanceStatus"]
    except (ClientError, BotoCoreError) as error:
        return _problem(error)


def _endpoint(sagemaker, name: str | None, baseline: str | None) -> tuple[str, str]:
    if not name:
        return "-", "-"
    try:
        endpoint = sagemaker.describe_endpoint(EndpointName=name)
        config_name = endpoint["EndpointConfigName"]
        config = sagemaker.describe_endpoint_config(EndpointConfigName=config_name)
    except (ClientError, BotoCoreError) as error:
        return _problem(error), "-"
    models = ", ".join(v["ModelName"] for v in config.get("ProductionVariants", []))
    return endpoint["EndpointStatus"], ("baseline: " if config_name == baseline else "") + models


def _samples(s3, bucket: str | None) -> tuple[int | None, int | None]:
    if not bucket:
        return None, None
    objects = size = 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for item in page.get("Contents", []):
            objects += 1
            size += item["Size"]
    return objects, size


def latest_scores(dynamodb, table: str, now: datetime,
                  minutes: int = SCORE_MINUTES) -> dict[str, tuple[str, dict[str, float]]]:
    """participant -> (minute, aggregate) of their latest scored minute among the last few."""
    from boto3.dynamodb.types import TypeDeserializer

    deserialize = TypeDeserializer().deserialize
    latest: dict[str, tuple[str, dict[str, float]]] = {}
    for back in range(minutes):  # newest first: the first minute seen is the latest
        minute = (now - timedelta(minutes=back)).strftime("%Y-%m-%dT%H:%M")
        pages = dynamodb.get_paginator("query").paginate(
            TableName=table, KeyConditionExpression="#m = :m",
            ExpressionAttributeNames={"#m": "minute"},
            ExpressionAttributeValues={":m": {"S": minute}})
        for page in pages:
            for raw in page.get("Items", []):
                item = {key: deserialize(value) for key, value in raw.items()}
                latest.setdefault(item["participant"], (minute, scoring.from_item(item)))
    return latest


def _dominant_error(aggregate: Mapping[str, float]) -> str:
    counts = {c: aggregate.get(c, 0) for c in scoring.ERROR_CLASSES if aggregate.get(c, 0)}
    if not counts:
        return "none"
    worst = max(counts, key=lambda c: (counts[c], c))
    return f"{worst} ({int(counts[worst])}/{int(aggregate.get('requests', 0))})"


def collect_status(roster: Sequence[Participant], plan: FleetPlan, stacks: Stacks,
                   clients: ClientFactory, now: datetime | None = None) -> list[ParticipantStatus]:
    now = now or datetime.now(UTC)
    states = stacks.states()
    event_outputs = stacks.outputs(plan.event_stack.name) if plan.event_stack.name in states else {}
    scores: dict[str, tuple[str, dict[str, float]]] = {}
    if event_outputs.get("scores_table"):
        try:
            scores = latest_scores(clients("dynamodb", None), event_outputs["scores_table"], now)
        except (ClientError, BotoCoreError):
            scores = {}
    rows = []
    for participant in roster:
        spec = plan.participant(participant.id)
        row = ParticipantStatus(participant.id, participant.name)
        state = states.get(spec.name) if spec else None
        own_outputs: Mapping[str, Any] = {}
        if state is not None:
            row.stack = state.result or "never updated"
            own_outputs = stacks.outputs(spec.name)
        elif participant.id in (event_outputs.get("participants") or {}):
            row.stack = "in event stack"
        names = resource_names(participant.id, own_outputs, event_outputs)
        sagemaker = clients("sagemaker", participant.account)
        row.notebook = _notebook(sagemaker, names.get("notebook"))
        row.endpoint, row.model = _endpoint(sagemaker, names.get("endpoint"),
                                            names.get("baseline_endpoint_config"))
        try:
            row.samples, row.sample_bytes = _samples(clients("s3", participant.account),
                                                     names.get("bucket"))
        except (ClientError, BotoCoreError) as error:
            row.error_class = f"samples: {_problem(error)}"
        if participant.id in scores:
            row.scored_minute, aggregate = scores[participant.id]
            row.last_rmse_ms = scoring.rmse(aggregate, scoring.SPLITS)
            row.error_class = _dominant_error(aggregate)
        rows.append(row)
    return rows


@dataclass(frozen=True)
class ActionResult:
    participant: str
    ok: bool
    message: str


def _names_of(participant: Participant, plan: FleetPlan, stacks: Stacks,
              event_outputs: Mapping[str, Any]) -> dict[str, str]:
    spec = plan.participant(participant.id)
    existing = set(stacks.existing())
    own = stacks.outputs(spec.name) if spec and spec.name in existing else {}
    return resource_names(participant.id, own, event_outputs)


def _event_outputs(plan: FleetPlan, stacks: Stacks) -> Mapping[str, Any]:
    return stacks.outputs(plan.event_stack.name) \
        if plan.event_stack.name in stacks.existing() else {}


def notebooks(action: str, roster: Sequence[Participant], plan: FleetPlan, stacks: Stacks,
              clients: ClientFactory) -> list[ActionResult]:
    """Start or stop every participant's notebook; one result each, none stops the rest."""
    if action not in ("start", "stop"):
        raise ValueError(f"notebooks takes 'start' or 'stop', not {action!r}")
    # Only a Stopped (or Failed) notebook can start, only an InService one can stop.
    ready, verb = (("Stopped", "Failed"), "start_notebook_instance") if action == "start" \
        else (("InService",), "stop_notebook_instance")
    event_outputs = _event_outputs(plan, stacks)
    results = []
    for participant in roster:
        name = _names_of(participant, plan, stacks, event_outputs).get("notebook")
        if not name:
            results.append(ActionResult(participant.id, False, "no notebook in the stack outputs"))
            continue
        sagemaker = clients("sagemaker", participant.account)
        try:
            status = sagemaker.describe_notebook_instance(
                NotebookInstanceName=name)["NotebookInstanceStatus"]
            if status not in ready:
                results.append(ActionResult(participant.id, True, f"{name} is {status}; left as is"))
                continue
            getattr(sagemaker, verb)(NotebookInstanceName=name)
            results.append(ActionResult(participant.id, True, f"{name}: {action} requested"))
        except (ClientError, BotoCoreError) as error:
            results.append(ActionResult(participant.id, False, f"{name}: {_problem(error)}"))
    return results


def endpoint_reset(participant_id: str, roster: Sequence[Participant], plan: FleetPlan,
                   stacks: Stacks, clients: ClientFactory) -> ActionResult:
    """Point the participant's endpoint back at their baseline endpoint configuration."""
    participant = next((p for p in roster if p.id == participant_id), None)
    if participant is None:
        return ActionResult(participant_id, False, f"'{participant_id}' is not on the roster")
    names = _names_of(participant, plan, stacks, _event_outputs(plan, stacks))
    missing = [key for key in ("endpoint", "baseline_endpoint_config") if key not in names]
    if missing:
        return ActionResult(participant_id, False,
                            f"the stack outputs lack {', '.join(missing)}; run `fleet up` first")
    endpoint, baseline = names["endpoint"], names["baseline_endpoint_config"]
    sagemaker = clients("sagemaker", participant.account)
    try:
        current = sagemaker.describe_endpoint(EndpointName=endpoint)
        if current["EndpointConfigName"] == baseline:
            return ActionResult(participant_id, True, f"{endpoint} already serves the baseline")
        if current["EndpointStatus"] not in ("InService", "Failed"):
            # UpdateEndpoint is refused while the endpoint is being created or updated.
            return ActionResult(participant_id, False,
                                f"{endpoint} is {current['EndpointStatus']}; try again when it "
                                f"is InService")
        sagemaker.update_endpoint(EndpointName=endpoint, EndpointConfigName=baseline)
    except (ClientError, BotoCoreError) as error:
        return ActionResult(participant_id, False, f"{endpoint}: {_problem(error)}")
    return ActionResult(participant_id, True,
                        f"{endpoint}: updating from {current['EndpointConfigName']} to {baseline}")
