"""The workshop as code, in three kinds of stack from this one program (`topology` config):

- single stack (`participantStacks: false`): the shared event parts once, then every lab for
  every participant, all here;
- the event stack (`participantStacks: true`): the roster, the shared parts and the slot
  assignment; it exports what participant stacks need;
- a participant stack (`participant: <id>`, `eventStack: <org/project/stack>`): only that
  participant's labs, reading the shared parts through a StackReference.

Both topologies declare each participant through the same `declare_participant`.
"""

from pathlib import Path

import pulumi

from components.inference_api import ApiTarget, InferenceApi, InferenceApiArgs
from components.live_scoring import LiveScoring, LiveScoringArgs, ScoredParticipant
from components.monitoring import Monitoring, MonitoringArgs
from components.participant import ParticipantArgs, ParticipantLabs, SharedParts
from components.parts.providers import (
    account_provider,
    event_provider,
    providers_by_account,
)
from components.sample_feed import SampleFeed, SampleFeedArgs
from components.training_data import TrainingData, TrainingDataArgs
from event.config import load_config
from event.names import ParticipantNames
from event.roster import Participant, load_roster
from event.sharding import shared_api_name
from event.slots import assign_slots, load_slots, slots_path_for
from event.topology import (
    checked_target,
    inference_url,
    participant_entry,
    required_output,
    roster_document,
)

PROJECT_DIR = Path(__file__).resolve().parent

# Each raises with every problem listed, before any resource is declared.
config = load_config()
roster_path = PROJECT_DIR / config.roster
roster = load_roster(roster_path, config.event)
event = config.event
topology = config.topology


def declare_participant(participant: Participant, shared: SharedParts, api: ApiTarget,
                        provider: pulumi.ProviderResource) -> ParticipantLabs:
    """One participant's Lab 1, Lab 2 and Lab 3, in either topology."""
    return ParticipantLabs(
        participant.id,
        ParticipantArgs(ParticipantNames(event, participant.id), shared, api, config),
        opts=pulumi.ResourceOptions(provider=provider))


def participant_stack() -> None:
    """Only this participant's labs; the event's shared parts come from the event stack."""
    me = participant_entry(roster, topology.participant, str(roster_path))
    event_stack = pulumi.StackReference(topology.event_stack)
    outputs = event_stack.outputs
    target = outputs.apply(lambda o: checked_target(me.id, me, topology.event_stack,
                                                    o.get("roster"), o.get("inference_targets")))
    shared = SharedParts(
        sample_topic_arn=outputs.apply(required_output("sample_topic_arn", topology.event_stack)),
        undelivered_queue_arn=outputs.apply(required_output("undelivered_queue_arn",
                                                            topology.event_stack)),
        training_bucket_name=outputs.apply(required_output("training_data_bucket",
                                                           topology.event_stack)),
        training_bucket_arn=outputs.apply(required_output("training_data_bucket_arn",
                                                          topology.event_stack)),
        baseline_model_key=outputs.apply(required_output("baseline_model_key",
                                                         topology.event_stack)))
    # No deployment_id: the stage's deployment is this stack's own (components/live_inference.py).
    api = ApiTarget(rest_api_id=target["rest_api_id"], execution_arn=target["execution_arn"],
                    deployment_id=None)
    provider = account_provider(config, me.account) if me.account else event_provider(config)
    labs = declare_participant(me, shared, api, provider)
    pulumi.export("participant", me.id)
    pulumi.export("name", me.name)
    for key, value in labs.outputs().items():
        pulumi.export(key, value)


