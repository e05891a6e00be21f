"""The workshop as code: the shared event parts once, then every lab for every participant."""

from pathlib import Path

import pulumi

from components.inference_api import InferenceApi, InferenceApiArgs
from components.live_inference import LiveInference, LiveInferenceArgs
from components.live_scoring import LiveScoring, LiveScoringArgs, ScoredParticipant
from components.model_training import ModelTraining, ModelTrainingArgs
from components.monitoring import Monitoring, MonitoringArgs
from components.parts.providers import event_provider, participant_provider
from components.sample_collection import SampleCollection, SampleCollectionArgs
from components.sample_feed import SampleFeed, SampleFeedArgs
from components.training_data import TrainingData, TrainingDataArgs
from event.config import load_config
from event.names import ParticipantNames
from event.roster import load_roster
from event.sharding import api_count, shared_api_name, shared_api_of

PROJECT_DIR = Path(__file__).resolve().parent

# Both raise with every problem listed, before any resource is declared.
config = load_config()
roster = load_roster(PROJECT_DIR / config.roster, config.event)

shared = pulumi.ResourceOptions(providers=[event_provider(config)])
feed = SampleFeed(
    f"{config.event}-sample-feed",
    SampleFeedArgs(
        event=config.event,
        samples_per_second=config.samples_per_second,
        enabled=config.feed_enabled,
        seed=config.feed_seed,
        drift_start=config.drift_start,
        drift_profile=config.drift_profile,
        log_retention_days=config.log_retention_days,
        subscriber_accounts=[p.account for p in roster if p.account],
    ),
    opts=shared,
)

# The pre-collected data set, the baseline model and the notebooks: one read-only copy.
training_data = TrainingData(
    f"{config.event}-training-data",
    TrainingDataArgs(event=config.event, samples=config.dataset_samples, seed=config.dataset_seed,
                     reader_accounts=[p.account for p in roster if p.account]),
    opts=shared,
)

# Live inference APIs shared by participants in the event's account, one stage each.
api_of = shared_api_of(roster, config.stages_per_api)
inference_apis = [
    InferenceApi(shared_api_name(config.event, k),
                 InferenceApiArgs(name=shared_api_name(config.event, k), region=config.region),
                 opts=shared)
    for k in range(api_count(len(api_of), config.stages_per_api))
]

participants = {}
for participant in roster:
    names = ParticipantNames(config.event, participant.id)
    opts = pulumi.ResourceOptions(providers=[participant_provider(config, participant)])
    lab1 = SampleCollection(
        f"{participant.id}-lab1",
        SampleCollectionArgs(
            names=names,
            sample_topic_arn=feed.topic.arn,
            undelivered_queue_arn=feed.undelivered.arn,
            buffer_seconds=config.firehose_buffer_seconds,
            buffer_mb=config.firehose_buffer_mb,
            log_retention_days=config.log_retention_days,
        ),
        opts=opts,
    )
    lab2 = ModelTraining(
        f"{participant.id}-lab2",
        ModelTrainingArgs(
            names=names,
            region=config.region,
            participant_bucket=lab1.bucket,
            shared_bucket=training_data.bucket,
            baseline_model_key=training_data.baseline_key,
            notebook_instance_type=config.notebook_instance_type,
            notebook_idle_minutes=config.notebook_idle_minutes,
            endpoint_instance_type=config.endpoint_instance_type,
            endpoint_serverless=config.endpoint_serverless,
            allowed_instance_types=config.instance_type_allow_list,
        ),
        opts=opts,
    )
    lab3 = LiveInference(
        f"{participant.id}-lab3",
        LiveInferenceArgs(
            names=names,
            region=config.region,
            shared_api=inference_apis[api_of[participant.id]] if participant.id in api_of else None,
            rate_limit=config.inference_rate_limit,
            burst_limit=config.inference_burst_limit,
            log_retention_days=config.log_retention_days,
        ),
        opts=opts,
    )
    participants[participant.id] = {
        "name": participant.name,
        "bucket": lab1.bucket.bucket,
        "delivery_stream": lab1.delivery_stream.name,
        "collection_function": lab1.function.name,
        "notebook": lab2.notebook.name,
        "endpoint": lab2.endpoint.name,
        "inference_url": lab3.url,
    }

# The event layer: the FC edge's scored traffic, the leaderboard, dashboard and alarms.
scoring = LiveScoring(
    f"{config.event}-live-scoring",
    LiveScoringArgs(
        event=config.event,
        participants=[ScoredParticipant(p.id, p.name, participants[p.id]["inference_url"])
                      for p in roster],
        enabled=config.edge_traffic_enabled,
        requests_per_second=config.edge_requests_per_second,
        shard_size=config.edge_shard_size,
        timeout_ms=config.edge_timeout_ms,
        private_share_percent=config.private_share_percent,
        feed_seed=config.feed_seed,
        drift_start=config.drift_start,
        drift_profile=config.drift_profile,
        window_minutes=config.leaderboard_window_minutes,
        min_successes=config.leaderboard_min_successes,
        history_minutes=config.leaderboard_history_minutes,
        reveal_private=config.reveal_private,
        log_retention_days=config.log_retention_days,
    ),
    opts=shared,
)
Monitoring(
    f"{config.event}-monitoring",
    MonitoringArgs(
        event=config.event,
        region=config.region,
        participants=[p.id for p in roster],
        rmse_threshold_ms=config.alarm_rmse_ms,
        error_rate_percent=config.alarm_error_rate_percent,
        email=config.alarm_email,
        leaderboard_url=scoring.leaderboard_url,
    ),
    opts=shared,
)

pulumi.export("leaderboard_url", scoring.leaderboard_url)
pulumi.export("sample_topic_arn", feed.topic.arn)
pulumi.export("undelivered_samples_queue", feed.undelivered.url)
pulumi.export("training_data_bucket", training_data.bucket.bucket)
pulumi.export("baseline_test_rmse_ms", round(training_data.baseline_report["test_rmse"], 1))
pulumi.export("participants", participants)
