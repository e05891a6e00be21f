"""The automated retraining loop (the fifth lab): the event's table, and per participant
their retraining function, the EventBridge rules that wake it, and a role scoped to them.

    RMSE alarm -> ALARM ---------\
    schedule (optional) ----------+--> <prefix>-retrain --CreateTrainingJob--> <prefix>--rt-<stamp>
    notebook (lambda:Invoke) ----/            ^                                       |
                                              +-- "Training Job State Change" <-------+
                                                  (Completed/Failed/Stopped): judge, promote or keep

Everything the function may create is named `<event>-<id>--rt-*` (inside the participant's
owned shape `<event>-<id>--*`: ids never contain `--`, so `aim368-ada--rt-*` cannot match
`aim368-ada-lovelace--rt-...`) and carries the participant's tags; everything else it
touches is named exactly: their endpoint, their SageMaker role, their bucket's samples/
and retraining/ prefixes, their own items of the shared table (dynamodb:LeadingKeys).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.parts import iam
from components.parts.lambda_function import FunctionSpec, declare_function
from components.parts.options import child_of, invoke_of
from components.training_data import DATASET_PREFIX
from event.config import LogsConfig, RetrainingConfig
from event.names import ParticipantNames
from handlers import retraining, retraining_data
from handlers.retraining_events import (
    ALARM_DETAIL_TYPE,
    JOB_DETAIL_TYPE,
    TERMINAL_STATUSES,
)
from training import artifacts
from training.hyperparameters import SENSIBLE

# The judge measures the current model on up to 5,000 holdout rows (10 calls) and may
# promote; preparing an attempt reads at most 64 MB of samples. Well within 5 minutes.
TIMEOUT_SECONDS = 300
MEMORY_MB = 1024  # the window's rows are held in memory while split
MAX_TRAINING_SECONDS = 3600
HOLDOUT_PERCENT = 20.0
SAMPLES_PREFIX = "samples/"  # where Lab 1's Firehose writes (components/sample_collection.py)
RUN_SUFFIX = "--rt"  # <event>-<id>--rt-<YYYYMMDDHHMMSS>: the loop's jobs, models, configs
TAG_KEYS = ("Participant", "Event", "Purpose")  # what the function's creates carry
TAGGING_CREATES = ("CreateTrainingJob", "CreateModel", "CreateEndpointConfig")
TABLE_ACTIONS = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem",
                 "dynamodb:DeleteItem", "dynamodb:Query"]


def table_name(event: str) -> str:
    return f"{event}-retraining"


def function_name(names: ParticipantNames) -> str:
    return f"{names.prefix}-retrain"


def job_prefix(names: ParticipantNames) -> str:
    """Every retraining job, model and endpoint configuration is <job_prefix>-<stamp>."""
    return f"{names.prefix}{RUN_SUFFIX}"


class RetrainingTable(pulumi.ComponentResource):
    """The event's one retraining table: settings, lock and attempts, keyed by participant."""

    table_name: pulumi.Output[str]
    table_arn: pulumi.Output[str]

    def __init__(self, name: str, event: str, opts: pulumi.ResourceOptions | None = None):
        super().__init__("workshop:lab4:RetrainingTable", name, None, opts)
        table = aws.dynamodb.Table(
            table_name(event), name=table_name(event), billing_mode="PAY_PER_REQUEST",
            hash_key="participant", range_key="record",
            attributes=[aws.dynamodb.TableAttributeArgs(name="participant", type="S"),
                        aws.dynamodb.TableAttributeArgs(name="record", type="S")],
            opts=child_of(self))
        self.table_name, self.table_arn = table.name, table.arn
        self.register_outputs({"table_name": self.table_name, "table_arn": self.table_arn})


@dataclass
class RetrainingArgs:
    names: ParticipantNames
    region: str
    table_name: pulumi.Input[str]  # the event's RetrainingTable
    table_arn: pulumi.Input[str]
    bucket_name: pulumi.Input[str]  # Lab 1's bucket
    bucket_arn: pulumi.Input[str]
    sagemaker_role_arn: pulumi.Input[str]  # Lab 2's role, passed to the jobs and models
    shared_bucket_name: pulumi.Input[str]  # the event's training data
    shared_bucket_arn: pulumi.Input[str]
    baseline_model_key: pulumi.Input[str]
    rmse_alarm_name: str  # the participant's RMSE alarm (components/monitoring.py)
    allowed_instance_types: list[str]  # training types: the jobs it starts
    hosting_instance_types: list[str]  # hosting types: the configurations it promotes with
    retraining: RetrainingConfig
    logs: LogsConfig


