"""Lab 3 for one participant: their stage on a live inference API -> their Lambda ->
their SageMaker endpoint.

The stage is named by the participant id and its `function` stage variable names their
Lambda; a Lambda permission lets exactly that API, stage and path invoke it. The role may
invoke only their own endpoint. The method requires SigV4: the participant's own roles
(`invoker_role_names`) may call this stage and no other; the FC edge may call every stage.
Stage throttling protects the endpoint from its owner's own loops.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components.inference_api import (
    RESOURCE_PATH,
    STAGE_VARIABLE,
    ApiTarget,
    deploy,
    method_arn,
)
from components.parts import iam
from components.parts.lambda_function import FunctionSpec, declare_function
from components.parts.options import child_of, invoke_of
from event.config import InferenceConfig, LogsConfig
from event.names import ParticipantNames
from handlers import live_inference

INFERENCE_TIMEOUT_SECONDS = 10


@dataclass
class LiveInferenceArgs:
    names: ParticipantNames
    region: str
    api: ApiTarget  # the API their stage joins (shared, or their own account's)
    inference: InferenceConfig
    logs: LogsConfig
    # The participant's roles that may call their own stage (their notebook's, their console's).
    invoker_role_names: Sequence[pulumi.Input[str]] = field(default_factory=tuple)


class LiveInference(pulumi.ComponentResource):
    url: pulumi.Output[str]
    function_name: pulumi.Output[str]

    def __init__(self, name: str, args: LiveInferenceArgs,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("workshop:lab3:LiveInference", name, None, opts)
        names = args.names
        api = args.api
        # When the API's deployment belongs to another stack (the event stack), this stage
        # gets a deployment of its own: AWS refuses to delete a deployment while any stage
        # points to it ("BadRequestException: Active stages pointing to this deployment must
        # be moved or deleted", pulumi/pulumi-aws#5711), so a shared deployment would tie the
        # event stack's updates and destroy to every participant stack's stage.
        deployment_id = api.deployment_id or deploy(self, names.prefix, api.rest_api_id).id
        function = self._function(args)
        child = child_of(self)
        stage = aws.apigateway.Stage(
            f"{names.prefix}-stage", rest_api=api.rest_api_id, deployment=deployment_id,
            stage_name=names.stage, variables={STAGE_VARIABLE: function.name},
            description=f"Live inference for {names.participant}", opts=child)
        aws.apigateway.MethodSettings(
            f"{names.prefix}-throttling", rest_api=api.rest_api_id, stage_name=stage.stage_name,
            method_path="*/*",
            settings=aws.apigateway.MethodSettingsSettingsArgs(
                throttling_rate_limit=args.inference.rate_limit,
                throttling_burst_limit=args.inference.burst_limit),
            opts=child)
        own_stage = method_arn(api.execution_arn, names.stage)
        aws.lambda_.Permission(
            f"{names.inference_function}-from-api", action="lambda:InvokeFunction",
            function=function.name, principal="apigateway.amazonaws.com",
            source_arn=own_stage, opts=child)
        for index, role_name in enumerate(args.invoker_role_names):
            aws.iam.RolePolicy(
                f"{names.prefix}-invoke-own-stage-{index + 1}", role=role_name,
                policy=iam.policy(iam.allow(["execute-api:Invoke"], [own_stage])), opts=child)
        self.url = pulumi.Output.concat(stage.invoke_url, f"/{RESOURCE_PATH}")
        self.function_name = function.name
        self.register_outputs({"url": self.url, "function_name": self.function_name})

    def _function(self, args: LiveInferenceArgs) -> aws.lambda_.Function:
        names = args.names
        account = aws.get_caller_identity_output(opts=invoke_of(self)).account_id
        endpoint_arn = pulumi.Output.concat("arn:aws:sagemaker:", args.region, ":", account,
                                            ":endpoint/", names.endpoint)
        return declare_function(FunctionSpec(
            logical_name=names.inference_function,
            function_name=names.inference_function,
            module=live_inference,
            statements=[iam.allow(["sagemaker:InvokeEndpoint"], [endpoint_arn])],
            environment=live_inference.Settings(endpoint_name=names.endpoint,
                                                participant=names.participant),
            timeout=INFERENCE_TIMEOUT_SECONDS,
            log_retention_days=args.logs.retention_days,
        ), parent=self).function
