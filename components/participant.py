"""One participant's labs (Lab 1, Lab 2, Lab 3) as one component: what both topologies declare.

Single-stack mode declares one per roster entry; a participant stack declares exactly one.
Either way the same code runs with the same inputs: the shared event parts it uses
(`SharedParts`: read from the event's components in one stack, from the event stack's outputs
through a StackReference in a participant stack) and the API its stage joins.

The component carries a `transforms` option tagging every taggable resource below it
`Participant=<id>`; readers that need to know whose an untaggable resource is (a role
policy, a permission) look for this component among its parents.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from components.inference_api import ApiTarget
from components.live_inference import LiveInference, LiveInferenceArgs
from components.model_training import ModelTraining, ModelTrainingArgs
from components.parts.options import child_of
from components.parts.tagging import participant_tag
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


@dataclass
class ParticipantArgs:
    names: ParticipantNames
    shared: SharedParts
    api: ApiTarget
    config: EventConfig


class ParticipantLabs(pulumi.ComponentResource):
    bucket: pulumi.Output[str]
    delivery_stream: pulumi.Output[str]
    collection_function: pulumi.Output[str]
    notebook: pulumi.Output[str]
    endpoint: pulumi.Output[str]
    inference_url: pulumi.Output[str]

    def __init__(self, name: str, args: ParticipantArgs,
                 opts: pulumi.ResourceOptions | None = None):
        tagging = pulumi.ResourceOptions(transforms=[participant_tag(args.names.participant)])
        super().__init__(PARTICIPANT_TYPE, name, None, pulumi.ResourceOptions.merge(opts, tagging))
        names, shared, config = args.names, args.shared, args.config
        participant = names.participant
        lab1 = SampleCollection(
            f"{participant}-lab1",
            SampleCollectionArgs(names, sample_topic_arn=shared.sample_topic_arn,
                                 undelivered_queue_arn=shared.undelivered_queue_arn,
                                 collection=config.collection, logs=config.logs),
            opts=child_of(self))
        lab2 = ModelTraining(
            f"{participant}-lab2",
            ModelTrainingArgs(names, region=config.region,
                              participant_bucket_name=lab1.bucket_name,
                              participant_bucket_arn=lab1.bucket_arn,
                              shared_bucket_name=shared.training_bucket_name,
                              shared_bucket_arn=shared.training_bucket_arn,
                              baseline_model_key=shared.baseline_model_key,
                              notebook=config.notebook, endpoint=config.endpoint),
            opts=child_of(self))
        lab3 = LiveInference(
            f"{participant}-lab3",
            LiveInferenceArgs(names, region=config.region, api=args.api,
                              inference=config.inference, logs=config.logs),
            opts=child_of(self))
        self.bucket = lab1.bucket_name
        self.delivery_stream = lab1.delivery_stream_name
        self.collection_function = lab1.collection_function_name
        self.notebook = lab2.notebook_name
        self.endpoint = lab2.endpoint_name
        self.inference_url = lab3.url
        self.register_outputs(self.outputs())

    def outputs(self) -> dict[str, pulumi.Output[str]]:
        """The names a participant stack exports and single-stack mode lists per participant."""
        return {"bucket": self.bucket, "delivery_stream": self.delivery_stream,
                "collection_function": self.collection_function, "notebook": self.notebook,
                "endpoint": self.endpoint, "inference_url": self.inference_url}
