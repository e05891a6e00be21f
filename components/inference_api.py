"""One live inference REST API: `GET /<stage>/liveinference?features=...`, shared by stages.

The method requires the `features` query parameter (a request validator rejects a
missing one before any Lambda runs) and proxies to the Lambda that the calling stage's
`function` stage variable names. Participants add their own stage (LiveInference).

The method requires SigV4 (AWS_IAM): only principals granted `execute-api:Invoke` on a
stage reach its Lambda -- the FC edge on every stage, each participant on their own
(README, "Isolation between participants"). An API in a participant's own account also carries a resource
policy naming the edge's role, since a caller from another account needs both.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components.parts.options import child_of, invoke_of

RESOURCE_PATH = "liveinference"
STAGE_VARIABLE = "function"
REQUIRED_PARAMETER = "method.request.querystring.features"
FUNCTION_URI = ("arn:aws:apigateway:{region}:lambda:path/2015-03-31/functions/"
                "arn:aws:lambda:{region}:{account}:function:${{stageVariables." + STAGE_VARIABLE
                + "}}/invocations")
# Everything a deployment snapshots; a change here must redeploy every stage.
API_SHAPE = {
    "path": RESOURCE_PATH,
    "method": "GET",
    "authorization": "AWS_IAM",
    "request_parameters": {REQUIRED_PARAMETER: True},
    "validator": {"parameters": True, "body": False},
    "integration": {"type": "AWS_PROXY", "http_method": "POST", "uri": FUNCTION_URI},
}


def shape_hash(shape: dict = API_SHAPE) -> str:
    return hashlib.sha256(json.dumps(shape, sort_keys=True).encode()).hexdigest()[:16]


@dataclass
class InferenceApiArgs:
    name: str  # logical and physical name
    region: str
    # Principals of other accounts (the FC edge's role) that may call every stage.
    cross_account_invokers: Sequence[pulumi.Input[str]] = field(default_factory=tuple)
    # False when the stages live in other stacks (participant stacks): each of those deploys
    # the API itself, because AWS refuses to delete a deployment a stage still points to.
    deploy: bool = True


def method_arn(execution_arn: pulumi.Input[str], stage: str) -> pulumi.Output[str]:
    """What `execute-api:Invoke` names for one stage's GET /liveinference."""
    return pulumi.Output.concat(execution_arn, f"/{stage}/{API_SHAPE['method']}/{RESOURCE_PATH}")


@dataclass
class ApiTarget:
    """What a stage needs of the API it joins."""
    rest_api_id: pulumi.Input[str]
    execution_arn: pulumi.Input[str]
    deployment_id: pulumi.Input[str] | None  # None: the stage's owner deploys the API itself


def deploy(parent: pulumi.Resource, name: str, rest_api_id: pulumi.Input[str],
           depends_on: list[pulumi.Resource] | None = None) -> aws.apigateway.Deployment:
    """A deployment (snapshot) of the API's shape; a new shape replaces it, which re-points
    the stages that use it."""
    return aws.apigateway.Deployment(
        f"{name}-deployment", rest_api=rest_api_id,
        description="live inference", triggers={"shape": shape_hash()},
        opts=child_of(parent, depends_on=depends_on or []))


class InferenceApi(pulumi.ComponentResource):
    rest_api_id: pulumi.Output[str]
    execution_arn: pulumi.Output[str]
    deployment_id: pulumi.Output[str] | None

    def __init__(self, name: str, args: InferenceApiArgs,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("workshop:lab3:InferenceApi", name, None, opts)
        child = child_of(self)
        account = aws.get_caller_identity_output(opts=invoke_of(self)).account_id
        api = aws.apigateway.RestApi(
            args.name, name=args.name,
            description="Live inference: GET /<participant>/liveinference?features=...",
            endpoint_configuration=aws.apigateway.RestApiEndpointConfigurationArgs(
                types="REGIONAL"),
            opts=child)
        resource = aws.apigateway.Resource(
            f"{args.name}-resource", rest_api=api.id, parent_id=api.root_resource_id,
            path_part=RESOURCE_PATH, opts=child)
        validator = aws.apigateway.RequestValidator(
            f"{args.name}-validator", rest_api=api.id, name="features-required",
            validate_request_parameters=True, validate_request_body=False, opts=child)
        method = aws.apigateway.Method(
            f"{args.name}-get", rest_api=api.id, resource_id=resource.id,
            http_method=API_SHAPE["method"], authorization=API_SHAPE["authorization"],
            request_validator_id=validator.id,
            request_parameters=API_SHAPE["request_parameters"], opts=child)
        integration = aws.apigateway.Integration(
            f"{args.name}-integration", rest_api=api.id, resource_id=resource.id,
            http_method=method.http_method, type="AWS_PROXY", integration_http_method="POST",
            uri=account.apply(lambda a: FUNCTION_URI.format(region=args.region, account=a)),
            opts=child)
        if args.cross_account_invokers:
            aws.apigateway.RestApiPolicy(
                f"{args.name}-invokers", rest_api_id=api.id,
                policy=pulumi.Output.json_dumps({"Version": "2012-10-17", "Statement": [{
                    "Effect": "Allow", "Principal": {"AWS": list(args.cross_account_invokers)},
                    "Action": "execute-api:Invoke",
                    "Resource": method_arn(api.execution_arn, "*")}]}),
                opts=child)
        self.rest_api_id = api.id
        self.execution_arn = api.execution_arn
        self.deployment_id = None
        if args.deploy:
            self.deployment_id = deploy(self, args.name, api.id,
                                        depends_on=[method, integration, validator]).id
        self.register_outputs({"rest_api_id": self.rest_api_id,
                               "execution_arn": self.execution_arn,
                               "deployment_id": self.deployment_id})

    def target(self) -> ApiTarget:
        return ApiTarget(self.rest_api_id, self.execution_arn, self.deployment_id)
