"""Lab 2 for one participant: a SageMaker notebook, its execution role, and an endpoint
that serves the baseline model until the participant promotes their own.

The role is the participant's only way into SageMaker, and it is scoped to them: their
bucket, the shared training data (read only), training jobs, models and endpoint
configurations named `<event>-<id>--*` and tagged as theirs (see event/names.py for why
the double dash), on the allowed training and hosting types only, their own endpoint, and
passing only itself.
"""

from __future__ import annotations

import hashlib
import json
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

NOTEBOOK_PLATFORM = "notebook-al2023-v1"  # Amazon Linux 2023 (AL2 platforms: end of life)
ENDPOINT_TIMEOUTS = pulumi.CustomTimeouts(create="45m", update="45m", delete="20m")
SERVERLESS_MEMORY_MB, SERVERLESS_CONCURRENCY = 2048, 10
LOG_GROUPS = ("TrainingJobs", "Endpoints", "NotebookInstances")
# The only actions granted on "*": CloudWatch has no resource-level permission for them.
METRIC_ACTIONS = ["cloudwatch:PutMetricData"]
# Tag keys a participant's creates may carry: theirs, and the retraining loop's marker.
CREATE_TAG_KEYS = ("Participant", "Event", "Purpose")
TAGGING_CREATES = ("CreateTrainingJob", "CreateModel", "CreateEndpointConfig")


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
    retraining_function: str | None = None  # their retraining loop's function, if deployed
    # What wins when the organizer changes the endpoints (see _endpoint): False rolls every
    # endpoint forward to the new baseline configuration; True leaves every endpoint on
    # what it serves (a participant's promotion, or the previous baseline).
    keep_promotions: bool = False
    # For settings.json: the participant's Lab 3 URL and the event's leaderboard.
    inference_url: pulumi.Input[str] = ""
    leaderboard_url: pulumi.Input[str] = ""
    max_training_jobs: int = 1  # maxTrainingJobsPerParticipant, enforced by the notebooks


