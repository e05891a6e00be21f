"""The event's shared, read-only training material, in one private bucket.

- datasets/TrainSamples.csv, datasets/TestSamples.csv: the pre-collected data set;
- models/baseline/<content hash>/model.tar.gz: the baseline XGBoost model every endpoint
  starts with;
- notebooks/: the four workshop notebooks and the modules they import, copied onto
  each notebook instance.

The data set and the model are built beforehand (`make artifacts`, training/build.py);
this component only uploads the built files, so declaring it trains nothing.

One shared copy instead of one per participant: for 100 participants the 2,000,000-row
data set (about 100 MB) is uploaded and stored once, not 100 times (10 GB), and a second
`pulumi up` uploads nothing because the files' hashes do not change.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_aws as aws

from components.parts.options import child_of
from components.parts.private_bucket import private_bucket
from event.config import DatasetConfig
from training import artifacts

PROJECT_DIR = Path(__file__).resolve().parent.parent
NOTEBOOKS_DIR = PROJECT_DIR / "notebooks"
DATASET_PREFIX, MODELS_PREFIX, NOTEBOOKS_PREFIX = "datasets/", "models/", "notebooks/"
READ_PREFIXES = (DATASET_PREFIX, MODELS_PREFIX, NOTEBOOKS_PREFIX)
BASELINE_HASH_CHARS = 16


@dataclass
class TrainingDataArgs:
    event: str
    dataset: DatasetConfig
    # Participants in their own accounts, whose SageMaker roles read this bucket too.
    reader_accounts: Sequence[str] = ()


def notebook_files() -> list[Path]:
    return sorted(NOTEBOOKS_DIR.glob("*.ipynb"))


def notebook_uploads() -> list[tuple[str, Path]]:
    """(file name on the instance, source): the notebooks and the modules they import."""
    return ([(p.name, p) for p in notebook_files()] +
            [("workshop.py", NOTEBOOKS_DIR / "workshop.py"),
             ("hyperparameters.py", PROJECT_DIR / "training" / "hyperparameters.py"),
             # The promotion code the retraining loop uses, so the notebooks promote alike.
             ("promotion.py", PROJECT_DIR / "handlers" / "served_model.py")])


def baseline_key(archive: Path) -> str:
    """models/baseline/<content hash>/model.tar.gz: a new baseline gets a new key, so every
    model built from it has a new ModelDataUrl and is really replaced (the same key with new
    bytes would leave the models, and the endpoints, on what they loaded before)."""
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()[:BASELINE_HASH_CHARS]
    return f"{MODELS_PREFIX}baseline/{digest}/{artifacts.ARCHIVE}"


class TrainingData(pulumi.ComponentResource):
    bucket_name: pulumi.Output[str]
    bucket_arn: pulumi.Output[str]
    baseline_model_key: pulumi.Output[str]
    baseline_test_rmse: pulumi.Output[float]  # ms, from the built baseline's report

    def __init__(self, name: str, args: TrainingDataArgs,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("workshop:lab2:TrainingData", name, None, opts)
        try:
            built = artifacts.locate(args.dataset.samples, args.dataset.seed)
        except artifacts.MissingArtifacts as missing:
            # RunError: Pulumi prints the message alone, without a stack trace.
            raise pulumi.RunError(str(missing)) from None
        bucket = private_bucket(f"{args.event}-training-data", parent=self,
                                extra_statements=self._cross_account_reads(args))
        self._bucket_id = bucket.id
        model_key = baseline_key(built.baseline_model)
        self._upload(f"{args.event}-train-samples", DATASET_PREFIX + artifacts.TRAIN_FILE,
                     built.train, "text/csv")
        self._upload(f"{args.event}-test-samples", DATASET_PREFIX + artifacts.TEST_FILE,
                     built.test, "text/csv")
        # A new baseline is a new key (see baseline_key); the previous object stays until
        # the bucket goes (force_destroy), since an endpoint may still be created from it.
        self._upload(f"{args.event}-baseline-model", model_key, built.baseline_model,
                     "application/gzip", retain_on_delete=True)
        for file_name, path in notebook_uploads():
            self._upload(f"{args.event}-notebooks-{file_name.lower().replace('.', '-')}",
                         NOTEBOOKS_PREFIX + file_name, path,
                         "application/x-ipynb+json" if path.suffix == ".ipynb" else "text/x-python")
        self.bucket_name = bucket.bucket
        self.bucket_arn = bucket.arn
        self.baseline_model_key = pulumi.Output.from_input(model_key)
        self.baseline_test_rmse = pulumi.Output.from_input(built.baseline_test_rmse())
        self.register_outputs({"bucket_name": self.bucket_name, "bucket_arn": self.bucket_arn,
                               "baseline_model_key": self.baseline_model_key,
                               "baseline_test_rmse": self.baseline_test_rmse})

    def _upload(self, logical: str, key: str, path: Path, content_type: str,
                retain_on_delete: bool = False) -> None:
        aws.s3.BucketObjectv2(logical, bucket=self._bucket_id, key=key,
                              source=pulumi.FileAsset(str(path)), content_type=content_type,
                              opts=child_of(self, retain_on_delete=retain_on_delete))

    @staticmethod
    def _cross_account_reads(args: TrainingDataArgs):
        def statements(bucket: aws.s3.Bucket) -> list[dict]:
            if not args.reader_accounts:
                return []
            # Principals by condition, not ARN: the roles may not exist yet.
            return [{
                "Effect": "Allow", "Principal": {"AWS": "*"},
                "Action": ["s3:GetObject", "s3:ListBucket"],
                "Resource": [bucket.arn] + [pulumi.Output.concat(bucket.arn, "/", prefix, "*")
                                            for prefix in READ_PREFIXES],
                "Condition": {
                    "StringEquals": {"aws:PrincipalAccount": sorted(set(args.reader_accounts))},
                    "ArnLike": {"aws:PrincipalArn":
                                f"arn:aws:iam::*:role/{args.event}-*-sagemaker"},
                },
            }]
        return statements
