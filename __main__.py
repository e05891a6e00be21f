"""The workshop as code: the shared event parts once, then every lab for every participant."""

from pathlib import Path

import pulumi

from components.providers import event_provider, participant_provider
from components.sample_collection import SampleCollection, SampleCollectionArgs
from components.sample_feed import SampleFeed, SampleFeedArgs
from event.config import load_config
from event.names import ParticipantNames
from event.roster import load_roster

PROJECT_DIR = Path(__file__).resolve().parent

# Both raise with every problem listed, before any resource is declared.
config = load_config()
roster = load_roster(PROJECT_DIR / config.roster, config.event)

feed = SampleFeed(
    f"{config.event}-sample-feed",
    SampleFeedArgs(
        event=config.event,
        samples_per_second=config.samples_per_second,
        enabled=config.feed_enabled,
        seed=config.feed_seed,
        log_retention_days=config.log_retention_days,
        subscriber_accounts=[p.account for p in roster if p.account],
    ),
    opts=pulumi.ResourceOptions(providers=[event_provider(config)]),
)

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
    participants[participant.id] = {
        "name": participant.name,
        "bucket": lab1.bucket.bucket,
        "delivery_stream": lab1.delivery_stream.name,
        "collection_function": lab1.function.name,
    }

pulumi.export("sample_topic_arn", feed.topic.arn)
pulumi.export("undelivered_samples_queue", feed.undelivered.url)
pulumi.export("participants", participants)
