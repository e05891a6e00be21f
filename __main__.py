"""The workshop as code, in three kinds of stack from this one program (`topology` config):

- single stack (`participantStacks: false`): the shared event parts once, then every lab for
  every participant, all here;
- the event stack (`participantStacks: true`): the roster, the shared parts and the slot
  assignment; it exports what participant stacks need;
- a participant stack (`participant: <id>`, `eventStack: <org/project/stack>`): only that
  participant's labs, reading the shared parts through a StackReference.

Both topologies declare each participant through the same `declare_participant`.

Where the event-level parts that concern every participant live with participant stacks
(each is computed in the event stack from the roster and the name shapes of event/names.py,
which are deterministic, unless said otherwise):
- scoring (the FC edge, leaderboard), the dashboard and the alarms: the event stack; they
  need each participant's id and live inference URL, known from their slot and stage name;
- the end of the event (EventEnd): the event stack; notebook and endpoint names and ARNs
  follow from the names, and a participant's reset leaves the schedule valid;
- the portal: the event stack (one URL, one directory of join codes); a participant's
  samples bucket is auto-named in their stack (bucket names are global), so the event stack
  cannot know it: with participant stacks the portal's samples view says "not available";
- console access and the retraining loop: the participant stack, inside the Participant
  component, since they are that participant's resources (a reset re-creates them).
"""

from pathlib import Path

import pulumi
import pulumi_aws as aws

from access import codes as join_codes
from components.event_end import EndingParticipant, EventEnd, EventEndArgs
from components.inference_api import ApiTarget, InferenceApi, InferenceApiArgs
from components.live_scoring import (
    LiveScoring,
    LiveScoringArgs,
    ScoredParticipant,
    edge_role_arn,
)
from components.monitoring import Monitoring, MonitoringArgs
from components.participant import ParticipantArgs, ParticipantLabs, SharedParts
from components.parts.providers import (
    account_provider,
    event_provider,
    providers_by_account,
)
from components.portal import Portal, PortalArgs, PortalParticipant
from components.retraining import RetrainingTable
from components.sample_feed import SampleFeed, SampleFeedArgs
from components.training_data import TrainingData, TrainingDataArgs
from event.config import load_config, load_secret_setting
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

# What a participant stack reads of the event stack's outputs, by SharedParts field.
SHARED_OUTPUTS = {
    "sample_topic_arn": "sample_topic_arn",
    "undelivered_queue_arn": "undelivered_queue_arn",
    "training_bucket_name": "training_data_bucket",
    "training_bucket_arn": "training_data_bucket_arn",
    "baseline_model_key": "baseline_model_key",
    "retraining_table_name": "retraining_table",
    "retraining_table_arn": "retraining_table_arn",
    "leaderboard_url": "leaderboard_url",
    "event_account": "event_account",
    "portal_role_arn": "portal_role_arn",
    "dashboard_name": "dashboard_name",
}


def declare_participant(participant: Participant, shared: SharedParts, api: ApiTarget,
                        provider: pulumi.ProviderResource) -> ParticipantLabs:
    """One participant's labs, loop and console access, in either topology."""
    return ParticipantLabs(
        participant.id,
        ParticipantArgs(ParticipantNames(event, participant.id), shared, api, config,
                        own_account=bool(participant.account)),
        opts=pulumi.ResourceOptions(provider=provider))


def participant_stack() -> None:
    """Only this participant's labs; the event's shared parts come from the event stack."""
    me = participant_entry(roster, topology.participant, str(roster_path))
    event_stack = pulumi.StackReference(topology.event_stack)
    # The outputs map is secret as a whole once any output is (joinLinks); none of the
    # outputs read here is, and a secret would mark every input it reaches as secret.
    outputs = pulumi.Output.unsecret(event_stack.outputs)
    target = outputs.apply(lambda o: checked_target(me.id, me, topology.event_stack,
                                                    o.get("roster"), o.get("inference_targets")))
    shared = SharedParts(**{field: outputs.apply(required_output(key, topology.event_stack))
                            for field, key in SHARED_OUTPUTS.items()})
    # No deployment_id: the stage's deployment is this stack's own (components/live_inference.py).
    api = ApiTarget(rest_api_id=target["rest_api_id"], execution_arn=target["execution_arn"],
                    deployment_id=None)
    provider = account_provider(config, me.account) if me.account else event_provider(config)
    labs = declare_participant(me, shared, api, provider)
    pulumi.export("participant", me.id)
    pulumi.export("name", me.name)
    for key, value in labs.outputs().items():
        pulumi.export(key, value)


