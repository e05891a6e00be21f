"""The physical names of every participant's resources, and the AWS limits they must fit.

One place decides names, so the roster validator can reject an id that would break any
of them before a single resource is declared.

Isolation must not depend on how ids are spelled (`ada` next to `ada-lovelace`), so two
shapes are used, and neither can overlap between participants:

- Declared resources have exact names `<event>-<id>-<suffix>` with a suffix from a fixed
  set in which no suffix is `<word>-<another suffix>`: `ada`'s `aim368-ada-endpoint` is
  never a name of `ada-lovelace` (whose names all continue `aim368-ada-lovelace-`).
- Everything a participant may create or match by wildcard is `<event>-<id>--<rest>`
  (`OWNED_DELIMITER`). Ids never contain `--` nor end with `-` (the roster's rule), so in
  `<event>-<id>--...` the first `--` after the event ends the id: the pattern
  `aim368-ada--*` cannot match `aim368-ada-lovelace--...`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Pulumi auto-naming appends "-" and 7 random characters to the logical name.
AUTONAME_SUFFIX_CHARS = 8
STAGE_NAME = re.compile(r"^[A-Za-z0-9_-]{1,128}$")  # API Gateway stage names


@dataclass(frozen=True)
class NameRule:
    what: str
    limit: int


S3_BUCKET = NameRule("S3 bucket name", 63)
IAM_ROLE = NameRule("IAM role name", 64)
LAMBDA_FUNCTION = NameRule("Lambda function name", 64)
FIREHOSE_STREAM = NameRule("Firehose delivery stream name", 64)
SAGEMAKER_NOTEBOOK = NameRule("SageMaker notebook instance name", 63)
SAGEMAKER_ENDPOINT = NameRule("SageMaker endpoint name", 63)
SAGEMAKER_RESOURCE = NameRule("SageMaker model, endpoint configuration or training job name", 63)
SAGEMAKER_LIFECYCLE = NameRule("SageMaker lifecycle configuration name", 63)
# Between a participant's id and the rest of every name they create; see the docstring.
OWNED_DELIMITER = "--"
# Training jobs the notebooks start: <prefix>--<algorithm code>-<YYYYMMDDHHMMSS>, the
# SageMaker SDK's naming (it cuts the front part to fit 63, which would lose the prefix).
TRAINING_JOB_SUFFIX_CHARS = len("--xgb-") + 14
# The suffixes of declared participant names (see `ParticipantNames`); none of them may
# be `<word>-<another suffix>`, or two participants' exact names could meet.
DECLARED_SUFFIXES = ("samples", "firehose", "collect", "notebook", "lifecycle", "sagemaker",
                     "endpoint", "inference", "api")
# What the event's shared parts are named, after `<event>-`: a participant id that equals
# one of these, or is the leading part of one (`fc` of `fc-edge`), is refused, so that a
# name shape like `<event>-fc-*` (a sweep, an audit, a reader) never mixes the two.
SHARED_NAMES = ("aws", "fc-samples", "undelivered-samples", "fc-publisher", "fc-schedule",
                "fc-edge", "training-data", "train-samples", "test-samples", "liveinference",
                "scores", "leaderboard", "organizer-alerts", "live-inference", "live-scoring",
                "sample-feed", "monitoring", "dashboard", "scoring-secret", "portal",
                "retraining")


def shared_name_clash(event: str, participant: str) -> str | None:
    """The shared name this id would be confused with, if any."""
    if participant == event:
        return f"{event} (the event itself)"
    return next((f"{event}-{name}" for name in SHARED_NAMES
                 if name == participant or name.startswith(participant + "-")), None)


@dataclass(frozen=True)
class ParticipantNames:
    """Names for one participant; every one starts with the event and the participant id."""

    event: str
    participant: str

    @property
    def prefix(self) -> str:
        return f"{self.event}-{self.participant}"

    @property
    def owned_prefix(self) -> str:
        """What every name this participant creates at run time starts with (and only theirs)."""
        return f"{self.prefix}{OWNED_DELIMITER}"

    # Lab 1
    @property
    def bucket(self) -> str:
        """Logical name of the bucket; Pulumi appends a suffix to keep it globally unique."""
        return f"{self.prefix}-samples"

    @property
    def delivery_stream(self) -> str:
        return f"{self.prefix}-samples"

    @property
    def firehose_role(self) -> str:
        return f"{self.prefix}-firehose"

    @property
    def collect_function(self) -> str:
        return f"{self.prefix}-collect"

    # Lab 2 and Lab 3 (reserved now so that the roster is validated once for all labs)
    @property
    def notebook(self) -> str:
        return f"{self.prefix}-notebook"

    @property
    def model(self) -> str:
        """Logical name of the baseline model; Pulumi appends a suffix. In the owned shape,
        so the participant's own rules (describe, promote away from it) cover it."""
        return f"{self.owned_prefix}model"

    @property
    def endpoint_config(self) -> str:
        """Logical name of the baseline endpoint configuration; Pulumi appends a suffix."""
        return f"{self.owned_prefix}config"

    @property
    def lifecycle_config(self) -> str:
        return f"{self.prefix}-lifecycle"

    @property
    def sagemaker_role(self) -> str:
        return f"{self.prefix}-sagemaker"

    @property
    def endpoint(self) -> str:
        return f"{self.prefix}-endpoint"

    @property
    def inference_function(self) -> str:
        return f"{self.prefix}-inference"

    @property
    def own_api(self) -> str:
        """A REST API of their own, for a participant deployed into their own account."""
        return f"{self.prefix}-api"

    @property
    def console_role(self) -> str:
        """The role the portal signs them in to the AWS console as."""
        return f"{self.prefix}-console"

    @property
    def samples_bucket_parameter(self) -> str:
        """The SSM parameter a participant stack publishes its auto-named samples bucket
        under, for the portal in the event stack (which cannot read that stack)."""
        return f"/{self.event}/{self.participant}/samples-bucket"

    @property
    def stage(self) -> str:
        return self.participant  # the seed's <first>-<last>

    def checked(self) -> list[tuple[NameRule, str, int]]:
        """(rule, name, length as AWS will see it) for every length-limited name."""
        autonamed = len(self.bucket) + AUTONAME_SUFFIX_CHARS
        return [
            (S3_BUCKET, self.bucket + "-xxxxxxx", autonamed),
            (FIREHOSE_STREAM, self.delivery_stream, len(self.delivery_stream)),
            (IAM_ROLE, self.firehose_role, len(self.firehose_role)),
            (IAM_ROLE, self.collect_function, len(self.collect_function)),
            (IAM_ROLE, self.sagemaker_role, len(self.sagemaker_role)),
            (IAM_ROLE, self.inference_function, len(self.inference_function)),
            (IAM_ROLE, self.console_role, len(self.console_role)),
            (LAMBDA_FUNCTION, self.collect_function, len(self.collect_function)),
            (LAMBDA_FUNCTION, self.inference_function, len(self.inference_function)),
            (SAGEMAKER_NOTEBOOK, self.notebook, len(self.notebook)),
            (SAGEMAKER_ENDPOINT, self.endpoint, len(self.endpoint)),
            (SAGEMAKER_RESOURCE, self.model + "-xxxxxxx", len(self.model) + AUTONAME_SUFFIX_CHARS),
            (SAGEMAKER_RESOURCE, self.endpoint_config + "-xxxxxxx",
             len(self.endpoint_config) + AUTONAME_SUFFIX_CHARS),
            (SAGEMAKER_RESOURCE, self.prefix + "--xgb-YYYYMMDDHHMMSS",
             len(self.prefix) + TRAINING_JOB_SUFFIX_CHARS),
            (SAGEMAKER_LIFECYCLE, self.lifecycle_config, len(self.lifecycle_config)),
        ]

    def problems(self) -> list[str]:
        found = [
            f"{rule.what} '{name}' would be {length} characters, over AWS's {rule.limit}"
            for rule, name, length in self.checked()
            if length > rule.limit
        ]
        if not STAGE_NAME.match(self.stage):
            found.append(f"API Gateway stage name '{self.stage}' is not 1-128 of [A-Za-z0-9_-]")
        return found

    def max_participant_id_length(self) -> int:
        """The longest id that fits every limit for this event name."""
        slack = min(rule.limit - length for rule, _, length in self.checked())
        return len(self.participant) + slack
