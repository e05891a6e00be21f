"""Which AWS API call creates each declared resource type, and with which of its inputs.

Each entry maps Pulumi properties (camelCase, as the engine records them) to the create
operation's members; nested inputs are converted shape by shape (see api_models.to_api).
A type the program declares must be listed here or in NOTHING_TO_CHECK, with its reason,
so a new resource type cannot slip past the preflight unnoticed (a test enforces it).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from readiness import api_models

Inputs = Mapping[str, Any]


@dataclass(frozen=True)
class ApiCheck:
    service: str
    operation: str
    members: Mapping[str, str]  # Pulumi property -> the operation's member
    not_declared: tuple[str, ...] = ()  # required members supplied as assets or generated ids
    build: Callable[[Inputs], dict[str, Any]] | None = field(default=None, compare=False)
    built_from: Mapping[str, str] = field(default_factory=dict)  # built member path -> property

    def property_of(self, path: str) -> str:
        """The Pulumi property a member path ('Targets[0].Input') came from."""
        built = [p for p in self.built_from if path.startswith(p)]
        if built:
            return self.built_from[max(built, key=len)]
        member = path.split(".", 1)[0].split("[", 1)[0]
        return {m: p for p, m in self.members.items()}.get(member, member)

    def request(self, inputs: Inputs) -> dict[str, Any]:
        request = {member: inputs[prop] for prop, member in self.members.items()
                   if inputs.get(prop) is not None}
        if self.build:
            request.update(self.build(inputs))
        return request

    def problems(self, inputs: Inputs) -> list[str]:
        return api_models.check_request(self.service, self.operation, self.request(inputs),
                                        self.not_declared)


def _origin_access_control(inputs: Inputs) -> dict[str, Any]:
    config = {"Name": inputs.get("name"), "Description": inputs.get("description"),
              "SigningProtocol": inputs.get("signingProtocol"),
              "SigningBehavior": inputs.get("signingBehavior"),
              "OriginAccessControlOriginType": inputs.get("originAccessControlOriginType")}
    return {"OriginAccessControlConfig": {k: v for k, v in config.items() if v is not None}}


def _firehose_s3(inputs: Inputs) -> dict[str, Any]:
    # pulumi-aws flattens BufferingHints into bufferingSize/bufferingInterval.
    s3 = dict(inputs.get("extendedS3Configuration") or {})
    if not s3:
        return {}
    hints = {"SizeInMBs": s3.pop("bufferingSize", None),
             "IntervalInSeconds": s3.pop("bufferingInterval", None)}
    s3 = {"BucketARN": s3.get("bucketArn"), "RoleARN": s3.get("roleArn"),
          "Prefix": s3.get("prefix"), "ErrorOutputPrefix": s3.get("errorOutputPrefix"),
          "CompressionFormat": s3.get("compressionFormat"),
          "BufferingHints": {k: v for k, v in hints.items() if v is not None}}
    return {"ExtendedS3DestinationConfiguration": {k: v for k, v in s3.items() if v}}


def _alarm_dimensions(inputs: Inputs) -> dict[str, Any]:
    dimensions = inputs.get("dimensions") or {}
    return {"Dimensions": [{"Name": k, "Value": v} for k, v in dimensions.items()]} \
        if dimensions else {}


def _lifecycle_scripts(inputs: Inputs) -> dict[str, Any]:
    return {member: [{"Content": inputs[prop]}] for prop, member in
            (("onCreate", "OnCreate"), ("onStart", "OnStart")) if inputs.get(prop)}


def _event_target(inputs: Inputs) -> dict[str, Any]:
    target = {"Id": inputs.get("targetId") or "generated", "Arn": inputs.get("arn"),
              "Input": inputs.get("input")}
    return {"Targets": [{k: v for k, v in target.items() if v is not None}]}


def _schedule(inputs: Inputs) -> dict[str, Any]:
    """pulumi-aws nests the target and the window; CreateSchedule's members are PascalCase."""
    target, window = inputs.get("target") or {}, inputs.get("flexibleTimeWindow") or {}
    retry = target.get("retryPolicy") or {}
    request: dict[str, Any] = {}
    if target:
        request["Target"] = {k: v for k, v in {
            "Arn": target.get("arn"), "RoleArn": target.get("roleArn"),
            "Input": target.get("input"),
            "RetryPolicy": {k: v for k, v in {
                "MaximumRetryAttempts": retry.get("maximumRetryAttempts"),
                "MaximumEventAgeInSeconds": retry.get("maximumEventAgeInSeconds")}.items()
                if v is not None} or None}.items() if v is not None}
    if window:
        request["FlexibleTimeWindow"] = {k: v for k, v in {
            "Mode": window.get("mode"),
            "MaximumWindowInMinutes": window.get("maximumWindowInMinutes")}.items()
            if v is not None}
    return request


