"""Run the Pulumi program under Pulumi's mock engine and record what it declares.

The tests, the benchmarks and the local rehearsal all evaluate `__main__.py` this way:
the real pulumi_aws classes check argument names and types, while this module plays
the engine and the cloud provider (ids, ARNs, auto-names, account and region).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import runpy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import run_in_stack

from event.config import DEFAULT_REGION
from tools.pulumi_internals import (
    deserialize_properties,
    reset_stack,
    serialize_properties,
    sync_await,
    transforms_of,
)

PROJECT_DIR = Path(__file__).resolve().parent.parent
PROGRAM = PROJECT_DIR / "__main__.py"
PROJECT = "ml-workshop"
ACCOUNT = "111111111111"
PROVIDER_TYPE = "pulumi:providers:aws"
STACK_REFERENCE_TYPE = "pulumi:pulumi:StackReference"
PARTICIPANT_TYPE = "workshop:event:Participant"  # components/participant.py

# How the fake provider builds ARNs: resource type -> template over region, account, name.
ARN_TEMPLATES = {
    "aws:s3/bucket:Bucket": "arn:aws:s3:::{name}",
    "aws:iam/role:Role": "arn:aws:iam::{account}:role/{name}",
    "aws:lambda/function:Function": "arn:aws:lambda:{region}:{account}:function:{name}",
    "aws:sns/topic:Topic": "arn:aws:sns:{region}:{account}:{name}",
    "aws:sqs/queue:Queue": "arn:aws:sqs:{region}:{account}:{name}",
    "aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream":
        "arn:aws:firehose:{region}:{account}:deliverystream/{name}",
    "aws:cloudwatch/logGroup:LogGroup": "arn:aws:logs:{region}:{account}:log-group:{name}",
    "aws:cloudwatch/eventRule:EventRule": "arn:aws:events:{region}:{account}:rule/{name}",
    "aws:scheduler/schedule:Schedule": "arn:aws:scheduler:{region}:{account}:schedule/default/{name}",
    "aws:apigateway/restApi:RestApi": "arn:aws:apigateway:{region}::/restapis/{name}-id",
    "aws:dynamodb/table:Table": "arn:aws:dynamodb:{region}:{account}:table/{name}",
    "aws:cloudwatch/metricAlarm:MetricAlarm": "arn:aws:cloudwatch:{region}:{account}:alarm:{name}",
    "aws:sagemaker/model:Model": "arn:aws:sagemaker:{region}:{account}:model/{name}",
    "aws:sagemaker/endpointConfiguration:EndpointConfiguration":
        "arn:aws:sagemaker:{region}:{account}:endpoint-config/{name}",
    "aws:sagemaker/endpoint:Endpoint": "arn:aws:sagemaker:{region}:{account}:endpoint/{name}",
    "aws:sagemaker/notebookInstance:NotebookInstance":
        "arn:aws:sagemaker:{region}:{account}:notebook-instance/{name}",
    "aws:ssm/parameter:Parameter": "arn:aws:ssm:{region}:{account}:parameter{name}",
    # Secrets Manager appends 6 random characters to a secret's name in its ARN.
    "aws:secretsmanager/secret:Secret": "arn:aws:secretsmanager:{region}:{account}:secret:{name}-AbC123",
}
# How the engine marks a secret value on the wire (SecretSig in Pulumi's property model): a
# recorded input or output that is a secret reads {<sig key>: SECRET_SIG, "value": ...}.
SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"


def is_secret(value: Any) -> bool:
    return isinstance(value, dict) and "value" in value and SECRET_SIG in value.values()


def reveal(value: Any) -> Any:
    """The value with every secret marker taken off, as `--show-secrets` prints it."""
    if is_secret(value):
        return reveal(value["value"])
    if isinstance(value, dict):
        return {k: reveal(v) for k, v in value.items()}
    if isinstance(value, list):
        return [reveal(v) for v in value]
    return value


# The property that holds each type's physical name, when it is not `name`.
NAME_PROPERTY = {"aws:s3/bucket:Bucket": "bucket"}
AUTONAMED = set(ARN_TEMPLATES)


def autoname(logical_name: str) -> str:
    """Pulumi's auto-naming: the logical name, a dash and 7 pseudo-random characters."""
    return f"{logical_name}-{hashlib.sha1(logical_name.encode()).hexdigest()[:7]}"