def sagemaker_arn(account: pulumi.Input[str], kind: str, name: str) -> pulumi.Output[str]:
    return pulumi.Output.concat(f"arn:aws:sagemaker:{config.region}:", account, f":{kind}/{name}")


def event_parts() -> None:
    """The shared parts; every participant's labs too in single-stack mode."""
    single = not topology.participant_stacks
    stages_per_api = config.inference.stages_per_api
    # Stable slots: read before anything is declared (SlotsError lists every problem).
    assignment = assign_slots([p.id for p in roster if not p.account],
                              load_slots(slots_path_for(roster_path), stages_per_api),
                              stages_per_api)
    codes = join_codes.from_config(load_secret_setting(join_codes.CONFIG_KEY),
                                   [p.id for p in roster])
    providers = providers_by_account(config, [p.account for p in roster])
    shared_opts = pulumi.ResourceOptions(provider=providers[None])
    event_account = aws.get_caller_identity_output(
        opts=pulumi.InvokeOutputOptions(provider=providers[None])).account_id
    own_accounts = [p.account for p in roster if p.account]

    # The FC's sample feed, which every participant's Lab 1 subscribes to.
    feed = SampleFeed(f"{event}-sample-feed",
                      SampleFeedArgs(event, config.feed, config.drift, config.logs,
                                     subscriber_accounts=own_accounts, window=config.schedule,
                                     undelivered_sender_role_arns=[
                                         f"arn:aws:iam::{p.account}:role/"
                                         f"{ParticipantNames(event, p.id).collect_function}"
                                         for p in roster if p.account]),
                      opts=shared_opts)
    # The pre-collected data set, the baseline model and the notebooks: one read-only copy.
    training_data = TrainingData(f"{event}-training-data",
                                 TrainingDataArgs(event, config.dataset, reader_accounts=own_accounts),
                                 opts=shared_opts)

    # Live inference APIs: shared ones in the event's account (only those a slot uses), one of
    # their own for participants in their own account (whose resource policy lets the FC
    # edge's role in). With participant stacks, their stages live in other stacks: the APIs
    # are protected, so a plain `pulumi destroy` of the event stack stops instead of deleting
    # every participant's stage with them (README).
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
                own, InferenceApiArgs(own, config.region, deploy=single,
                                      cross_account_invokers=[edge_role_arn(event, event_account)]),
                opts=pulumi.ResourceOptions.merge(
                    pulumi.ResourceOptions(provider=providers[p.account]), api_opts)).target()

    # The retraining loop's settings, locks and attempts: one table, items keyed by participant.
    retraining_table = RetrainingTable(f"{event}-retraining", event, opts=shared_opts)

    # The notebooks' settings name the leaderboard, and the console roles trust the portal
    # and show the dashboard: all declared after every participant in single-stack mode.
    leaderboard_url, resolve_leaderboard_url = pulumi.deferred_output()
    portal_role_arn, resolve_portal_role_arn = pulumi.deferred_output()
    dashboard_name, resolve_dashboard_name = pulumi.deferred_output()
    shared = SharedParts(sample_topic_arn=feed.topic_arn,
                         undelivered_queue_arn=feed.undelivered_queue_arn,
                         training_bucket_name=training_data.bucket_name,
                         training_bucket_arn=training_data.bucket_arn,
                         baseline_model_key=training_data.baseline_model_key,
                         retraining_table_name=retraining_table.table_name,
                         retraining_table_arn=retraining_table.table_arn,
                         leaderboard_url=leaderboard_url, event_account=event_account,
                         portal_role_arn=portal_role_arn, dashboard_name=dashboard_name)
    if single:
        labs = {p.id: declare_participant(p, shared, targets[p.id], providers[p.account])
                for p in roster}
        urls = {pid: lab.inference_url for pid, lab in labs.items()}
        ending = [EndingParticipant(ParticipantNames(event, p.id).prefix, labs[p.id].notebook,
                                    labs[p.id].notebook_arn, labs[p.id].endpoint,
                                    labs[p.id].endpoint_arn, providers[p.account] if p.account else None)
                  for p in roster]
        on_portal = [PortalParticipant(
            p.id, p.name, p.email, p.account, notebook=labs[p.id].notebook,
            endpoint=labs[p.id].endpoint, bucket=labs[p.id].bucket,
            bucket_arn=labs[p.id].bucket_arn, inference_url=labs[p.id].inference_url)
            for p in roster]
        pulumi.export("participants", {p.id: {"name": p.name, **labs[p.id].outputs()}
                                       for p in roster})
    else:
        names = {p.id: ParticipantNames(event, p.id) for p in roster}
        urls = {p.id: inference_url(targets[p.id].rest_api_id, config.region, names[p.id].stage)
                for p in roster}
        account_of = {p.id: p.account or event_account for p in roster}
        ending = [EndingParticipant(
            names[p.id].prefix, names[p.id].notebook,
            sagemaker_arn(account_of[p.id], "notebook-instance", names[p.id].notebook),
            names[p.id].endpoint, sagemaker_arn(account_of[p.id], "endpoint", names[p.id].endpoint),
            providers[p.account] if p.account else None) for p in roster]
        # No bucket: auto-named in the participant's stack (see the module's docstring).
        on_portal = [PortalParticipant(
            p.id, p.name, p.email, p.account, notebook=names[p.id].notebook,
            endpoint=names[p.id].endpoint, bucket=None, bucket_arn=None,
            inference_url=urls[p.id]) for p in roster]
        pulumi.export("roster", roster_document(roster))
        pulumi.export("inference_targets", {
            pid: {"rest_api_id": target.rest_api_id, "execution_arn": target.execution_arn}
            for pid, target in targets.items()})

    # The event layer: the FC edge's scored traffic, the leaderboard, dashboard and alarms.
    scoring = LiveScoring(
        f"{event}-live-scoring",
        LiveScoringArgs(event, [ScoredParticipant(p.id, p.name, urls[p.id]) for p in roster],
                        edge=config.edge, leaderboard=config.leaderboard, feed=config.feed,
                        drift=config.drift, logs=config.logs, window=config.schedule,
                        leaderboard_reserved_concurrency=config.capacity.leaderboard_reserved_concurrency,
                        region=config.region,
                        retraining_table_name=retraining_table.table_name,
                        retraining_table_arn=retraining_table.table_arn),
        opts=shared_opts)
    resolve_leaderboard_url(scoring.leaderboard_url)
    monitoring = Monitoring(f"{event}-monitoring",
                            MonitoringArgs(event, config.region, [p.id for p in roster],
                                           config.alarms, leaderboard_url=scoring.leaderboard_url),
                            opts=shared_opts)
    resolve_dashboard_name(monitoring.dashboard_name)

    # The end of the event's window: notebooks stopped, endpoints optionally deleted.
    EventEnd(f"{event}-event-end", EventEndArgs(event, config.schedule, ending), opts=shared_opts)
    # Getting in: the portal and its join links (each participant's console role is theirs).
    portal = Portal(f"{event}-portal", PortalArgs(
        event, config.region, codes=codes, table_name=scoring.table_name,
        table_arn=scoring.table_arn, leaderboard_url=scoring.leaderboard_url,
        leaderboard=config.leaderboard, portal=config.portal, logs=config.logs,
        participants=on_portal),
        opts=shared_opts)
    resolve_portal_role_arn(portal.role_arn)

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
    pulumi.export("retraining_table", retraining_table.table_name)
    pulumi.export("retraining_table_arn", retraining_table.table_arn)
    pulumi.export("event_account", event_account)
    pulumi.export("portal_role_arn", portal.role_arn)
    pulumi.export("dashboard_name", monitoring.dashboard_name)
    pulumi.export("slots", assignment.to_document())
    pulumi.export("portal_url", portal.url)
    pulumi.export("joinLinks", portal.join_links)  # secret: `make handouts` reads it


if topology.kind == "participant":
    participant_stack()
else:
    event_parts()
