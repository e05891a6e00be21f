"""The workshop as code: the shared event parts once, then every lab for every participant."""

from pathlib import Path

import pulumi
import pulumi_aws as aws

from access import codes as join_codes
from components.console_access import ConsoleAccess, ConsoleAccessArgs
from components.event_end import EndingParticipant, EventEnd, EventEndArgs
from components.inference_api import InferenceApi, InferenceApiArgs
from components.live_inference import LiveInference, LiveInferenceArgs
from components.live_scoring import (
    LiveScoring,
    LiveScoringArgs,
    ScoredParticipant,
    edge_role_arn,
)
from components.model_training import ModelTraining, ModelTrainingArgs
from components.monitoring import Monitoring, MonitoringArgs, rmse_alarm_name
from components.parts.providers import event_provider, participant_provider
from components.portal import Portal, PortalArgs, PortalParticipant
from components.retraining import (
    Retraining,
    RetrainingArgs,
    RetrainingTable,
    function_name,
)
from components.sample_collection import SampleCollection, SampleCollectionArgs
from components.sample_feed import SampleFeed, SampleFeedArgs
from components.training_data import TrainingData, TrainingDataArgs
from event.config import load_config, load_secret_setting
from event.names import ParticipantNames
from event.roster import load_roster
from event.sharding import api_count, shared_api_name, shared_api_of

PROJECT_DIR = Path(__file__).resolve().parent

# Each raises with every problem listed, before any resource is declared.
config = load_config()
roster = load_roster(PROJECT_DIR / config.roster, config.event)
codes = join_codes.from_config(load_secret_setting(join_codes.CONFIG_KEY), [p.id for p in roster])
event = config.event
own_accounts = [p.account for p in roster if p.account]
event_aws = event_provider(config)
shared = pulumi.ResourceOptions(providers=[event_aws])
event_account = aws.get_caller_identity_output(
    opts=pulumi.InvokeOutputOptions(provider=event_aws)).account_id

# The FC's sample feed, which every participant's Lab 1 subscribes to.
feed = SampleFeed(f"{event}-sample-feed",
                  SampleFeedArgs(event, config.feed, config.drift, config.logs,
                                 subscriber_accounts=own_accounts, window=config.schedule,
                                 undelivered_sender_role_arns=[
                                     f"arn:aws:iam::{p.account}:role/"
                                     f"{ParticipantNames(event, p.id).collect_function}"
                                     for p in roster if p.account]),
                  opts=shared)

# The pre-collected data set, the baseline model and the notebooks: one read-only copy.
training_data = TrainingData(f"{event}-training-data",
                             TrainingDataArgs(event, config.dataset, reader_accounts=own_accounts),
                             opts=shared)

# Live inference APIs shared by participants in the event's account, one stage each.
api_of = shared_api_of(roster, config.inference.stages_per_api)
inference_apis = [
    InferenceApi(shared_api_name(event, k),
                 InferenceApiArgs(name=shared_api_name(event, k), region=config.region),
                 opts=shared)
    for k in range(api_count(len(api_of), config.inference.stages_per_api))
]

# The retraining loop's settings, locks and attempts: one table, items keyed by participant.
retraining_table = RetrainingTable(f"{event}-retraining", event, opts=shared)