@dataclass
class Declared:
    """One resource as the program declared it."""

    urn: str
    id: str
    type: str
    name: str
    inputs: dict[str, Any]
    state: dict[str, Any]
    parent: str
    provider: str  # "<provider urn>::<id>", or "" for components and providers
    dependencies: list[str]
    custom: bool
    ignore_changes: list[str] = field(default_factory=list)
    custom_timeouts: dict[str, str] = field(default_factory=dict)
    protect: bool = False
    retain_on_delete: bool = False
    delete_before_replace: bool | None = None  # None: not set (create-before-delete)

    @property
    def provider_urn(self) -> str:
        return self.provider.rsplit("::", 1)[0] if self.provider else ""


@dataclass
class Program:
    """Everything a run of the program declared, with lookups for tests.

    Lookups index the resources once (by URN, by participant) so that listing a program of
    thousands of resources costs no more than declaring it.
    """

    resources: list[Declared] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)
    _urns: dict[str, Declared] | None = field(default=None, repr=False, compare=False)
    _owners: dict[str, str | None] | None = field(default=None, repr=False, compare=False)

    def of_type(self, type_token: str) -> list[Declared]:
        return [r for r in self.resources if r.type == type_token]

    def named(self, name: str, type_token: str | None = None) -> Declared:
        found = [r for r in self.resources
                 if r.name == name and (type_token is None or r.type == type_token)]
        if len(found) != 1:
            raise KeyError(f"{len(found)} resources named {name!r} of type {type_token}")
        return found[0]

    def by_urn(self, urn: str) -> Declared:
        if self._urns is None or len(self._urns) != len(self.resources):
            self._urns = {r.urn: r for r in self.resources}
        return self._urns[urn]

    def within(self, component_name: str, type_token: str | None = None) -> list[Declared]:
        """Every resource below the named component, at any depth."""
        inside = {self.named(component_name, type_token).urn}
        found = []
        for resource in self.resources:  # registration order: parents come first
            if resource.parent in inside:
                inside.add(resource.urn)
                found.append(resource)
        return found

    def participant_of(self, resource: Declared) -> str | None:
        """Whose a resource is: the participant component it is declared in, if any."""
        if self._owners is None or len(self._owners) != len(self.resources):
            owners: dict[str, str | None] = {}
            for r in self.resources:  # one pass; parents are registered before children
                owners[r.urn] = r.name if r.type == PARTICIPANT_TYPE else owners.get(r.parent)
            self._owners = owners
        return self._owners.get(resource.urn)

    def participants(self) -> list[str]:
        """Ids of the participants declared here, sorted (registration order varies)."""
        return sorted(r.name for r in self.resources if r.type == PARTICIPANT_TYPE)

    def owned_by(self, participant_id: str) -> list[Declared]:
        """The custom resources declared inside that participant's component."""
        return [r for r in self.resources
                if r.custom and self.participant_of(r) == participant_id]

    def owners(self) -> dict[str, list[Declared]]:
        """participant id -> their custom resources; "" -> the shared ones (no providers)."""
        found: dict[str, list[Declared]] = {pid: [] for pid in self.participants()}
        found[""] = []
        for r in self.resources:
            if r.custom and r.type != PROVIDER_TYPE:
                found.setdefault(self.participant_of(r) or "", []).append(r)
        return found

    def provider_of(self, participant_id: str) -> Declared:
        """The one provider every resource of that participant is created through."""
        urns = {r.provider_urn for r in self.owned_by(participant_id)}
        if len(urns) != 1:
            raise KeyError(f"{participant_id!r} uses {len(urns)} providers: {sorted(urns)}")
        return self.by_urn(urns.pop())