def _stage_variables(inputs: Inputs) -> dict[str, Any]:
    return {"variables": inputs["variables"]} if inputs.get("variables") else {}


CHECKS: dict[str, ApiCheck] = {
    "aws:lambda/function:Function": ApiCheck(
        "lambda", "CreateFunction",
        {"name": "FunctionName", "role": "Role", "handler": "Handler", "runtime": "Runtime",
         "timeout": "Timeout", "memorySize": "MemorySize", "architectures": "Architectures",
         "environment": "Environment", "loggingConfig": "LoggingConfig",
         "description": "Description"},
        not_declared=("Code",)),
    "aws:lambda/permission:Permission": ApiCheck(
        "lambda", "AddPermission",
        {"function": "FunctionName", "action": "Action", "principal": "Principal",
         "sourceArn": "SourceArn", "statementId": "StatementId",
         "functionUrlAuthType": "FunctionUrlAuthType"},
        not_declared=("StatementId",)),
    "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig": ApiCheck(
        "lambda", "PutFunctionEventInvokeConfig",
        {"functionName": "FunctionName", "maximumRetryAttempts": "MaximumRetryAttempts",
         "maximumEventAgeInSeconds": "MaximumEventAgeInSeconds"}),
    "aws:ssm/parameter:Parameter": ApiCheck(
        "ssm", "PutParameter",
        {"name": "Name", "type": "Type", "description": "Description"},
        not_declared=("Value",)),  # the provider marks a parameter's value secret
    "aws:cloudfront/originAccessControl:OriginAccessControl": ApiCheck(
        "cloudfront", "CreateOriginAccessControl", {}, build=_origin_access_control,
        built_from={"OriginAccessControlConfig": "name"}),
    "aws:lambda/functionUrl:FunctionUrl": ApiCheck(
        "lambda", "CreateFunctionUrlConfig",
        {"functionName": "FunctionName", "authorizationType": "AuthType",
         "invokeMode": "InvokeMode"}),
    "aws:iam/role:Role": ApiCheck(
        "iam", "CreateRole",
        {"name": "RoleName", "path": "Path", "assumeRolePolicy": "AssumeRolePolicyDocument",
         "description": "Description", "maxSessionDuration": "MaxSessionDuration"}),
    "aws:iam/rolePolicy:RolePolicy": ApiCheck(
        "iam", "PutRolePolicy", {"role": "RoleName", "name": "PolicyName",
                                 "policy": "PolicyDocument"}),
    "aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream": ApiCheck(
        "firehose", "CreateDeliveryStream", {"name": "DeliveryStreamName"}, build=_firehose_s3,
        built_from={"ExtendedS3DestinationConfiguration": "extendedS3Configuration"}),
    "aws:cloudwatch/logGroup:LogGroup": ApiCheck(
        "logs", "CreateLogGroup", {"name": "logGroupName", "kmsKeyId": "kmsKeyId"}),
    "aws:cloudwatch/logStream:LogStream": ApiCheck(
        "logs", "CreateLogStream", {"logGroupName": "logGroupName", "name": "logStreamName"}),
    "aws:cloudwatch/eventRule:EventRule": ApiCheck(
        "events", "PutRule",
        {"name": "Name", "scheduleExpression": "ScheduleExpression", "state": "State",
         "description": "Description", "eventPattern": "EventPattern"}),
    "aws:cloudwatch/eventTarget:EventTarget": ApiCheck(
        "events", "PutTargets", {"rule": "Rule"}, build=_event_target,
        built_from={"Targets": "targetId", "Targets[0].Arn": "arn", "Targets[0].Input": "input"}),
    "aws:scheduler/schedule:Schedule": ApiCheck(
        "scheduler", "CreateSchedule",
        {"name": "Name", "groupName": "GroupName", "scheduleExpression": "ScheduleExpression",
         "scheduleExpressionTimezone": "ScheduleExpressionTimezone", "state": "State",
         "description": "Description", "actionAfterCompletion": "ActionAfterCompletion"},
        build=_schedule, built_from={"Target": "target", "Target.Input": "target.input",
                                     "FlexibleTimeWindow": "flexibleTimeWindow"}),
    "aws:cloudwatch/metricAlarm:MetricAlarm": ApiCheck(
        "cloudwatch", "PutMetricAlarm",
        {"name": "AlarmName", "alarmDescription": "AlarmDescription",
         "metricName": "MetricName", "namespace": "Namespace", "statistic": "Statistic",
         "period": "Period", "evaluationPeriods": "EvaluationPeriods",
         "datapointsToAlarm": "DatapointsToAlarm", "threshold": "Threshold",
         "comparisonOperator": "ComparisonOperator", "treatMissingData": "TreatMissingData",
         "alarmActions": "AlarmActions", "okActions": "OKActions"},
        build=_alarm_dimensions, built_from={"Dimensions": "dimensions"}),
    "aws:cloudwatch/compositeAlarm:CompositeAlarm": ApiCheck(
        "cloudwatch", "PutCompositeAlarm",
        {"alarmName": "AlarmName", "alarmRule": "AlarmRule",
         "alarmDescription": "AlarmDescription", "alarmActions": "AlarmActions",
         "okActions": "OKActions", "actionsEnabled": "ActionsEnabled"}),
    "aws:cloudwatch/dashboard:Dashboard": ApiCheck(
        "cloudwatch", "PutDashboard", {"dashboardName": "DashboardName",
                                       "dashboardBody": "DashboardBody"}),
    "aws:apigateway/restApi:RestApi": ApiCheck(
        "apigateway", "CreateRestApi",
        {"name": "name", "description": "description",
         "endpointConfiguration": "endpointConfiguration"}),
    "aws:apigateway/resource:Resource": ApiCheck(
        "apigateway", "CreateResource", {"pathPart": "pathPart", "parentId": "parentId"},
        not_declared=("restApiId",)),
    "aws:apigateway/method:Method": ApiCheck(
        "apigateway", "PutMethod",
        {"httpMethod": "httpMethod", "authorization": "authorizationType",
         "requestParameters": "requestParameters"},
        not_declared=("restApiId", "resourceId")),
    "aws:apigateway/integration:Integration": ApiCheck(
        "apigateway", "PutIntegration",
        {"httpMethod": "httpMethod", "type": "type", "uri": "uri",
         "integrationHttpMethod": "integrationHttpMethod"},
        not_declared=("restApiId", "resourceId")),
    "aws:apigateway/requestValidator:RequestValidator": ApiCheck(
        "apigateway", "CreateRequestValidator", {"name": "name"},
        not_declared=("restApiId",)),
    "aws:apigateway/deployment:Deployment": ApiCheck(
        "apigateway", "CreateDeployment", {"description": "description"},
        not_declared=("restApiId",)),
    "aws:apigateway/stage:Stage": ApiCheck(
        "apigateway", "CreateStage",
        {"stageName": "stageName", "description": "description"},
        not_declared=("restApiId", "deploymentId"), build=_stage_variables,
        built_from={"variables": "variables"}),
    "aws:dynamodb/table:Table": ApiCheck(
        "dynamodb", "CreateTable", {"name": "TableName", "billingMode": "BillingMode",
                                    "tableClass": "TableClass"}),
    "aws:sns/topic:Topic": ApiCheck("sns", "CreateTopic", {"name": "Name"}),
    "aws:sns/topicSubscription:TopicSubscription": ApiCheck(
        "sns", "Subscribe", {"topic": "TopicArn", "protocol": "Protocol",
                             "endpoint": "Endpoint"}),
    "aws:sqs/queue:Queue": ApiCheck("sqs", "CreateQueue", {"name": "QueueName"}),
    "aws:sagemaker/model:Model": ApiCheck(
        "sagemaker", "CreateModel",
        {"name": "ModelName", "executionRoleArn": "ExecutionRoleArn",
         "primaryContainer": "PrimaryContainer"}),
    "aws:sagemaker/endpointConfiguration:EndpointConfiguration": ApiCheck(
        "sagemaker", "CreateEndpointConfig",
        {"name": "EndpointConfigName", "productionVariants": "ProductionVariants"}),
    "aws:sagemaker/endpoint:Endpoint": ApiCheck(
        "sagemaker", "CreateEndpoint",
        {"name": "EndpointName", "endpointConfigName": "EndpointConfigName"}),
    "aws:sagemaker/notebookInstance:NotebookInstance": ApiCheck(
        "sagemaker", "CreateNotebookInstance",
        {"name": "NotebookInstanceName", "instanceType": "InstanceType", "roleArn": "RoleArn",
         "lifecycleConfigName": "LifecycleConfigName", "volumeSize": "VolumeSizeInGB",
         "platformIdentifier": "PlatformIdentifier", "rootAccess": "RootAccess",
         "directInternetAccess": "DirectInternetAccess"}),
    "aws:sagemaker/notebookInstanceLifecycleConfiguration:NotebookInstanceLifecycleConfiguration":
        ApiCheck("sagemaker", "CreateNotebookInstanceLifecycleConfig",
                 {"name": "NotebookInstanceLifecycleConfigName"}, build=_lifecycle_scripts,
                 built_from={"OnCreate": "onCreate", "OnStart": "onStart"}),
    "aws:s3/bucketObjectv2:BucketObjectv2": ApiCheck(
        "s3", "PutObject", {"key": "Key", "contentType": "ContentType"},
        not_declared=("Bucket",)),
    "aws:secretsmanager/secret:Secret": ApiCheck(
        "secretsmanager", "CreateSecret", {"name": "Name", "description": "Description"}),
}