def input_hash(*parts: object) -> str:
    """7 hex characters naming a Model or EndpointConfiguration after its inputs: as long
    as Pulumi's random auto-name suffix, so the names' length checks still hold."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:7]


class ModelTraining(pulumi.ComponentResource):
    notebook_name: pulumi.Output[str]
    notebook_arn: pulumi.Output[str]
    endpoint_name: pulumi.Output[str]
    endpoint_arn: pulumi.Output[str]
    role_arn: pulumi.Output[str]
    role_name: pulumi.Output[str]
    # The endpoint configuration declared here: what `fleet endpoint-reset` returns them to.
    baseline_endpoint_config: pulumi.Output[str]

    def __init__(self, name: str, args: ModelTrainingArgs,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("workshop:lab2:ModelTraining", name, None, opts)
        self._args, self._names = args, args.names
        self._account = account = aws.get_caller_identity_output(
            opts=invoke_of(self)).account_id
        self._arn = lambda kind, name: pulumi.Output.concat(
            "arn:aws:sagemaker:", args.region, ":", account, f":{kind}/{name}")
        self._role, role_policy = self._execution_role()
        notebook, endpoint = self._notebook(role_policy), self._endpoint(role_policy)
        self.notebook_name, self.notebook_arn = notebook.name, notebook.arn
        self.endpoint_name, self.endpoint_arn = endpoint.name, endpoint.arn
        self.role_arn = self._role.arn
        self.role_name = self._role.name
        self.baseline_endpoint_config = self._config.name
        self.register_outputs({"notebook_name": self.notebook_name,
                               "notebook_arn": self.notebook_arn,
                               "endpoint_name": self.endpoint_name,
                               "endpoint_arn": self.endpoint_arn, "role_arn": self.role_arn,
                               "role_name": self.role_name,
                               "baseline_endpoint_config": self.baseline_endpoint_config})

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
        args, names, arn = self._args, self._names, self._arn
        own, shared = args.participant_bucket_arn, args.shared_bucket_arn
        mine = names.owned_prefix  # <event>-<id>--: no other participant's names match
        jobs, models, configs = (arn("training-job", f"{mine}*"), arn("model", f"{mine}*"),
                                 arn("endpoint-config", f"{mine}*"))
        endpoint = arn("endpoint", names.endpoint)
        # Creates must carry the participant's own tags (and no others), so every resource
        # they make is theirs by tag as well as by name; every other action requires that
        # tag on the resource. SageMaker supports both on these resource types (Service
        # Authorization Reference, "Actions, resources, and condition keys for Amazon
        # SageMaker": aws:RequestTag/aws:TagKeys on CreateTrainingJob, CreateModel,
        # CreateEndpointConfig; aws:ResourceTag on training-job, model, endpoint-config,
        # endpoint and notebook-instance).
        tagged_create = {
            "StringEquals": {f"aws:RequestTag/{key}": value
                             for key, value in self.tags().items()},
            "ForAllValues:StringEquals": {"aws:TagKeys": list(CREATE_TAG_KEYS)}}
        theirs = {"StringEquals": {"aws:ResourceTag/Participant": names.participant}}

        def create(action: str, resource, instance_types: list[str] | None = None) -> dict:
            condition = {op: dict(keys) for op, keys in tagged_create.items()}
            if instance_types is not None:
                condition["ForAllValues:StringEquals"]["sagemaker:InstanceTypes"] = \
                    list(instance_types)
            return iam.allow([action], [resource], condition=condition)

        def logs(group: str, stream: str | None = None):
            rest = f"{group}:log-stream:{stream}" if stream else f"{group}:*"
            return pulumi.Output.concat("arn:aws:logs:", args.region, ":", self._account,
                                        ":log-group:/aws/sagemaker/", rest)

        return [
            iam.allow(["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
                      [pulumi.Output.concat(own, "/*")]),
            iam.allow(["s3:ListBucket", "s3:GetBucketLocation"], [own]),
            iam.allow(["s3:GetObject"], [pulumi.Output.concat(shared, "/", p, "*")
                                         for p in READ_PREFIXES]),
            iam.allow(["s3:ListBucket"], [shared],
                      condition={"StringLike": {"s3:prefix": [p + "*" for p in READ_PREFIXES]}}),
            create("sagemaker:CreateTrainingJob", jobs, args.endpoint.training_types),
            create("sagemaker:CreateEndpointConfig", configs, args.endpoint.hosting_types),
            create("sagemaker:CreateModel", models),
            # Tagging only as part of those creates (SageMaker checks AddTags for a create's
            # Tags; sagemaker:TaggingAction names the create), never on its own.
            iam.allow(["sagemaker:AddTags"], [jobs, models, configs], condition={
                "StringEquals": {**tagged_create["StringEquals"],
                                 "sagemaker:TaggingAction": list(TAGGING_CREATES)},
                "ForAllValues:StringEquals": tagged_create["ForAllValues:StringEquals"]}),
            iam.allow(["sagemaker:DescribeTrainingJob", "sagemaker:StopTrainingJob",
                       "sagemaker:DescribeModel", "sagemaker:DeleteModel",
                       "sagemaker:DescribeEndpointConfig", "sagemaker:DeleteEndpointConfig",
                       "sagemaker:ListTags"], [jobs, models, configs], condition=theirs),
            iam.allow(["sagemaker:DescribeEndpoint", "sagemaker:UpdateEndpoint",
                       "sagemaker:InvokeEndpoint"], [endpoint, configs], condition=theirs),
            iam.allow(["sagemaker:DescribeNotebookInstance", "sagemaker:StopNotebookInstance"],
                      [arn("notebook-instance", names.notebook)], condition=theirs),
            iam.allow(["iam:PassRole"], [role.arn],
                      condition={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}),
            # Log-group actions name groups (ARN with a trailing :*, as CloudWatch Logs wants
            # for IAM); SageMaker's groups for jobs and notebooks are shared by the account,
            # so only stream-level actions (write, read) are scoped to the participant.
            iam.allow(["logs:CreateLogGroup", "logs:CreateLogStream", "logs:DescribeLogStreams"],
                      [logs("TrainingJobs"), logs(f"Endpoints/{names.endpoint}"),
                       logs("NotebookInstances")]),
            iam.allow(["logs:PutLogEvents", "logs:GetLogEvents"],
                      [logs("TrainingJobs", f"{mine}*"),
                       logs(f"Endpoints/{names.endpoint}", "*"),
                       logs("NotebookInstances", f"{names.notebook}/*")]),
            iam.allow(METRIC_ACTIONS, ["*"],
                      condition={"StringLike": {"cloudwatch:namespace": "/aws/sagemaker/*"}}),
        ] + self._retraining_statements()

    def _retraining_statements(self) -> list[dict]:
        """The fifth notebook talks to the loop only through their own function."""
        function = self._args.retraining_function
        if not function:
            return []
        return [iam.allow(["lambda:InvokeFunction"], [pulumi.Output.concat(
            "arn:aws:lambda:", self._args.region, ":", self._account, ":function:", function)])]

    def tags(self) -> dict[str, str]:
        """The tags everything this participant creates must carry (and the provider's
        default tags already put on what is declared here)."""
        return {"Participant": self._names.participant, "Event": self._names.event}

    def role_statements(self) -> list[dict]:
        """The execution role's permissions; the participant's console role gets the same."""
        return self._statements(self._role)

    # --- the notebook ----------------------------------------------------------------------

    def settings(self) -> pulumi.Output[dict]:
        """What the notebooks read from settings.json on the instance."""
        args, names = self._args, self._names
        return pulumi.Output.all(
            bucket=args.participant_bucket_name, shared=args.shared_bucket_name,
            role=self._role.arn, inference=args.inference_url, leaderboard=args.leaderboard_url,
        ).apply(lambda v: {
            "inference_url": v["inference"], "leaderboard_url": v["leaderboard"],
            "max_training_jobs": str(args.max_training_jobs),
            "participant": names.participant, "region": args.region, "bucket": v["bucket"],
            "samples_prefix": "samples/", "shared_bucket": v["shared"],
            "dataset_prefix": READ_PREFIXES[0], "role_arn": v["role"],
            "endpoint_name": names.endpoint, "name_prefix": names.owned_prefix,
            "event": names.event,
            "training_instance_types": ",".join(args.endpoint.training_types),
            "hosting_instance_types": ",".join(args.endpoint.hosting_types),
            **({"retraining_function": args.retraining_function}
               if args.retraining_function else {}),
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
            platform_identifier=NOTEBOOK_PLATFORM, root_access="Disabled",
            opts=child_of(self, depends_on=[role_policy]))

    # --- the endpoint ----------------------------------------------------------------------

    def _endpoint(self, role_policy: aws.iam.RolePolicy) -> aws.sagemaker.Endpoint:
        """The baseline model, its configuration, and the endpoint serving it.

        Model and configuration are named after a hash of their inputs (image, model data,
        role; model, instance type or serverless settings), so any organizer change gives
        new names, which SageMaker needs anyway (both are immutable). Pulumi then creates
        the new ones first (create-before-delete), and:
        - by default (keepPromotions false) updates the endpoint to the new configuration
          and only then deletes the old configuration and model, which the endpoint no
          longer uses: the organizer's change rolls forward to everyone, a promoted
          participant included (they promote again). An ordinary `up` with no change
          keeps promotions: Pulumi diffs against its own record, which a participant's
          UpdateEndpoint does not touch (a refresh does: see README);
        - with keepPromotions the endpoint's configuration is ignored after creation, and
          replaced models and configurations are left in SageMaker (retain_on_delete),
          since endpoints that were not promoted still serve them; the sweeper removes
          them after `destroy`.
        """
        args, names = self._args, self._names
        keep = args.keep_promotions
        image = aws.sagemaker.get_prebuilt_ecr_image_output(
            repository_name="sagemaker-xgboost", image_tag=CONTAINER_VERSION, region=args.region,
            opts=invoke_of(self))
        model_data = pulumi.Output.concat("s3://", args.shared_bucket_name, "/",
                                          args.baseline_model_key)
        model_name = pulumi.Output.all(image.registry_path, model_data, self._role.arn).apply(
            lambda v: f"{names.model}-{input_hash('model', *v)}")
        replaced_safely = {"delete_before_replace": False, "retain_on_delete": keep}
        model = aws.sagemaker.Model(
            names.model, name=model_name, execution_role_arn=self._role.arn,
            primary_container=aws.sagemaker.ModelPrimaryContainerArgs(
                image=image.registry_path, model_data_url=model_data),
            opts=child_of(self, depends_on=[role_policy], **replaced_safely))
        if args.endpoint.serverless:
            serving = {"serverless": [SERVERLESS_MEMORY_MB, SERVERLESS_CONCURRENCY]}
            variant_settings = {"serverless_config": aws.sagemaker.
                                EndpointConfigurationProductionVariantServerlessConfigArgs(
                                    memory_size_in_mb=SERVERLESS_MEMORY_MB,
                                    max_concurrency=SERVERLESS_CONCURRENCY)}
        else:
            serving = {"instance": [args.endpoint.instance_type, 1]}
            variant_settings = {"initial_instance_count": 1,
                                "instance_type": args.endpoint.instance_type}
        variant = aws.sagemaker.EndpointConfigurationProductionVariantArgs(
            variant_name="AllTraffic", model_name=model.name, initial_variant_weight=1,
            **variant_settings)
        config = aws.sagemaker.EndpointConfiguration(
            names.endpoint_config, production_variants=[variant],
            name=model.name.apply(
                lambda m: f"{names.endpoint_config}-{input_hash('config', m, serving)}"),
            opts=child_of(self, **replaced_safely))
        self._config = config
        return aws.sagemaker.Endpoint(
            names.endpoint, name=names.endpoint, endpoint_config_name=config.name,
            opts=child_of(self, ignore_changes=["endpointConfigName"] if keep else None,
                          custom_timeouts=ENDPOINT_TIMEOUTS))
