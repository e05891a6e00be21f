"""A participant reset mid-event, as `fleet reset <id>` does: their stack destroyed and
brought up again, nobody else touched.

Between two traffic runs, the reset participant's stack's resources are deleted from moto
(teardown.destroy, on their participant stack alone), their stack is evaluated afresh
under the mock engine and provisioned again (world.provision_stack), and the union's
wiring is checked anew. Who else it touched is measured three ways:
- moto: every resource the rehearsal creates (and each bucket's object count), listed
  before and after; any change not in the reset stack's own resources is named;
- wiring: every other stage's function and environment, every other topic subscription;
- traffic: each other participant's errors in the run after the reset beyond those in the
  run before (not counted in a run where the machine was saturated: capacity.py).
The local SageMaker runtime stands for the endpoints and keeps serving the participant's
model (re-deploying it is their notebook's job, which the rehearsal does not replay).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import boto3

from handlers import scoring
from rehearsal.stacks import Declaration
from rehearsal.teardown import DELETERS, destroy
from rehearsal.world import FUNCTION, World, provision_stack


@dataclass
class Reset:
    participant: str
    after_run: int  # 1-based: the reset came after this traffic run
    deleted: list[str] = field(default_factory=list)
    recreated: list[str] = field(default_factory=list)
    touched: list[str] = field(default_factory=list)  # others' resources or wiring changed
    attributable: dict[str, int] = field(default_factory=dict)  # others' errors, after - before
    own_errors: list[int] = field(default_factory=list)  # the reset participant's, per run

    def failures(self) -> list[str]:
        found = [f"the reset of {self.participant} touched {item}" for item in self.touched]
        found += [f"the reset of {self.participant} cost {p} {n} error{'s' if n != 1 else ''}"
                  for p, n in self.attributable.items() if n]
        return found

    def lines(self) -> list[str]:
        lines = ["", f"Reset (as `fleet reset {self.participant}`, after run {self.after_run}): "
                     "their stack destroyed and re-created, everyone else unaffected",
                 f"  deleted {len(self.deleted)} and re-created {len(self.recreated)} of "
                 f"{self.participant}'s resources; other participants' resources and wiring "
                 + ("unchanged" if not self.touched else f"CHANGED ({len(self.touched)})"),
                 f"  {self.participant}'s errors per run: "
                 + " ".join(str(n) for n in self.own_errors)]
        lines += [f"  {p:24s} {n} errors attributable to the reset"
                  for p, n in self.attributable.items()]
        lines += [f"  FAILED: {failure}" for failure in self.failures()]
        return lines


def _bucket_objects(s3, name: str) -> int:
    return sum(page.get("KeyCount", 0)
               for page in s3.get_paginator("list_objects_v2").paginate(Bucket=name))


def inventory() -> dict[tuple[str, str], object]:
    """(kind, name) -> what distinguishes its state, for every kind the rehearsal creates."""
    s3, found = boto3.client("s3"), {}
    for bucket in s3.list_buckets()["Buckets"]:
        found["bucket", bucket["Name"]] = _bucket_objects(s3, bucket["Name"])
    for name in boto3.client("firehose").list_delivery_streams(Limit=10_000)[
            "DeliveryStreamNames"]:
        found["delivery stream", name] = True
    for name in boto3.client("dynamodb").list_tables()["TableNames"]:
        found["table", name] = True
    for page in boto3.client("sns").get_paginator("list_topics").paginate():
        found.update({("topic", t["TopicArn"]): True for t in page["Topics"]})
    for page in boto3.client("logs").get_paginator("describe_log_groups").paginate():
        found.update({("log group", g["logGroupName"]): True for g in page["logGroups"]})
    for page in boto3.client("cloudwatch").get_paginator("describe_alarms").paginate():
        found.update({("alarm", a["AlarmName"]): True for a in page["MetricAlarms"]})
    for url in boto3.client("sqs").list_queues().get("QueueUrls", []):
        found["queue", url.rsplit("/", 1)[-1]] = True
    for page in boto3.client("ssm").get_paginator("describe_parameters").paginate():
        found.update({("parameter", p["Name"]): True for p in page["Parameters"]})
    for page in boto3.client("secretsmanager").get_paginator("list_secrets").paginate():
        found.update({("secret", s["ARN"]): True for s in page["SecretList"]})
    return found


def _own(world: World, stack) -> set[tuple[str, str]]:
    """(kind, name) of what the rehearsal created in moto for a stack's declarations."""
    return {(kind, name_of(world, declared)) for token, (kind, name_of, _) in DELETERS.items()
            for declared in stack.of_type(token)}


def _wiring(world: World, own_functions: set[str]) -> dict:
    """Every other participant's stage and subscription, as the world routes them."""
    stages = {stage: (f.name, tuple(sorted(f.env.items()))) for stage, f in world.stages.items()
              if f.name not in own_functions}
    subscribers = {topic: sorted(f.name for f in functions if f.name not in own_functions)
                   for topic, functions in world.subscribers.items()}
    return {"stages": stages, "subscriptions": subscribers}


def reset(world: World, declaration: Declaration, participant: str, after_run: int,
          sagemaker) -> Reset:
    """Destroy `participant`'s stack in moto and bring it up from a fresh evaluation."""
    old = declaration.stacks[participant]
    own_functions = {f.inputs["name"] for f in old.of_type(FUNCTION)}
    outcome = Reset(participant, after_run)
    before, wiring = inventory(), _wiring(world, own_functions)
    own = _own(world, old)
    outcome.deleted = destroy(World(old, secrets=world.secrets), sagemaker)
    for declared in old.of_type(FUNCTION):
        world.functions.pop(declared.state["arn"], None)
    fresh = declaration.redeclare(participant)
    provision_stack(declaration.program, fresh, world)
    after = inventory()
    created = _own(world, fresh)
    own |= created
    outcome.recreated = sorted(f"{kind} {name}" for kind, name in created
                               if (kind, name) in after)
    outcome.touched = [f"{kind} {name}" for kind, name in sorted(set(before) | set(after))
                       if (kind, name) not in own and before.get((kind, name)) !=
                       after.get((kind, name))]
    if _wiring(world, own_functions) != wiring:
        outcome.touched.append("the other participants' stages or subscriptions")
    return outcome


def judge(outcome: Reset, runs: list[dict[str, dict]], saturated: list[bool]) -> None:
    """Fill in errors per run: the reset participant's, and the others' in the run after
    the reset beyond the run before (nothing counted where the machine was saturated)."""
    def errors(run: int, p: str) -> int:
        return int(scoring.errors(runs[run].get(p, scoring.empty())))

    outcome.own_errors = [errors(run, outcome.participant) for run in range(len(runs))]
    before, after = outcome.after_run - 1, outcome.after_run
    if after >= len(runs):
        return
    for p in sorted({p for run in runs for p in run} - {outcome.participant}):
        outcome.attributable[p] = 0 if saturated[after] else \
            max(0, errors(after, p) - errors(before, p))
