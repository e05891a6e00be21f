"""One participant's labs as one component: what both topologies declare.

Lab 1 (collect samples), Lab 3 (serve; declared before Lab 2, whose notebook settings name
its URL), Lab 2 (train, deploy), the automated retraining loop that joins them and, for a
participant in the event's account, the role the portal signs them in to the console as.

Single-stack mode declares one per roster entry; a participant stack declares exactly one.
Either way the same code runs with the same inputs: the shared event parts it uses
(`SharedParts`: read from the event's components in one stack -- some of them deferred,
declared after every participant -- and from the event stack's outputs through a
StackReference in a participant stack) and the API its stage joins.

The component carries a `transforms` option tagging every taggable resource below it
`Participant=<id>`; readers that need to know whose an untaggable resource is (a role
policy, a permission) look for this component among its parents.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.console_access import ConsoleAccess, ConsoleAccessArgs
from components.inference_api import ApiTarget
from components.live_inference import LiveInference, LiveInferenceArgs
from components.model_training import ModelTraining, ModelTrainingArgs
from components.monitoring import rmse_alarm_name
from components.parts.options import child_of
from components.parts.tagging import participant_tag
from components.retraining import Retraining, RetrainingArgs, function_name
from components.sample_collection import SampleCollection, SampleCollectionArgs
from event.config import EventConfig
from event.names import ParticipantNames

PARTICIPANT_TYPE = "workshop:event:Participant"


@dataclass
class SharedParts:
    """What a participant's labs use of the event's shared parts."""
    sample_topic_arn: pulumi.Input[str]
    undelivered_queue_arn: pulumi.Input[str]
    training_bucket_name: pulumi.Input[str]
    training_bucket_arn: pulumi.Input[str]
    baseline_model_key: pulumi.Input[str]
    retraining_table_name: pulumi.Input[str]
    retraining_table_arn: pulumi.Input[str]
    leaderboard_url: pulumi.Input[str]
    # The console role's trust and reach (participants in the event's account only).
    event_account: pulumi.Input[str]
    portal_role_arn: pulumi.Input[str]
    dashboard_name: pulumi.Input[str]


@dataclass
class ParticipantArgs:
    names: ParticipantNames
    shared: SharedParts
    api: ApiTarget
    config: EventConfig
    own_account: bool = False  # deployed into an account of their own: no console role here


class ParticipantLabs(pulumi.ComponentResource):
    bucket: pulumi.Output[str]
    bucket_arn: pulumi.Output[str]
    delivery_stream: pulumi.Output[str]
    collection_function: pulumi.Output[str]
    notebook: pulumi.Output[str]
    notebook_arn: pulumi.Output[str]
    endpoint: pulumi.Output[str]
    endpoint_arn: pulumi.Output[str]
    baseline_endpoint_config: pulumi.Output[str]
    inference_url: pulumi.Output[str]
    retraining_function: pulumi.Output[str]

    def __init__(self, name: str, args: ParticipantArgs,
                 opts: pulumi.ResourceOptions | None = None):
        tagging = pulumi.ResourceOptions(transforms=[participant_tag(args.names.participant)])
        super().__init__(PARTICIPANT_TYPE, name, None, pulumi.ResourceOptions.merge(opts, tagging))
        names, shared, config = args.names, args.shared, args.config
        participant = names.participant
        self.lab1 = lab1 = SampleCollection(
            f"{participant}-lab1",
            SampleCollectionArgs(names, sample_topic_arn=shared.sample_topic_arn,
                                 undelivered_queue_arn=shared.undelivered_queue_arn,
                                 collection=config.collection, logs=config.logs),
            opts=child_of(self))
        self.lab3 = lab3 = LiveInference(
            f"{participant}-lab3",
            LiveInferenceArgs(names, region=config.region, api=args.api,
                              inference=config.inference, logs=config.logs,
                              # Lab 2's role, by name: Lab 2 is declared next, with Lab 3's URL.
                              invoker_role_names=[names.sagemaker_role]),
            opts=child_of(self))
        self.lab2 = lab2 = ModelTraining(
            f"{participant}-lab2",
            ModelTrainingArgs(names, region=config.region,
                              participant_bucket_name=lab1.bucket_name,
                              participant_bucket_arn=lab1.bucket_arn,
                              shared_bucket_name=shared.training_bucket_name,
                              shared_bucket_arn=shared.training_bucket_arn,
                              baseline_model_key=shared.baseline_model_key,
                              notebook=config.notebook, endpoint=config.endpoint,
                              retraining_function=function_name(names),
                              keep_promotions=config.updates.keep_promotions,
                              inference_url=lab3.url, leaderboard_url=shared.leaderboard_url,
                              max_training_jobs=config.training.max_jobs_per_participant),
            opts=child_of(self))
        loop = Retraining(
            f"{participant}-retraining",
            RetrainingArgs(names, region=config.region, table_name=shared.retraining_table_name,
                           table_arn=shared.retraining_table_arn, bucket_name=lab1.bucket_name,
                           bucket_arn=lab1.bucket_arn, sagemaker_role_arn=lab2.role_arn,
                           shared_bucket_name=shared.training_bucket_name,
                           shared_bucket_arn=shared.training_bucket_arn,
                           baseline_model_key=shared.baseline_model_key,
                           rmse_alarm_name=rmse_alarm_name(names.event, participant),
                           allowed_instance_types=config.endpoint.training_types,
                           hosting_instance_types=config.endpoint.hosting_types,
                           retraining=config.retraining, logs=config.logs),
            opts=child_of(self))
        if not args.own_account:
            # Their auto-named bucket, published for the portal, which reads it from here
            # when it lives in another stack (components/portal.py); declared in both
            # topologies, so the two declare the same resources.
            aws.ssm.Parameter(
                f"{names.prefix}-samples-parameter", name=names.samples_bucket_parameter,
                type="String", insecure_value=lab1.bucket_name,
                description=f"{names.participant}'s samples bucket, for the portal",
                opts=child_of(self))
            # The portal signs them in as this role; it lives with their labs, so a participant
            # stack's reset re-creates it with them.
            ConsoleAccess(f"{participant}-console", ConsoleAccessArgs(
                names, config.region, account=shared.event_account,
                portal_role_arn=shared.portal_role_arn,
                sagemaker_statements=lab2.role_statements(),
                bucket_arn=lab1.bucket_arn, delivery_stream_name=lab1.delivery_stream_name,
                function_names=[lab1.collection_function_name, lab3.function_name],
                api_execution_arn=args.api.execution_arn,
                dashboard_name=shared.dashboard_name,
                session_seconds=config.portal.console_session_seconds), opts=child_of(self))
        self.bucket = lab1.bucket_name
        self.bucket_arn = lab1.bucket_arn
        self.delivery_stream = lab1.delivery_stream_name
        self.collection_function = lab1.collection_function_name
        self.notebook = lab2.notebook_name
        self.notebook_arn = lab2.notebook_arn
        self.endpoint = lab2.endpoint_name
        self.endpoint_arn = lab2.endpoint_arn
        self.baseline_endpoint_config = lab2.baseline_endpoint_config
        self.inference_url = lab3.url
        self.retraining_function = loop.function_name
        self.register_outputs({**self.outputs(), "bucket_arn": self.bucket_arn,
                               "notebook_arn": self.notebook_arn,
                               "endpoint_arn": self.endpoint_arn})

    def outputs(self) -> dict[str, pulumi.Output[str]]:
        """The names a participant stack exports and single-stack mode lists per participant
        (what `fleet status` and `fleet endpoint-reset` read)."""
        return {"bucket": self.bucket, "delivery_stream": self.delivery_stream,
                "collection_function": self.collection_function, "notebook": self.notebook,
                "endpoint": self.endpoint, "inference_url": self.inference_url,
                "retraining_function": self.retraining_function,
                "baseline_endpoint_config": self.baseline_endpoint_config}
