"""Lab 2 for one participant: a SageMaker notebook, its execution role, and an endpoint
that serves the baseline model until the participant promotes their own.

The role is the participant's only way into SageMaker, and it is scoped to them: their
bucket, the shared training data (read only), training jobs, models and endpoint
configurations named with their prefix, on allowed instance types only, their own
endpoint, and passing only itself.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.parts import iam
from components.parts.options import child_of, invoke_of
from components.training_data import READ_PREFIXES
from event.config import EndpointConfig, NotebookConfig
from event.names import ParticipantNames
from lifecycle import render
from training.artifacts import CONTAINER_VERSION

ENDPOINT_TIMEOUTS = pulumi.CustomTimeouts(create="45m", update="45m", delete="20m")
SERVERLESS_MEMORY_MB, SERVERLESS_CONCURRENCY = 2048, 10
LOG_GROUPS = ("TrainingJobs", "Endpoints", "NotebookInstances")
# The only actions granted on "*": CloudWatch has no resource-level permission for them.
METRIC_ACTIONS = ["cloudwatch:PutMetricData"]


@dataclass
class ModelTrainingArgs:
    names: ParticipantNames
    region: str
    participant_bucket_name: pulumi.Input[str]  # Lab 1's bucket: samples in, models out
    participant_bucket_arn: pulumi.Input[str]
    shared_bucket_name: pulumi.Input[str]  # the event's read-only training data
    shared_bucket_arn: pulumi.Input[str]
    baseline_model_key: pulumi.Input[str]
    notebook: NotebookConfig
    endpoint: EndpointConfig


class ModelTraining(pulumi.ComponentResource):
    notebook_name: pulumi.Output[str]
    endpoint_name: pulumi.Output[str]
    role_arn: pulumi.Output[str]

    def __init__(self, name: str, args: ModelTrainingArgs,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("workshop:lab2:ModelTraining", name, None, opts)
        self._args, self._names = args, args.names
        account = aws.get_caller_identity_output(
            opts=invoke_of(self)).account_id
        self._arn = lambda kind, name: pulumi.Output.concat(
            "arn:aws:sagemaker:", args.region, ":", account, f":{kind}/{name}")
        self._logs = lambda rest: pulumi.Output.concat(
            "arn:aws:logs:", args.region, ":", account, ":log-group:/aws/sagemaker/", rest)
        self._allowed_instance_types = args.endpoint.instance_type_allow_list
        self._role, role_policy = self._execution_role()
        self.notebook_name = self._notebook(role_policy).name
        self.endpoint_name = self._endpoint(role_policy).name
        self.role_arn = self._role.arn
        self.register_outputs({"notebook_name": self.notebook_name,
                               "endpoint_name": self.endpoint_name, "role_arn": self.role_arn})

    # --- the execution role --------------------------------------------------------------

    def _execution_role(self) -> tuple[aws.iam.Role, aws.iam.RolePolicy]:
        names = self._names
        role = aws.iam.Role(names.sagemaker_role, name=names.sagemaker_role,
                            assume_role_policy=iam.trust_policy("sagemaker.amazonaws.com"),
                            opts=child_of(self))
        policy = aws.iam.RolePolicy(f"{names.sagemaker_role}-policy", role=role.id,
                                    policy=iam.policy(*self._statements(role)),
                                    opts=child_of(self))
        return role, policy

    def _statements(self, role: aws.iam.Role) -> list[dict]:
        args, prefix, arn = self._args, self._names.prefix, self._arn
        own, shared = args.participant_bucket_arn, args.shared_bucket_arn
        instance_types = {"ForAllValues:StringEquals":
                          {"sagemaker:InstanceTypes": list(self._allowed_instance_types)}}
        owned = [arn("training-job", f"{prefix}-*"), arn("model", f"{prefix}-*"),
                 arn("endpoint-config", f"{prefix}-*")]
        endpoint = arn("endpoint", self._names.endpoint)
        return [
            iam.allow(["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
                      [pulumi.Output.concat(own, "/*")]),
            iam.allow(["s3:ListBucket", "s3:GetBucketLocation"], [own]),
            iam.allow(["s3:GetObject"], [pulumi.Output.concat(shared, "/", p, "*")
                                         for p in READ_PREFIXES]),
            iam.allow(["s3:ListBucket"], [shared],
                      condition={"StringLike": {"s3:prefix": [p + "*" for p in READ_PREFIXES]}}),
            iam.allow(["sagemaker:CreateTrainingJob"], [owned[0]], condition=instance_types),
            iam.allow(["sagemaker:CreateEndpointConfig"], [owned[2]], condition=instance_types),
            iam.allow(["sagemaker:CreateModel"], [owned[1]]),
            iam.allow(["sagemaker:DescribeTrainingJob", "sagemaker:StopTrainingJob",
                       "sagemaker:DescribeModel", "sagemaker:DeleteModel",
                       "sagemaker:DescribeEndpointConfig", "sagemaker:DeleteEndpointConfig",
                       "sagemaker:AddTags", "sagemaker:ListTags"], owned),
            iam.allow(["sagemaker:DescribeEndpoint", "sagemaker:UpdateEndpoint",
                       "sagemaker:InvokeEndpoint"], [endpoint, owned[2]]),
            iam.allow(["sagemaker:DescribeNotebookInstance", "sagemaker:StopNotebookInstance"],
                      [arn("notebook-instance", self._names.notebook)]),
            iam.allow(["iam:PassRole"], [role.arn],
                      condition={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}),
            iam.allow(["logs:CreateLogGroup", "logs:DescribeLogStreams"],
                      [self._logs(f"{group}*") for group in LOG_GROUPS]),
            iam.allow(["logs:CreateLogStream", "logs:PutLogEvents", "logs:GetLogEvents"],
                      [self._logs(f"TrainingJobs:log-stream:{prefix}-*"),
                       self._logs(f"Endpoints/{self._names.endpoint}:log-stream:*"),
                       self._logs(f"NotebookInstances:log-stream:{self._names.notebook}/*")]),
            iam.allow(METRIC_ACTIONS, ["*"],
                      condition={"StringLike": {"cloudwatch:namespace": "/aws/sagemaker/*"}}),
        ]

    def role_statements(self) -> list[dict]:
        """The execution role's permissions; the participant's console role gets the same."""
        return self._statements(self._role)

    # --- the notebook ----------------------------------------------------------------------

    def settings(self) -> pulumi.Output[dict]:
        """What the notebooks read from settings.json on the instance."""
        args, names = self._args, self._names
        return pulumi.Output.all(
            bucket=args.participant_bucket_name, shared=args.shared_bucket_name,
            role=self._role.arn,
        ).apply(lambda v: {
            "participant": names.participant, "region": args.region, "bucket": v["bucket"],
            "samples_prefix": "samples/", "shared_bucket": v["shared"],
            "dataset_prefix": READ_PREFIXES[0], "role_arn": v["role"],
            "endpoint_name": names.endpoint, "name_prefix": names.prefix,
            "allowed_instance_types": ",".join(self._allowed_instance_types),
        })

    def _notebook(self, role_policy: aws.iam.RolePolicy) -> aws.sagemaker.NotebookInstance:
        args, names = self._args, self._names
        notebooks_uri = pulumi.Output.concat("s3://", args.shared_bucket_name, "/",
                                             READ_PREFIXES[2])
        on_create = pulumi.Output.all(self.settings(), notebooks_uri).apply(
            lambda v: render.encoded(render.on_create(v[0], v[1])))
        lifecycle = aws.sagemaker.NotebookInstanceLifecycleConfiguration(
            names.lifecycle_config, name=names.lifecycle_config, on_create=on_create,
            on_start=render.encoded(render.on_start(args.notebook.idle_minutes)),
            opts=child_of(self))
        return aws.sagemaker.NotebookInstance(
            names.notebook, name=names.notebook, role_arn=self._role.arn,
            instance_type=args.notebook.instance_type,
            lifecycle_config_name=lifecycle.name, volume_size=10,
            platform_identifier="notebook-al2-v3", root_access="Disabled",
            opts=child_of(self, depends_on=[role_policy]))

    # --- the endpoint ----------------------------------------------------------------------

    def _endpoint(self, role_policy: aws.iam.RolePolicy) -> aws.sagemaker.Endpoint:
        args, names = self._args, self._names
        image = aws.sagemaker.get_prebuilt_ecr_image_output(
            repository_name="sagemaker-xgboost", image_tag=CONTAINER_VERSION, region=args.region,
            opts=invoke_of(self))
        # Model and configuration are auto-named under the participant's prefix, so a new
        # baseline rolls forward by replacement, and the role's prefix rules cover them.
        model = aws.sagemaker.Model(
            names.model, execution_role_arn=self._role.arn,
            primary_container=aws.sagemaker.ModelPrimaryContainerArgs(
                image=image.registry_path,
                model_data_url=pulumi.Output.concat("s3://", args.shared_bucket_name, "/",
                                                    args.baseline_model_key)),
            opts=child_of(self, depends_on=[role_policy]))
        variant = aws.sagemaker.EndpointConfigurationProductionVariantArgs(
            variant_name="AllTraffic", model_name=model.name, initial_variant_weight=1,
            **({"serverless_config": aws.sagemaker.
                EndpointConfigurationProductionVariantServerlessConfigArgs(
                    memory_size_in_mb=SERVERLESS_MEMORY_MB,
                    max_concurrency=SERVERLESS_CONCURRENCY)}
               if args.endpoint.serverless else
               {"initial_instance_count": 1, "instance_type": args.endpoint.instance_type}))
        config = aws.sagemaker.EndpointConfiguration(
            names.endpoint_config, production_variants=[variant],
            opts=child_of(self))
        return aws.sagemaker.Endpoint(
            names.endpoint, name=names.endpoint, endpoint_config_name=config.name,
            # A participant's promotion points the endpoint at their own configuration;
            # the next `pulumi up` must not put the baseline back.
            opts=child_of(self, ignore_changes=["endpointConfigName"],
                             custom_timeouts=ENDPOINT_TIMEOUTS))