def event_parts() -> None:
    """The shared parts; every participant's labs too in single-stack mode."""
    single = not topology.participant_stacks
    stages_per_api = config.inference.stages_per_api
    # Stable slots: read before anything is declared (SlotsError lists every problem).
    assignment = assign_slots([p.id for p in roster if not p.account],
                              load_slots(slots_path_for(roster_path), stages_per_api),
                              stages_per_api)
    providers = providers_by_account(config, [p.account for p in roster])
    shared_opts = pulumi.ResourceOptions(provider=providers[None])
    own_accounts = [p.account for p in roster if p.account]

    # The FC's sample feed, which every participant's Lab 1 subscribes to.
    feed = SampleFeed(f"{event}-sample-feed",
                      SampleFeedArgs(event, config.feed, config.drift, config.logs,
                                     subscriber_accounts=own_accounts),
                      opts=shared_opts)
    # The pre-collected data set, the baseline model and the notebooks: one read-only copy.
    training_data = TrainingData(f"{event}-training-data",
                                 TrainingDataArgs(event, config.dataset, reader_accounts=own_accounts),
                                 opts=shared_opts)

    # Live inference APIs: shared ones in the event's account (only those a slot uses), one of
    # their own for participants in their own account. With participant stacks, their stages
    # live in other stacks: the APIs are protected, so a plain `pulumi destroy` of the event
    # stack stops instead of deleting every participant's stage with them (README).
    api_opts = pulumi.ResourceOptions(protect=not single)
    apis = {index: InferenceApi(shared_api_name(event, index),
                                InferenceApiArgs(shared_api_name(event, index), config.region,
                                                 deploy=single),
                                opts=pulumi.ResourceOptions.merge(shared_opts, api_opts))
            for index in assignment.apis_in_use()}
    targets = {pid: apis[slot.api].target() for pid, slot in assignment.slots.items()}
    for p in roster:
        if p.account:
            own = ParticipantNames(event, p.id).own_api
            targets[p.id] = InferenceApi(
                own, InferenceApiArgs(own, config.region, deploy=single),
                opts=pulumi.ResourceOptions.merge(
                    pulumi.ResourceOptions(provider=providers[p.account]), api_opts)).target()

    shared = SharedParts(sample_topic_arn=feed.topic_arn,
                         undelivered_queue_arn=feed.undelivered_queue_arn,
                         training_bucket_name=training_data.bucket_name,
                         training_bucket_arn=training_data.bucket_arn,
                         baseline_model_key=training_data.baseline_model_key)
    if single:
        labs = {p.id: declare_participant(p, shared, targets[p.id], providers[p.account])
                for p in roster}
        urls = {pid: lab.inference_url for pid, lab in labs.items()}
        pulumi.export("participants", {p.id: {"name": p.name, **labs[p.id].outputs()}
                                       for p in roster})
    else:
        urls = {p.id: inference_url(targets[p.id].rest_api_id, config.region,
                                    ParticipantNames(event, p.id).stage) for p in roster}
        pulumi.export("roster", roster_document(roster))
        pulumi.export("inference_targets", {
            pid: {"rest_api_id": target.rest_api_id, "execution_arn": target.execution_arn}
            for pid, target in targets.items()})

    # The event layer: the FC edge's scored traffic, the leaderboard, dashboard and alarms.
    scoring = LiveScoring(
        f"{event}-live-scoring",
        LiveScoringArgs(event, [ScoredParticipant(p.id, p.name, urls[p.id]) for p in roster],
                        edge=config.edge, leaderboard=config.leaderboard, feed=config.feed,
                        drift=config.drift, logs=config.logs),
        opts=shared_opts)
    Monitoring(f"{event}-monitoring",
               MonitoringArgs(event, config.region, [p.id for p in roster], config.alarms,
                              leaderboard_url=scoring.leaderboard_url),
               opts=shared_opts)

    pulumi.export("leaderboard_url", scoring.leaderboard_url)
    pulumi.export("scores_table", scoring.table_name)
    pulumi.export("sample_topic_arn", feed.topic_arn)
    pulumi.export("undelivered_samples_queue", feed.undelivered_queue_url)
    pulumi.export("undelivered_queue_arn", feed.undelivered_queue_arn)
    pulumi.export("training_data_bucket", training_data.bucket_name)
    pulumi.export("training_data_bucket_arn", training_data.bucket_arn)
    pulumi.export("baseline_model_key", training_data.baseline_model_key)
    pulumi.export("baseline_test_rmse_ms",
                  training_data.baseline_test_rmse.apply(lambda rmse: round(rmse, 1)))
    pulumi.export("slots", assignment.to_document())


if topology.kind == "participant":
    participant_stack()
else:
    event_parts()
