"""What `pulumi up` declares for getting in: the portal (function, public URL, role, secret
directory, join links) and each event-account participant's console role, under the mock
engine. Includes the isolation proof over every policy the console roles get."""

from __future__ import annotations

import itertools
import json
import secrets

import pytest

from access.codes import code_hash
from components.console_access import DASHBOARD_METRIC_ACTIONS
from components.model_training import METRIC_ACTIONS
from components.portal import DIRECTORY_KEY, OWN_ACCOUNT_CONSOLE
from handlers import portal
from tests.kit import FUNCTION, OBJECT, PERMISSION, ROLE, ROLE_POLICY, arn_matches
from tools.mock_program import ACCOUNT, is_secret, reveal

OWN_ACCOUNT = "210987654321"
# ada is a prefix of ada-lovelace: the case isolation must not depend on.
ROSTER = [{"name": "Ada"}, {"name": "Ada Lovelace"}, {"name": "Grace Hopper"},
          {"name": "Owen Own", "email": "owen@example.com", "account": OWN_ACCOUNT}]
LOCAL = ["ada", "ada-lovelace", "grace-hopper"]
CODES = {pid: secrets.token_urlsafe(16) for pid in [*LOCAL, "owen-own"]}
CONFIG = {"joinCodes": json.dumps(CODES)}


def statements(resource) -> list[dict]:
    return json.loads(resource.inputs["policy"])["Statement"]


@pytest.fixture(scope="module")
def declared(tmp_path_factory):
    """One evaluation for the whole module: the program is slow to evaluate."""
    import yaml

    from tests.kit import DEFAULT_CONFIG
    from tools.mock_program import run_program
    from training.build import build_for_config

    roster = tmp_path_factory.mktemp("portal") / "participants.yaml"
    roster.write_text(yaml.safe_dump({"participants": ROSTER}), encoding="utf-8")
    config = {**DEFAULT_CONFIG, "roster": str(roster), **CONFIG,
              "notebookSessionSeconds": "7200", "consoleSessionSeconds": "5400",
              "portalReservedConcurrency": "7", "leaderboardMinSuccesses": "33"}
    build_for_config(config, say=lambda _: None)
    return run_program(config)


# --- the function and its public URL -------------------------------------------------------

def test_the_portal_function_runs_the_portal_handler_with_its_settings(declared):
    function = declared.named("aim368-portal", FUNCTION)
    assert function.inputs["handler"] == "handlers.portal.handler"
    assert (function.inputs["timeout"], function.inputs["memorySize"],
            function.inputs["reservedConcurrentExecutions"]) == (15, 512, 7)
    env = function.inputs["environment"]["variables"]
    settings = portal.Settings.read(env)
    assert settings.to_environment() == env  # written exactly as the contract formats it
    bucket = declared.named("aim368-portal", "aws:s3/bucket:Bucket")
    assert (settings.event, settings.directory_bucket, settings.directory_key,
            settings.table_name) == ("aim368", bucket.state["bucket"], DIRECTORY_KEY,
                                     "aim368-scores")
    assert (settings.notebook_session_seconds, settings.console_session_seconds) == (7200, 5400)
    # The same ranking as the leaderboard's, so the rank on the page is the big screen's.
    board = declared.named("aim368-leaderboard", FUNCTION).inputs["environment"]["variables"]
    ranking = settings.ranking()
    for field in ("window_minutes", "history_minutes", "min_successes",
                  "failing_error_rate", "reveal_private"):
        assert str(getattr(ranking, field)).lower() == board[field.upper()].lower(), field
    assert ranking.min_successes == 33


def test_the_url_is_public_with_exactly_the_two_permissions_a_public_url_needs(declared):
    url = declared.named("aim368-portal-url")
    assert url.inputs["authorizationType"] == "NONE"
    permissions = {p.name: p.inputs for p in declared.of_type(PERMISSION)
                   if p.name.startswith("aim368-portal-")}
    assert permissions == {
        "aim368-portal-public-url": {"action": "lambda:InvokeFunctionUrl",
                                     "function": "aim368-portal", "principal": "*",
                                     "functionUrlAuthType": "NONE"},
        "aim368-portal-public-invoke": {"action": "lambda:InvokeFunction",
                                        "function": "aim368-portal", "principal": "*",
                                        "invokedViaFunctionUrl": True}}
    assert declared.outputs["portal_url"] == url.state["functionUrl"]