# Every participant: Lab 1 (collect samples), Lab 2 (train, deploy), Lab 3 (serve), and
# the automated retraining loop that joins them.
# The notebooks' settings name the leaderboard, which is declared after every participant.
leaderboard_url, resolve_leaderboard_url = pulumi.deferred_output()
participants = {}
ending = []  # what the end of the event stops
labs = {}
for participant in roster:
    names = ParticipantNames(event, participant.id)
    provider = participant_provider(config, participant)
    opts = pulumi.ResourceOptions(providers=[provider])
    lab1 = SampleCollection(
        f"{participant.id}-lab1",
        SampleCollectionArgs(names, sample_topic_arn=feed.topic_arn,
                             undelivered_queue_arn=feed.undelivered_queue_arn,
                             collection=config.collection, logs=config.logs),
        opts=opts)
    shared_api = inference_apis[api_of[participant.id]] if participant.id in api_of else None
    lab3 = LiveInference(
        f"{participant.id}-lab3",
        LiveInferenceArgs(names, region=config.region,
                          shared_api=shared_api.target() if shared_api else None,
                          inference=config.inference, logs=config.logs,
                          # Lab 2's role, by name: Lab 2 is declared next, with Lab 3's URL.
                          invoker_role_names=[names.sagemaker_role],
                          edge_role_arn=edge_role_arn(event, event_account)),
        opts=opts)
    lab2 = ModelTraining(
        f"{participant.id}-lab2",
        ModelTrainingArgs(names, region=config.region,
                          participant_bucket_name=lab1.bucket_name,
                          participant_bucket_arn=lab1.bucket_arn,
                          shared_bucket_name=training_data.bucket_name,
                          shared_bucket_arn=training_data.bucket_arn,
                          baseline_model_key=training_data.baseline_model_key,
                          notebook=config.notebook, endpoint=config.endpoint,
                          retraining_function=function_name(names),
                          keep_promotions=config.updates.keep_promotions,
                          inference_url=lab3.url, leaderboard_url=leaderboard_url,
                          max_training_jobs=config.training.max_jobs_per_participant),
        opts=opts)
    loop = Retraining(
        f"{participant.id}-retraining",
        RetrainingArgs(names, region=config.region, table_name=retraining_table.table_name,
                       table_arn=retraining_table.table_arn, bucket_name=lab1.bucket_name,
                       bucket_arn=lab1.bucket_arn, sagemaker_role_arn=lab2.role_arn,
                       shared_bucket_name=training_data.bucket_name,
                       shared_bucket_arn=training_data.bucket_arn,
                       baseline_model_key=training_data.baseline_model_key,
                       rmse_alarm_name=rmse_alarm_name(event, participant.id),
                       allowed_instance_types=config.endpoint.training_types,
                       hosting_instance_types=config.endpoint.hosting_types,
                       retraining=config.retraining, logs=config.logs),
        opts=opts)
    ending.append(EndingParticipant(names.prefix, lab2.notebook_name, lab2.notebook_arn,
                                    lab2.endpoint_name, lab2.endpoint_arn,
                                    provider if participant.account else None))
    participants[participant.id] = {
        "name": participant.name,
        "bucket": lab1.bucket_name,
        "delivery_stream": lab1.delivery_stream_name,
        "collection_function": lab1.collection_function_name,
        "notebook": lab2.notebook_name,
        "endpoint": lab2.endpoint_name,
        "inference_url": lab3.url,
        "retraining_function": loop.function_name,
    }
    labs[participant.id] = (opts, lab1, lab2, lab3)

# The event layer: the FC edge's scored traffic, the leaderboard, dashboard and alarms.
scoring = LiveScoring(
    f"{event}-live-scoring",
    LiveScoringArgs(event, [ScoredParticipant(p.id, p.name, participants[p.id]["inference_url"])
                            for p in roster],
                    edge=config.edge, leaderboard=config.leaderboard, feed=config.feed,
                    drift=config.drift, logs=config.logs, window=config.schedule,
                    leaderboard_reserved_concurrency=config.capacity.leaderboard_reserved_concurrency,
                    region=config.region,
                    retraining_table_name=retraining_table.table_name,
                    retraining_table_arn=retraining_table.table_arn),
    opts=shared)
resolve_leaderboard_url(scoring.leaderboard_url)
monitoring = Monitoring(f"{event}-monitoring",
           MonitoringArgs(event, config.region, [p.id for p in roster], config.alarms,
                          leaderboard_url=scoring.leaderboard_url),
           opts=shared)

# The end of the event's window: notebooks stopped, endpoints optionally deleted.
EventEnd(f"{event}-event-end", EventEndArgs(event, config.schedule, ending), opts=shared)
# Getting in: the portal and its join links; a console role per event-account participant.
portal = Portal(f"{event}-portal", PortalArgs(
    event, config.region, codes=codes, table_name=scoring.table_name,
    table_arn=scoring.table_arn, leaderboard_url=scoring.leaderboard_url,
    leaderboard=config.leaderboard, portal=config.portal, logs=config.logs,
    participants=[PortalParticipant(
        p.id, p.name, p.email, p.account, notebook=labs[p.id][2].notebook_name,
        endpoint=labs[p.id][2].endpoint_name, bucket=labs[p.id][1].bucket_name,
        bucket_arn=labs[p.id][1].bucket_arn, inference_url=labs[p.id][3].url)
        for p in roster]),
    opts=shared)
for p in (p for p in roster if not p.account):
    opts, lab1, lab2, lab3 = labs[p.id]
    ConsoleAccess(f"{p.id}-console", ConsoleAccessArgs(
        ParticipantNames(event, p.id), config.region, account=portal.account,
        portal_role_arn=portal.role_arn, sagemaker_statements=lab2.role_statements(),
        bucket_arn=lab1.bucket_arn, delivery_stream_name=lab1.delivery_stream_name,
        function_names=[lab1.collection_function_name, lab3.function_name],
        api_execution_arn=inference_apis[api_of[p.id]].execution_arn,
        dashboard_name=monitoring.dashboard_name,
        session_seconds=config.portal.console_session_seconds), opts=opts)

pulumi.export("leaderboard_url", scoring.leaderboard_url)
pulumi.export("sample_topic_arn", feed.topic_arn)
pulumi.export("undelivered_samples_queue", feed.undelivered_queue_url)
pulumi.export("training_data_bucket", training_data.bucket_name)
pulumi.export("baseline_test_rmse_ms",
              training_data.baseline_test_rmse.apply(lambda rmse: round(rmse, 1)))
pulumi.export("participants", participants)
pulumi.export("portal_url", portal.url)
pulumi.export("joinLinks", portal.join_links)  # secret: `make handouts` reads it
