"""What `pulumi up` declares for the leaderboard: the function behind CloudFront with origin
access control, the reveal switch the organizer flips, and nothing more than they need."""

import json

from components import leaderboard_front
from handlers import leaderboard
from tests.kit import FUNCTION, roster

DISTRIBUTION = "aws:cloudfront/distribution:Distribution"
TABLE = "aws:dynamodb/table:Table"
CACHE_POLICY = "aws:cloudfront/cachePolicy:CachePolicy"


def test_the_function_reads_the_tables_and_exactly_the_reveal_parameter(program):
    declared = program(roster(2), leaderboardMinSuccesses=30, revealPrivate="true")
    function = declared.named("aim368-leaderboard", FUNCTION)
    env = function.inputs["environment"]["variables"]
    settings = leaderboard.Settings.from_environment(env)
    assert settings.to_environment() == env
    assert (settings.min_successes, settings.reveal_private, settings.window_minutes) == (30, True, 5)
    assert settings.reveal_parameter == "/aim368/leaderboard/reveal"
    assert settings.retraining_table == "aim368-retraining"  # the "retrained" markers
    statements = json.loads(declared.named("aim368-leaderboard-policy").inputs["policy"])["Statement"]
    grants = {s["Action"][0]: s["Resource"] for s in statements
              if not s["Action"][0].startswith("logs:")}
    parameter = declared.named("aim368-leaderboard-reveal")
    assert grants == {"dynamodb:Query": [declared.named("aim368-scores").state["arn"]],
                      "ssm:GetParameter": [parameter.state["arn"]],
                      # the retraining table: only the summary items' marker attributes
                      "dynamodb:BatchGetItem": [
                          declared.named("aim368-retraining", TABLE).state["arn"]]}
    assert all(len(s["Action"]) == 1 for s in statements
               if not s["Action"][0].startswith("logs:"))
    conditions = {s["Action"][0]: s.get("Condition") for s in statements
                  if not s["Action"][0].startswith("logs:")}
    assert conditions == {"dynamodb:Query": None, "ssm:GetParameter": None,
                          "dynamodb:BatchGetItem": {
                              "ForAllValues:StringEquals": {"dynamodb:Attributes": [
                                  "participant", "record", *leaderboard.SUMMARY_FIELDS]},
                              "StringEqualsIfExists": {"dynamodb:Select": "SPECIFIC_ATTRIBUTES"}}}
    assert function.inputs["reservedConcurrentExecutions"] == 10


def test_the_reveal_switch_starts_from_the_config_and_survives_updates(program):
    for configured, value in (("true", "true"), ("false", "false")):
        parameter = program(roster(1), revealPrivate=configured).named("aim368-leaderboard-reveal")
        stored = parameter.inputs["value"]  # the provider marks a parameter's value secret
        stored = stored.get("value") if isinstance(stored, dict) else stored
        assert (parameter.inputs["name"], parameter.inputs["type"], stored) == (
            "/aim368/leaderboard/reveal", "String", value)
        assert parameter.ignore_changes == ["value"]


def test_only_the_cdn_may_call_the_function_url(program):
    declared = program(roster(2))
    url = declared.named("aim368-leaderboard-url")
    assert url.inputs["authorizationType"] == "AWS_IAM"
    distribution = declared.named("aim368-leaderboard-cdn")
    for name, action, extra in (("aim368-leaderboard-cdn-url", "lambda:InvokeFunctionUrl",
                                 ("functionUrlAuthType", "AWS_IAM")),
                                ("aim368-leaderboard-cdn-invoke", "lambda:InvokeFunction",
                                 ("invokedViaFunctionUrl", True))):
        permission = declared.named(name).inputs
        assert (permission["action"], permission["principal"], permission["sourceArn"]) == (
            action, "cloudfront.amazonaws.com", distribution.state["arn"])
        assert permission[extra[0]] == extra[1]
    permissions = [r for r in declared.of_type("aws:lambda/permission:Permission")
                   if "leaderboard" in r.name]
    assert all(p.inputs["principal"] != "*" for p in permissions)  # nothing public any more
    [origin] = distribution.inputs["origins"]
    access = declared.named("aim368-leaderboard-oac")
    assert origin["originAccessControlId"] == access.id
    assert (access.inputs["originAccessControlOriginType"], access.inputs["signingBehavior"],
            access.inputs["signingProtocol"]) == ("lambda", "always", "sigv4")
    assert origin["domainName"] == url.state["functionUrl"].removeprefix("https://").rstrip("/")


def test_the_cdn_caches_a_few_seconds_keyed_by_the_pages_query_strings(program):
    declared = program(roster(2))
    distribution = declared.named("aim368-leaderboard-cdn").inputs
    policies = {p.id: p.inputs for p in declared.of_type(CACHE_POLICY)}
    page = policies[distribution["defaultCacheBehavior"]["cachePolicyId"]]
    [data_behavior] = distribution["orderedCacheBehaviors"]
    data = policies[data_behavior["cachePolicyId"]]
    assert data_behavior["pathPattern"] == "/leaderboard.json"
    for policy in (page, data):
        assert (policy["minTtl"], policy["defaultTtl"], policy["maxTtl"]) == (1, 5, 10)
        keyed = policy["parametersInCacheKeyAndForwardedToOrigin"]
        assert keyed["headersConfig"]["headerBehavior"] == "none"  # never the Host header
        assert keyed["cookiesConfig"]["cookieBehavior"] == "none"
    assert page["parametersInCacheKeyAndForwardedToOrigin"]["queryStringsConfig"] == {
        "queryStringBehavior": "whitelist", "queryStrings": {"items": ["me", "view"]}}
    assert data["parametersInCacheKeyAndForwardedToOrigin"]["queryStringsConfig"] == {
        "queryStringBehavior": "none"}
    for behavior in (distribution["defaultCacheBehavior"], data_behavior):
        assert behavior["allowedMethods"] == ["GET", "HEAD"]
        assert behavior["viewerProtocolPolicy"] == "redirect-to-https"


def test_the_cache_key_is_what_the_handler_reads():
    event = {"rawQueryString": "me=ada&view=list&utm=x"}
    assert leaderboard.view_of(event) == ("list", "ada")
    assert set(leaderboard_front.PAGE_QUERY_STRINGS) == {"me", "view"}
    assert leaderboard.Settings.result_ttl_seconds == leaderboard_front.CACHE_TTL_SECONDS


def test_the_leaderboard_url_is_the_distributions(program):
    declared = program(roster(2))
    domain = declared.named("aim368-leaderboard-cdn").state["domainName"]
    assert declared.outputs["leaderboard_url"] == f"https://{domain}/"


def test_only_the_leaderboard_reads_the_whole_retraining_table(program):
    """Across every declared policy: the retraining table is written only through each
    participant's own items (LeadingKeys), and read across participants only by the
    leaderboard's BatchGetItem of the summaries' marker attributes (no Scan anywhere)."""
    declared = program(roster(2))
    table = declared.named("aim368-retraining", TABLE).state["arn"]
    table_wide = []
    for policy in declared.of_type("aws:iam/rolePolicy:RolePolicy"):
        for statement in json.loads(policy.inputs["policy"])["Statement"]:
            if table in statement["Resource"] and "dynamodb:LeadingKeys" not in json.dumps(
                    statement.get("Condition", {})):
                table_wide.append((policy.name, statement["Action"]))
    assert table_wide == [("aim368-leaderboard-policy", ["dynamodb:BatchGetItem"])]