# --- the portal's role ---------------------------------------------------------------------

THIS_EVENT = {"StringEquals": {"aws:ResourceTag/Event": "aim368"}}


def test_the_portal_role_reaches_the_event_accounts_participants_by_name_shape(declared):
    sagemaker = f"arn:aws:sagemaker:us-east-1:{ACCOUNT}"
    bucket = declared.named("aim368-portal", "aws:s3/bucket:Bucket").state["arn"]
    assert statements(declared.named("aim368-portal-policy", ROLE_POLICY)) == [
        {"Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
         "Resource": [f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/aws/lambda/aim368-portal:*"]},
        {"Effect": "Allow", "Action": ["s3:GetObject"],
         "Resource": [f"{bucket}/{DIRECTORY_KEY}"]},
        {"Effect": "Allow", "Action": ["dynamodb:Query"],
         "Resource": [declared.named("aim368-scores").state["arn"]]},
        {"Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": ["arn:aws:s3:::aim368-*-samples-*"],
         "Condition": {"StringLike": {"s3:prefix": ["samples/*"]},
                       "StringEquals": {"aws:ResourceAccount": ACCOUNT}}},
        {"Effect": "Allow", "Action": ["sagemaker:DescribeNotebookInstance",
                                       "sagemaker:StartNotebookInstance",
                                       "sagemaker:CreatePresignedNotebookInstanceUrl"],
         "Resource": [f"{sagemaker}:notebook-instance/aim368-*-notebook"], "Condition": THIS_EVENT},
        {"Effect": "Allow", "Action": ["sagemaker:DescribeEndpoint"],
         "Resource": [f"{sagemaker}:endpoint/aim368-*-endpoint"], "Condition": THIS_EVENT},
        {"Effect": "Allow", "Action": ["sagemaker:DescribeEndpointConfig"],
         "Resource": [f"{sagemaker}:endpoint-config/aim368-*--*"], "Condition": THIS_EVENT},
        {"Effect": "Allow", "Action": ["sts:AssumeRole"],
         "Resource": [f"arn:aws:iam::{ACCOUNT}:role/aim368-*-console"], "Condition": THIS_EVENT},
    ]


def test_the_portal_roles_shapes_match_every_local_participants_resources_and_no_shared_one(declared):
    """The shapes above reach what the portal serves (each event-account participant's
    notebook, endpoint, configurations, sample bucket, console role) and none of the
    event's shared resources, whatever the ids."""
    granted = [r for s in statements(declared.named("aim368-portal-policy", ROLE_POLICY))[3:]
               for r in s["Resource"]]
    def matches(arn: str) -> bool:
        return any(arn_matches(pattern, arn) for pattern in granted)

    sagemaker = f"arn:aws:sagemaker:us-east-1:{ACCOUNT}"
    for p in LOCAL:
        assert matches(declared.named(f"aim368-{p}-samples", "aws:s3/bucket:Bucket").state["arn"])
        assert matches(f"{sagemaker}:notebook-instance/aim368-{p}-notebook")
        assert matches(f"{sagemaker}:endpoint/aim368-{p}-endpoint")
        assert matches(f"{sagemaker}:endpoint-config/aim368-{p}--config-1234567")
        assert matches(declared.named(f"aim368-{p}-console", ROLE).state["arn"])
        # The tag conditions find what they ask for on each declared resource.
        for name in (f"aim368-{p}-notebook", f"aim368-{p}-endpoint", f"aim368-{p}-console"):
            resource = declared.named(name)
            provider = next(r for r in declared.resources if r.urn == resource.provider_urn)
            tags = {**json.loads(provider.inputs.get("defaultTags") or "{}").get("tags", {}),
                    **(resource.inputs.get("tags") or {})}  # what AWS would store on it
            assert tags.get("Event") == "aim368", (name, tags)
    shared = [r.state["arn"] for r in declared.resources if isinstance(r.state.get("arn"), str)
              and not any(f"aim368-{p}-" in r.state["arn"] for p in [*LOCAL, "owen-own"])]
    assert shared and [arn for arn in shared if matches(arn)] == []


# --- the directory and the join links ------------------------------------------------------

def test_the_directory_is_a_secret_the_portal_accepts_keyed_by_code_hashes(declared):
    directory = declared.named("aim368-portal-directory", OBJECT)
    assert directory.inputs["key"] == DIRECTORY_KEY
    assert is_secret(directory.inputs["content"])
    document = json.loads(reveal(directory.inputs["content"]))
    assert portal.directory_problems(document) == []
    records = document["participants"]
    assert set(records) == {code_hash(code) for code in CODES.values()}
    ada = records[code_hash(CODES["ada"])]
    assert ada == {
        "id": "ada", "name": "Ada", "region": "us-east-1",
        "notebook": "aim368-ada-notebook", "endpoint": "aim368-ada-endpoint",
        "bucket": declared.named("aim368-ada-samples", "aws:s3/bucket:Bucket").state["bucket"],
        "inference_url": declared.outputs["participants"]["ada"]["inference_url"],
        "console_role_arn": f"arn:aws:iam::{ACCOUNT}:role/aim368-ada-console",
        "leaderboard_url": declared.outputs["leaderboard_url"]}
    own = records[code_hash(CODES["owen-own"])]
    assert (own["account"], own["console_role_arn"]) == (OWN_ACCOUNT, OWN_ACCOUNT_CONSOLE)


def test_join_links_are_a_secret_output_of_the_portal_url_and_each_code(declared):
    links = declared.outputs["joinLinks"]
    assert is_secret(links)
    url = declared.outputs["portal_url"].rstrip("/")
    assert reveal(links) == [
        {"id": "ada", "name": "Ada", "link": f"{url}/p/{CODES['ada']}"},
        {"id": "ada-lovelace", "name": "Ada Lovelace", "link": f"{url}/p/{CODES['ada-lovelace']}"},
        {"id": "grace-hopper", "name": "Grace Hopper", "link": f"{url}/p/{CODES['grace-hopper']}"},
        {"id": "owen-own", "name": "Owen Own", "email": "owen@example.com",
         "link": f"{url}/p/{CODES['owen-own']}"}]


def test_no_code_appears_anywhere_in_plain_text(declared):
    def plain(value):
        """Every plain string in a value, secrets left out."""
        if is_secret(value):
            return
        if isinstance(value, dict):
            for item in value.values():
                yield from plain(item)
        elif isinstance(value, list):
            for item in value:
                yield from plain(item)
        else:
            yield str(value)

    texts = [t for r in declared.resources for v in (r.inputs, r.state) for t in plain(v)]
    texts += list(plain(declared.outputs))
    assert [pid for pid, code in CODES.items() if any(code in t for t in texts)] == []


def test_a_missing_or_malformed_code_fails_the_program_listing_every_problem(program):
    codes = {"ada-lovelace": "short", "nobody": secrets.token_urlsafe(16)}
    with pytest.raises(Exception) as caught:
        program([{"name": "Ada Lovelace"}, {"name": "Grace Hopper"}],
                joinCodes=json.dumps(codes))
    message = str(caught.value)
    assert "participant 'grace-hopper' has no join code" in message
    assert "join code for 'nobody' is not in the roster" in message
    assert "join code for 'ada-lovelace' is not 22-128 URL-safe characters" in message
    assert "short" not in message and codes["nobody"] not in message


# --- the console roles ---------------------------------------------------------------------

def test_only_the_portal_role_may_assume_a_console_role_and_only_as_that_participant(declared):
    portal_role = declared.named("aim368-portal-role", ROLE).state["arn"]
    for pid in LOCAL:
        role = declared.named(f"aim368-{pid}-console", ROLE)
        assert json.loads(role.inputs["assumeRolePolicy"])["Statement"] == [{
            "Effect": "Allow", "Principal": {"AWS": portal_role}, "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"sts:RoleSessionName": pid}}}]
        assert role.inputs["maxSessionDuration"] == 5400
    assert not [r for r in declared.of_type(ROLE) if r.name == "aim368-owen-own-console"]


def test_a_console_role_has_the_sagemaker_roles_permissions_plus_read_only_views(declared):
    region_account = f"us-east-1:{ACCOUNT}"
    api = declared.named("aim368-liveinference-01", "aws:apigateway/restApi:RestApi")
    for pid in LOCAL:
        console = statements(declared.named(f"aim368-{pid}-console-policy", ROLE_POLICY))
        sagemaker = statements(declared.named(f"aim368-{pid}-sagemaker-policy", ROLE_POLICY))
        assert console[:len(sagemaker)] == sagemaker
        bucket = declared.named(f"aim368-{pid}-samples", "aws:s3/bucket:Bucket").state["arn"]
        assert console[len(sagemaker):] == [
            {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": [f"{bucket}/*"]},
            {"Effect": "Allow", "Action": ["s3:ListBucket", "s3:GetBucketLocation"],
             "Resource": [bucket]},
            {"Effect": "Allow", "Action": ["firehose:DescribeDeliveryStream"],
             "Resource": [f"arn:aws:firehose:{region_account}:deliverystream/aim368-{pid}-samples"]},
            {"Effect": "Allow",
             "Action": ["logs:DescribeLogStreams", "logs:GetLogEvents", "logs:FilterLogEvents"],
             "Resource": [f"arn:aws:logs:{region_account}:log-group:/aws/lambda/aim368-{pid}-{f}:*"
                          for f in ("collect", "inference")]},
            {"Effect": "Allow", "Action": ["sagemaker:DescribeEndpoint"],
             "Resource": [f"arn:aws:sagemaker:{region_account}:endpoint/aim368-{pid}-endpoint"]},
            {"Effect": "Allow", "Action": ["sagemaker:DescribeNotebookInstance",
                                           "sagemaker:StartNotebookInstance",
                                           "sagemaker:CreatePresignedNotebookInstanceUrl"],
             "Resource": [(f"arn:aws:sagemaker:{region_account}:notebook-instance/"
                          f"aim368-{pid}-notebook")]},
            {"Effect": "Allow", "Action": ["cloudwatch:GetDashboard"],
             "Resource": [f"arn:aws:cloudwatch::{ACCOUNT}:dashboard/aim368-live-inference"]},
            {"Effect": "Allow", "Action": ["cloudwatch:GetMetricData"], "Resource": ["*"]},
            {"Effect": "Allow", "Action": ["execute-api:Invoke"],
             "Resource": [f"{api.state['executionArn']}/{pid}/*"]},
        ]
        # A List* on "*" (ListNotebookInstances, ListBuckets, ...) would show everyone's names.
        assert [a for s in console if "*" in s["Resource"] for a in s["Action"]
                if a.split(":")[1].startswith("List")] == []


# --- isolation, proved over the declared policies --------------------------------------------

# Actions IAM can only grant on "*" (no resource-level permissions), each read-only or
# confined by a condition; every other statement must name resources.
ANY_RESOURCE_ACTIONS = set(METRIC_ACTIONS) | set(DASHBOARD_METRIC_ACTIONS)
# What a "*" in a participant's own pattern stands for when we build examples of their
# resources: nothing, a suffix, a training job's SDK-made name, an object key, a log stream.
FILLERS = ["", "x", "-xgb-20261126103000", "samples/year=2026/part-0", "log-stream:x"]


def console_policies(declared) -> dict[str, list[dict]]:
    return {pid: statements(declared.named(f"aim368-{pid}-console-policy", ROLE_POLICY))
            for pid in LOCAL}


def patterns(policy: list[dict]) -> list[str]:
    return [r for s in policy for r in s["Resource"] if r != "*"]


def resources_of(pid: str, policy: list[dict], declared) -> set[str]:
    """Examples of a participant's resources: their declared ARNs, and each of their own
    patterns with every wildcard filled in."""
    examples = {r.state["arn"] for r in declared.owned_by(pid) if "arn" in r.state}
    for pattern in patterns(policy):
        for filler in FILLERS:
            examples.add(pattern.replace("*", filler).replace("?", "x"))
    return examples


def shared_resources(declared) -> set[str]:
    """Examples of the event's own resources: declared through the event's provider (which
    participants in the event's account share, one provider per account) and no one's."""
    provider = declared.named("aim368-aws").urn
    return {arn + suffix for r in declared.resources if r.provider_urn == provider
            and declared.participant_of(r) is None
            and "arn" in r.state for arn in [r.state["arn"]] for suffix in ("", "/x")}


def crossings(policies: dict[str, list[dict]], declared) -> list[str]:
    examples = {pid: resources_of(pid, policy, declared) for pid, policy in policies.items()}
    found = []
    for mine, theirs in itertools.permutations(policies, 2):
        for pattern in patterns(policies[mine]):
            # Their example may be one that the pattern was itself filled from only if it is
            # also theirs in the first place; a shared ARN both may read is not a crossing.
            for arn in sorted(examples[theirs] - examples[mine]):
                if arn_matches(pattern, arn):
                    found.append(f"{mine}'s {pattern} covers {theirs}'s {arn}")
    return found


def test_the_matcher_reads_iam_wildcards():
    assert arn_matches("arn:aws:s3:::b-*", "arn:aws:s3:::b-1/x/y")
    assert arn_matches("arn:aws:iam::1:role/a?c", "arn:aws:iam::1:role/abc")
    assert not arn_matches("arn:aws:iam::1:role/a?c", "arn:aws:iam::1:role/ac")
    assert not arn_matches("log-group:/aws/lambda/e-ada-collect:*",
                           "log-group:/aws/lambda/e-ada-lovelace-collect:log-stream:x")
    assert arn_matches("training-job/e-ada-*", "training-job/e-ada-lovelace-xgb-1")


def test_the_isolation_check_catches_a_prefix_pattern():
    """The check itself: `ada-*` is exactly the mistake it must find."""
    policies = {"ada": [{"Action": ["s3:GetObject"], "Resource": ["arn:aws:s3:::e-ada-*"]}],
                "ada-lovelace": [{"Action": ["s3:GetObject"],
                                  "Resource": ["arn:aws:s3:::e-ada-lovelace-samples/*"]}]}

    class Nothing:
        def owned_by(self, pid):
            return []

    assert crossings(policies, Nothing()) == [
        "ada's arn:aws:s3:::e-ada-* covers ada-lovelace's arn:aws:s3:::e-ada-lovelace-samples/"
        + suffix for suffix in sorted(f.replace("*", "") for f in FILLERS)]


def test_console_views_of_one_participant_never_cover_anothers_resources(declared):
    """The statements this role adds to the SageMaker role's (ada vs ada-lovelace included)."""
    views = {pid: policy[len(statements(declared.named(f"aim368-{pid}-sagemaker-policy",
                                                       ROLE_POLICY))):]
             for pid, policy in console_policies(declared).items()}
    assert crossings(views, declared) == []


# CloudWatch Logs scopes CreateLogStream and DescribeLogStreams to a log group, not a stream,
# and SageMaker writes every training job's and notebook's streams into the account's shared
# /aws/sagemaker/TrainingJobs and /aws/sagemaker/NotebookInstances groups: a role may list
# (never read or write) other participants' stream names there. Nothing else may cross.
SHARED_SAGEMAKER_LOG_GROUPS = ("log-group:/aws/sagemaker/TrainingJobs:*",
                               "log-group:/aws/sagemaker/NotebookInstances:*")


def test_no_console_role_policy_covers_another_participants_resources(declared):
    """Every statement every console role gets, ada vs ada-lovelace included."""
    found = crossings(console_policies(declared), declared)
    beyond_logs = [c for c in found
                   if not any(f"{group} covers" in c for group in SHARED_SAGEMAKER_LOG_GROUPS)]
    assert beyond_logs == []
    assert found, "the shared SageMaker log groups' listing is the one known crossing"


def test_console_roles_grant_any_resource_only_for_actions_iam_cannot_scope(declared):
    for pid, policy in console_policies(declared).items():
        unscoped = {a for s in policy if "*" in s["Resource"] for a in s["Action"]}
        assert unscoped <= ANY_RESOURCE_ACTIONS, pid


def test_console_roles_change_nothing_shared(declared):
    shared = shared_resources(declared)
    read_only = ("Describe", "Get", "List", "Filter")
    for pid, policy in console_policies(declared).items():
        for statement in policy:
            writes = [a for a in statement["Action"] if not a.split(":")[1].startswith(read_only)]
            for pattern in (r for r in statement["Resource"] if r != "*"):
                touched = [arn for arn in shared if arn_matches(pattern, arn)]
                assert not (writes and touched), f"{pid}: {writes} on {touched}"