class Retraining(pulumi.ComponentResource):
    function_name: pulumi.Output[str]
    function_arn: pulumi.Output[str]

    def __init__(self, name: str, args: RetrainingArgs,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("workshop:lab4:Retraining", name, None, opts)
        self._args, self._names = args, args.names
        self._account = aws.get_caller_identity_output(opts=invoke_of(self)).account_id
        function = declare_function(FunctionSpec(
            logical_name=function_name(args.names), function_name=function_name(args.names),
            module=retraining, statements=self.statements(), environment=self.settings(),
            timeout=TIMEOUT_SECONDS, memory_size=MEMORY_MB,
            log_retention_days=args.logs.retention_days), parent=self).function
        for rule_name, rule in self._rules().items():
            aws.cloudwatch.EventTarget(f"{rule_name}-target", rule=rule.name, arn=function.arn,
                                       opts=child_of(self))
            aws.lambda_.Permission(f"{rule_name}-invoke", action="lambda:InvokeFunction",
                                   function=function.name, principal="events.amazonaws.com",
                                   source_arn=rule.arn, opts=child_of(self))
        self.function_name, self.function_arn = function.name, function.arn
        self.register_outputs({"function_name": self.function_name,
                               "function_arn": self.function_arn})

    # --- what the function is told ------------------------------------------------------

    def settings(self) -> retraining.Settings:
        args, names = self._args, self._names
        shared = pulumi.Output.concat("s3://", args.shared_bucket_name, "/")
        return retraining.Settings(
            event=names.event, participant=names.participant, endpoint_name=names.endpoint,
            alarm_name=args.rmse_alarm_name, job_prefix=job_prefix(names),
            bucket=args.bucket_name, samples_prefix=SAMPLES_PREFIX,
            sagemaker_role_arn=args.sagemaker_role_arn, table_name=args.table_name,
            training_instance_type=args.retraining.training_instance_type,
            allowed_instance_types=",".join(args.allowed_instance_types),
            retraining_default=args.retraining.default_on,
            margin_percent=float(args.retraining.margin_percent),
            window_minutes=args.retraining.window_minutes,
            baseline_model_url=pulumi.Output.concat(shared, args.baseline_model_key),
            baseline_hyperparameters=json.dumps(SENSIBLE["xgboost"], sort_keys=True),
            holdout_percent=HOLDOUT_PERCENT, max_training_seconds=MAX_TRAINING_SECONDS,
            precollected_uri=pulumi.Output.concat(shared, DATASET_PREFIX, artifacts.TRAIN_FILE))

    # --- what wakes it --------------------------------------------------------------------

    def alarm_arn(self) -> pulumi.Output[str]:
        return pulumi.Output.concat("arn:aws:cloudwatch:", self._args.region, ":",
                                    self._account, ":alarm:", self._args.rmse_alarm_name)

    def _rules(self) -> dict[str, aws.cloudwatch.EventRule]:
        names, prefix = self._names, function_name(self._names)
        rules = {
            # Only this participant's RMSE alarm, only when it enters ALARM.
            f"{prefix}-on-alarm": aws.cloudwatch.EventRule(
                f"{prefix}-on-alarm", name=f"{prefix}-on-alarm",
                description=f"{names.participant}'s RMSE alarm entered ALARM: retrain",
                event_pattern=pulumi.Output.json_dumps({
                    "source": ["aws.cloudwatch"], "detail-type": [ALARM_DETAIL_TYPE],
                    "resources": [self.alarm_arn()],
                    "detail": {"state": {"value": ["ALARM"]}}}),
                opts=child_of(self)),
            # Only this participant's retraining jobs, only when they end.
            f"{prefix}-on-job": aws.cloudwatch.EventRule(
                f"{prefix}-on-job", name=f"{prefix}-on-job",
                description=f"{names.participant}'s retraining job ended: judge it",
                event_pattern=json.dumps({
                    "source": ["aws.sagemaker"], "detail-type": [JOB_DETAIL_TYPE],
                    "detail": {"TrainingJobName": [{"prefix": job_prefix(names) + "-"}],
                               "TrainingJobStatus": list(TERMINAL_STATUSES)}}),
                opts=child_of(self)),
        }
        if self._args.retraining.schedule:
            rules[f"{prefix}-on-schedule"] = aws.cloudwatch.EventRule(
                f"{prefix}-on-schedule", name=f"{prefix}-on-schedule",
                description=f"Scheduled retraining for {names.participant} (if their loop is on)",
                schedule_expression=self._args.retraining.schedule, opts=child_of(self))
        return rules

    # --- what it may do -------------------------------------------------------------------

    def _arn(self, kind: str, name: str) -> pulumi.Output[str]:
        return pulumi.Output.concat("arn:aws:sagemaker:", self._args.region, ":",
                                    self._account, f":{kind}/{name}")

    def statements(self) -> list[dict]:
        args, names = self._args, self._names
        runs = job_prefix(names) + "-*"
        owned = f"{names.prefix}--*"  # what the participant's notebooks create (event/names)
        jobs, models, configs = (self._arn("training-job", runs), self._arn("model", runs),
                                 self._arn("endpoint-config", runs))
        endpoint = self._arn("endpoint", names.endpoint)
        tagged = {"StringEquals": {"aws:RequestTag/Participant": names.participant,
                                   "aws:RequestTag/Event": names.event},
                  "ForAllValues:StringEquals": {"aws:TagKeys": list(TAG_KEYS)}}

        def create(action: str, resource, instance_types: list[str] | None) -> dict:
            # A candidate trains on a training type and is served on the endpoint's own
            # (hosting) type: ml.c5.large, the default endpoint type, is no training type.
            sized = {"sagemaker:InstanceTypes": list(instance_types)} if instance_types else {}
            condition = {"StringEquals": dict(tagged["StringEquals"]),
                         "ForAllValues:StringEquals": {**tagged["ForAllValues:StringEquals"],
                                                       **sized}}
            return iam.allow([action], [resource], condition=condition)

        bucket = args.bucket_arn
        samples = pulumi.Output.concat(bucket, "/", SAMPLES_PREFIX, "*")
        attempts = pulumi.Output.concat(bucket, "/", retraining_data.ATTEMPTS_PREFIX, "*")
        return [
            create("sagemaker:CreateTrainingJob", jobs, args.allowed_instance_types),
            create("sagemaker:CreateEndpointConfig", configs, args.hosting_instance_types),
            create("sagemaker:CreateModel", models, None),
            # Tags only as part of those creates (sagemaker:TaggingAction names the create).
            iam.allow(["sagemaker:AddTags"], [jobs, models, configs], condition={
                "StringEquals": {**tagged["StringEquals"],
                                 "sagemaker:TaggingAction": list(TAGGING_CREATES)},
                "ForAllValues:StringEquals": tagged["ForAllValues:StringEquals"]}),
            # What the endpoint serves: its configuration, model and the job that trained
            # it, all in the participant's owned shape and tagged as theirs.
            iam.allow(["sagemaker:DescribeTrainingJob", "sagemaker:DescribeModel",
                       "sagemaker:DescribeEndpointConfig"],
                      [self._arn("training-job", owned), self._arn("model", owned),
                       self._arn("endpoint-config", owned)],
                      condition={"StringEquals": {"aws:ResourceTag/Participant":
                                                  names.participant}}),
            iam.allow(["sagemaker:DescribeEndpoint", "sagemaker:InvokeEndpoint"], [endpoint]),
            iam.allow(["sagemaker:UpdateEndpoint"], [endpoint, configs]),
            iam.allow(["iam:PassRole"], [args.sagemaker_role_arn],
                      condition={"StringEquals": {"iam:PassedToService":
                                                  "sagemaker.amazonaws.com"}}),
            iam.allow(["s3:GetObject"], [samples]),
            iam.allow(["s3:GetObject", "s3:PutObject"], [attempts]),
            iam.allow(["s3:ListBucket"], [bucket], condition={"StringLike": {"s3:prefix": [
                SAMPLES_PREFIX + "*", retraining_data.ATTEMPTS_PREFIX + "*"]}}),
            iam.allow(["s3:GetObject"], [pulumi.Output.concat(
                args.shared_bucket_arn, "/", DATASET_PREFIX, artifacts.TRAIN_FILE)]),
            iam.allow(TABLE_ACTIONS, [args.table_arn], condition={
                "ForAllValues:StringEquals": {"dynamodb:LeadingKeys": [names.participant]}}),
        ]