class _CloudMocks(pulumi_mocks.Mocks):
    """Plays the AWS provider: ids, auto-names and ARNs, in the provider's account and the
    stack's region."""

    def __init__(self, region: str = DEFAULT_REGION,
                 stack_outputs: dict[str, dict[str, Any]] | None = None) -> None:
        self.region = region
        self.provider_accounts: dict[str, str] = {}
        # Fully qualified stack name -> its outputs, for the program's StackReferences.
        self.stack_outputs = stack_outputs or {}

    def _account(self, provider: str | None) -> str:
        urn = provider.rsplit("::", 1)[0] if provider else ""
        return self.provider_accounts.get(urn, ACCOUNT)

    def new_resource(self, args: pulumi_mocks.MockResourceArgs):
        state = dict(args.inputs)
        if args.typ == PROVIDER_TYPE:
            return f"{args.name}-id", state
        if args.typ == STACK_REFERENCE_TYPE:
            # A StackReference is read with the stack's name as its id; the engine answers
            # with that stack's outputs. An unknown stack fails as `pulumi` does.
            name = args.resource_id or state.get("name")
            if name not in self.stack_outputs:
                raise Exception(f"unknown stack {name!r}: the mock engine was given outputs "
                                f"for {sorted(self.stack_outputs)}")
            return name, {"name": name, "outputs": self.stack_outputs[name],
                          "secretOutputNames": []}
        name_property = NAME_PROPERTY.get(args.typ, "name")
        if args.typ in AUTONAMED and not state.get(name_property):
            state[name_property] = autoname(args.name)
        physical = state.get(name_property, args.name)
        template = ARN_TEMPLATES.get(args.typ)
        if template:
            state["arn"] = template.format(region=self.region, account=self._account(args.provider),
                                           name=physical)
        if args.typ == "aws:sqs/queue:Queue":
            state["url"] = f"https://sqs.{self.region}.amazonaws.com/{ACCOUNT}/{physical}"
        if args.typ == "aws:apigateway/restApi:RestApi":
            state["rootResourceId"] = f"{physical}-root"
            state["executionArn"] = (f"arn:aws:execute-api:{self.region}:"
                                     f"{self._account(args.provider)}:{physical}-id")
        if args.typ == "aws:lambda/functionUrl:FunctionUrl":
            url_id = hashlib.sha1(args.name.encode()).hexdigest()[:12]
            state["functionUrl"] = f"https://{url_id}.lambda-url.{self.region}.on.aws/"
        if args.typ == "aws:cloudfront/distribution:Distribution":
            distribution_id = "E" + hashlib.sha1(args.name.encode()).hexdigest()[:13].upper()
            state["arn"] = f"arn:aws:cloudfront::{self._account(args.provider)}:distribution/{distribution_id}"
            state["domainName"] = f"d{distribution_id[1:].lower()}.cloudfront.net"
            return distribution_id, state
        if args.typ == "aws:apigateway/stage:Stage":
            state["invokeUrl"] = (f"https://{state['restApi']}.execute-api.{self.region}.amazonaws.com/"
                                  f"{state['stageName']}")
        if args.typ == "aws:cloudwatch/logStream:LogStream":
            state["arn"] = (f"arn:aws:logs:{self.region}:{self._account(args.provider)}:log-group:"
                            f"{state['logGroupName']}:log-stream:{physical}")
        return f"{physical}-id", state

    def call(self, args: pulumi_mocks.MockCallArgs):
        if args.token == "aws:index/getCallerIdentity:getCallerIdentity":
            account = self._account(args.provider)
            return {"accountId": account, "arn": f"arn:aws:iam::{account}:user/organizer",
                    "userId": "AIDAORGANIZER", "id": account}
        if args.token == "aws:sagemaker/getPrebuiltEcrImage:getPrebuiltEcrImage":
            registry = "683313688378"  # sagemaker-xgboost's registry in us-east-1
            path = (f"{registry}.dkr.ecr.{args.args.get('region') or self.region}.amazonaws.com/"
                    f"{args.args['repositoryName']}:{args.args.get('imageTag', 'latest')}")
            return {"registryPath": path, "registryId": registry, "id": registry,
                    "repositoryName": args.args["repositoryName"]}
        if args.token == "aws:index/getRegion:getRegion":
            return {"name": self.region, "region": self.region, "id": self.region}
        raise NotImplementedError(f"the mock cloud does not answer {args.token}")


def _apply_transforms(chain: list[Any], request: Any) -> None:
    """Run transforms on a registration's inputs as the engine does, in place."""
    props = deserialize_properties(request.object)
    for transform in chain:
        result = transform(pulumi.ResourceTransformArgs(
            custom=request.custom, type_=request.type, name=request.name, props=props,
            opts=pulumi.ResourceOptions()))
        if asyncio.iscoroutine(result):
            result = sync_await(result)
        if result is not None:
            props = result.props
    request.object.CopyFrom(sync_await(serialize_properties(props)))


