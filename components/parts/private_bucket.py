"""A private S3 bucket: public access blocked, encrypted, TLS only, destroyable with data."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pulumi
import pulumi_aws as aws

from components.parts import iam
from components.parts.options import child_of

Statements = Callable[[aws.s3.Bucket], Sequence[dict[str, Any]]]


def private_bucket(logical: str, parent: pulumi.Resource,
                   extra_statements: Statements | None = None) -> aws.s3.Bucket:
    """Auto-named (logical name + random suffix), since bucket names are global.

    `extra_statements(bucket)` adds statements to the bucket policy.
    """
    child = child_of(parent)
    bucket = aws.s3.Bucket(logical, force_destroy=True, opts=child)
    aws.s3.BucketPublicAccessBlock(
        f"{logical}-no-public-access", bucket=bucket.id,
        block_public_acls=True, block_public_policy=True,
        ignore_public_acls=True, restrict_public_buckets=True, opts=child)
    aws.s3.BucketServerSideEncryptionConfiguration(
        f"{logical}-encryption", bucket=bucket.id,
        rules=[aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
            apply_server_side_encryption_by_default=aws.s3.
            BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                sse_algorithm="AES256"),
            bucket_key_enabled=True)],
        opts=child)
    deny_plain_http = {
        "Effect": "Deny", "Principal": "*", "Action": "s3:*",
        "Resource": [bucket.arn, pulumi.Output.concat(bucket.arn, "/*")],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }
    aws.s3.BucketPolicy(f"{logical}-tls-only", bucket=bucket.id,
                        policy=iam.policy(deny_plain_http,
                                          *(extra_statements(bucket) if extra_statements else ())),
                        opts=child)
    return bucket