# Declared types whose create call has nothing the program's inputs could get wrong, or
# whose limits the rules in readiness.limits check instead (their names say why).
NOTHING_TO_CHECK = {
    "pulumi:providers:aws": "the provider is not an AWS resource",
    "aws:cloudfront/cachePolicy:CachePolicy":
        "fixed TTLs and query strings: tests/test_leaderboard_program.py",
    "aws:cloudfront/distribution:Distribution":
        "one fixed origin and two behaviours: tests/test_leaderboard_program.py",
    "aws:s3/bucket:Bucket": "S3 bucket name rules are not in botocore's model: limits.bucket_names",
    "aws:s3/bucketPolicy:BucketPolicy": "policy size: limits.bucket_policy_size",
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": "four booleans",
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration":
        "an algorithm from pulumi-aws's own enum",
    "aws:apigateway/methodSettings:MethodSettings": "throttles: limits.stage_throttles",
    "aws:dynamodb/tableItem:TableItem": "item size: limits.table_item_size",
    "aws:sns/topicPolicy:TopicPolicy": "a policy document built by components.iam",
    "aws:sqs/queuePolicy:QueuePolicy": "a policy document built by components.iam",
    "aws:apigateway/restApiPolicy:RestApiPolicy": "a policy document naming the edge's role",
    "aws:secretsmanager/secretPolicy:SecretPolicy": "a policy document naming the edge's role",
    "aws:secretsmanager/secretVersion:SecretVersion": "a generated value, never inspected",
}
