"""Lab 3 for one participant: their stage on a live inference API -> their Lambda ->
their SageMaker endpoint.

The stage is named by the participant id and its `function` stage variable names their
Lambda; a Lambda permission lets exactly that API, stage and path invoke it. The role may
invoke only their own endpoint. Stage throttling protects that endpoint.
"""

from __future__ import annotations

from dataclasses import dataclass
import pulumi
import pulumi_aws as aws

from components.inference_api import RESOURCE_PATH, STAGE_VARIABLE, ApiTarget, deploy
from components.parts import iam
from components.parts.lambda_function import FunctionSpec, declare_function
from components.parts.options import child_of, invoke_of
from event.config import InferenceConfig, LogsConfig
from handlers import live_inference
from event.names import ParticipantNames

INFERENCE_TIMEOUT_SECONDS = 10


@dataclass
class LiveInferenceArgs:
    names: ParticipantNames
    region: str
    api: ApiTarget  # the API their stage joins (shared, or their own account's)
    inference: InferenceConfig
    logs: LogsConfig


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
        aws.lambda_.Permission(
            f"{names.inference_function}-from-api", action="lambda:InvokeFunction",
            function=function.name, principal="apigateway.amazonaws.com",
            source_arn=pulumi.Output.concat(api.execution_arn, "/", names.stage,
                                            f"/GET/{RESOURCE_PATH}"),
            opts=child)
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
