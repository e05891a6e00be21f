"""What stands in front of the leaderboard function: the reveal switch and the CDN.

- The reveal switch: an SSM parameter `/<event>/leaderboard/reveal` ("true"/"false") that
  the organizer flips at the climax (`aws ssm put-parameter --overwrite`, or
  `python -m fleet reveal on`). Declared with `ignore_changes` on its value, so a later
  `pulumi up` never turns the reveal back off; `revealPrivate` is only its first value.
- The CDN: a CloudFront distribution whose origin is the function URL. Every viewer of the
  projector page polls leaderboard.json every 10 s; 300 viewers are 30 requests/s, but the
  distribution asks the origin at most about once per TTL per edge location, so the
  function's reserved concurrency is never the limit. The page is cached by the only
  query strings it reads (`me`, `view`); the JSON is the same for everyone and cached once.
- Origin access control (OAC, origin type "lambda") signs CloudFront's requests with SigV4,
  so the function URL uses AWS_IAM auth and only this distribution may invoke it: nobody
  can bypass the cache and hit the function directly. CloudFront OAC for Lambda URLs:
  https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/private-content-restricting-access-to-lambda.html
  (the permission for cloudfront.amazonaws.com with the distribution's ARN as source), and
  since October 2025 a function URL needs lambda:InvokeFunction besides
  lambda:InvokeFunctionUrl: https://docs.aws.amazon.com/lambda/latest/dg/urls-auth.html
"""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from components.parts.options import child_of

CACHE_TTL_SECONDS = 5  # the handler's Cache-Control max-age; CloudFront keeps within min/max
MAX_TTL_SECONDS = 10
PAGE_QUERY_STRINGS = ["me", "view"]  # what handlers.leaderboard.view_of reads
ORIGIN_ID = "leaderboard-function"


def reveal_parameter_name(event: str) -> str:
    return f"/{event}/leaderboard/reveal"


def declare_reveal_switch(event: str, initially: bool, parent: pulumi.Resource) -> aws.ssm.Parameter:
    return aws.ssm.Parameter(
        f"{event}-leaderboard-reveal", name=reveal_parameter_name(event), type="String",
        value="true" if initially else "false",
        description="The leaderboard's final reveal: true ranks by the private score. "
                    "Flip it with aws ssm put-parameter --overwrite; pulumi up leaves it as is.",
        # The organizer owns the value once declared: an update must not undo the reveal.
        opts=child_of(parent, ignore_changes=["value"]))


def _cache_policy(name: str, query_strings: list[str], parent: pulumi.Resource):
    strings = (aws.cloudfront.CachePolicyParametersInCacheKeyAndForwardedToOriginQueryStringsConfigArgs(
        query_string_behavior="whitelist",
        query_strings=aws.cloudfront.CachePolicyParametersInCacheKeyAndForwardedToOriginQueryStringsConfigQueryStringsArgs(
            items=query_strings))
        if query_strings else
        aws.cloudfront.CachePolicyParametersInCacheKeyAndForwardedToOriginQueryStringsConfigArgs(
            query_string_behavior="none"))
    return aws.cloudfront.CachePolicy(
        name, name=name, min_ttl=1, default_ttl=CACHE_TTL_SECONDS, max_ttl=MAX_TTL_SECONDS,
        parameters_in_cache_key_and_forwarded_to_origin=(
            aws.cloudfront.CachePolicyParametersInCacheKeyAndForwardedToOriginArgs(
                cookies_config=aws.cloudfront.CachePolicyParametersInCacheKeyAndForwardedToOriginCookiesConfigArgs(
                    cookie_behavior="none"),
                # No headers: the Host header in particular must not reach a function URL.
                headers_config=aws.cloudfront.CachePolicyParametersInCacheKeyAndForwardedToOriginHeadersConfigArgs(
                    header_behavior="none"),
                query_strings_config=strings,
                enable_accept_encoding_gzip=True, enable_accept_encoding_brotli=True)),
        opts=child_of(parent))


def _behavior(cls, policy: aws.cloudfront.CachePolicy, **extra):
    return cls(target_origin_id=ORIGIN_ID, viewer_protocol_policy="redirect-to-https",
               allowed_methods=["GET", "HEAD"], cached_methods=["GET", "HEAD"],
               cache_policy_id=policy.id, compress=True, **extra)


def declare_cdn(event: str, function: aws.lambda_.Function, function_url: aws.lambda_.FunctionUrl,
                parent: pulumi.Resource) -> aws.cloudfront.Distribution:
    access = aws.cloudfront.OriginAccessControl(
        f"{event}-leaderboard-oac", name=f"{event}-leaderboard",
        description="CloudFront signs its requests to the leaderboard's function URL",
        origin_access_control_origin_type="lambda", signing_behavior="always",
        signing_protocol="sigv4", opts=child_of(parent))
    page_policy = _cache_policy(f"{event}-leaderboard-page", PAGE_QUERY_STRINGS, parent)
    data_policy = _cache_policy(f"{event}-leaderboard-data", [], parent)
    host = function_url.function_url.apply(
        lambda url: url.removeprefix("https://").split("/")[0])
    distribution = aws.cloudfront.Distribution(
        f"{event}-leaderboard-cdn", enabled=True, comment=f"{event} leaderboard",
        price_class="PriceClass_100", http_version="http2and3", is_ipv6_enabled=True,
        origins=[aws.cloudfront.DistributionOriginArgs(
            origin_id=ORIGIN_ID, domain_name=host, origin_access_control_id=access.id,
            custom_origin_config=aws.cloudfront.DistributionOriginCustomOriginConfigArgs(
                http_port=80, https_port=443, origin_protocol_policy="https-only",
                origin_ssl_protocols=["TLSv1.2"]))],
        default_cache_behavior=_behavior(aws.cloudfront.DistributionDefaultCacheBehaviorArgs,
                                         page_policy),
        ordered_cache_behaviors=[_behavior(aws.cloudfront.DistributionOrderedCacheBehaviorArgs,
                                           data_policy, path_pattern="/leaderboard.json")],
        restrictions=aws.cloudfront.DistributionRestrictionsArgs(
            geo_restriction=aws.cloudfront.DistributionRestrictionsGeoRestrictionArgs(
                restriction_type="none")),
        viewer_certificate=aws.cloudfront.DistributionViewerCertificateArgs(
            cloudfront_default_certificate=True),
        opts=child_of(parent))
    # Only this distribution may call the function, through its URL.
    aws.lambda_.Permission(f"{event}-leaderboard-cdn-url", action="lambda:InvokeFunctionUrl",
                           function=function.name, principal="cloudfront.amazonaws.com",
                           source_arn=distribution.arn, function_url_auth_type="AWS_IAM",
                           opts=child_of(parent))
    aws.lambda_.Permission(f"{event}-leaderboard-cdn-invoke", action="lambda:InvokeFunction",
                           function=function.name, principal="cloudfront.amazonaws.com",
                           source_arn=distribution.arn, invoked_via_function_url=True,
                           opts=child_of(parent))
    return distribution