class _RecordingMonitor(pulumi_mocks.MockMonitor):
    """The mock monitor, also keeping parent, provider, dependencies and stack outputs."""

    def __init__(self, mocks: _CloudMocks) -> None:
        super().__init__(mocks)
        self.cloud = mocks
        self.program = Program()
        self.transforms_below: dict[str, list[Any]] = {}

    def RegisterResource(self, request):
        if request.type == "pulumi:pulumi:Stack":
            return super().RegisterResource(request)
        # The mock monitor does not run `transforms`; the engine runs a resource's own
        # transforms, then its parent's, up to the stack, on every resource below them.
        chain = transforms_of(request) + \
            self.transforms_below.get(request.parent, [])
        if chain:
            _apply_transforms(chain, request)
        response = super().RegisterResource(request)
        if chain:
            self.transforms_below[response.urn] = chain
        inputs = deserialize_properties(request.object)
        urn = response.urn
        if request.type == PROVIDER_TYPE:
            roles = inputs.get("assumeRoles") or []
            for role in json.loads(roles) if isinstance(roles, str) else roles:
                self.cloud.provider_accounts[urn] = role["roleArn"].split(":")[4]
        self.program.resources.append(Declared(
            urn=urn, id=response.id, type=request.type, name=request.name, inputs=inputs,
            state=self.resources[urn].state, parent=request.parent, provider=request.provider,
            dependencies=list(request.dependencies), custom=request.custom,
            ignore_changes=list(request.ignoreChanges), protect=bool(request.protect),
            retain_on_delete=bool(request.retainOnDelete),
            delete_before_replace=(request.deleteBeforeReplace
                                   if request.deleteBeforeReplaceDefined else None),
            custom_timeouts={k: getattr(request.customTimeouts, k)
                             for k in ("create", "update", "delete")
                             if getattr(request.customTimeouts, k)}))
        return response

    def RegisterResourceOutputs(self, request):
        if request.urn.split("::")[2] == "pulumi:pulumi:Stack":
            self.program.outputs = deserialize_properties(request.outputs)
        return super().RegisterResourceOutputs(request)


def stand_in_join_codes(config: dict[str, str], stack: str) -> dict[str, str]:
    """`config` plus a join code per roster id when it sets none, as `fleet codes` would.

    Derived from the stack and the id, so repeated evaluations declare the same directory;
    only ever used under the mock engine. An unreadable roster is left for the program to
    report."""
    if "joinCodes" in config:
        return config
    from event.config import SETTINGS
    from event.roster import RosterError, load_roster

    defaults = {s.key: s.default for s in SETTINGS}
    try:
        roster = load_roster(PROJECT_DIR / str(config.get("roster") or defaults["roster"]),
                             str(config.get("event") or defaults["event"]))
    except RosterError:
        return config
    codes = {p.id: base64.urlsafe_b64encode(hashlib.sha256(
        f"{stack}/{p.id}".encode()).digest()[:16]).decode().rstrip("=") for p in roster}
    return {**config, "joinCodes": json.dumps(codes)}


def run_program(config: dict[str, str], stack: str = "test",
                program: Path = PROGRAM,
                stack_outputs: dict[str, dict[str, Any]] | None = None) -> Program:
    """Evaluate the program with the given project config ({"event": "x", ...}).

    `stack_outputs` answers the program's StackReferences: fully qualified stack name ->
    that stack's outputs (e.g. an event stack's `Program.outputs`, for a participant stack).
    Without `joinCodes`, every roster id gets a stand-in code (stand_in_join_codes).
    Raises whatever the program raises; `last_run()` still tells what was declared.
    """
    global _last
    config = stand_in_join_codes(config, stack)
    asyncio.set_event_loop(asyncio.new_event_loop())
    cloud = _CloudMocks(region=str(config.get("aws:region") or DEFAULT_REGION),
                        stack_outputs=stack_outputs)
    monitor = _RecordingMonitor(cloud)
    _last = monitor.program
    pulumi.runtime.set_all_config({f"{PROJECT}:{k}" if ":" not in k else k: str(v)
                                   for k, v in config.items()})
    pulumi_mocks.set_mocks(cloud, project=PROJECT, stack=stack, preview=False, monitor=monitor)
    reset_stack()  # set_mocks made a stack of its own; run_in_stack makes the real one
    def run() -> Any:
        return runpy.run_path(str(program), run_name="__main__")
    sync_await(run_in_stack(run))
    return monitor.program


_last = Program()


def last_run() -> Program:
    return _last
