"""The local rehearsal: a short event end to end, and wiring mistakes caught."""

import io
import json
import re
import shutil

import pytest

from rehearsal.run import Progress, load_settings, rehearse
from rehearsal.world import WiringError
from tools.mock_program import PROGRAM


@pytest.fixture
def settings():
    settings = load_settings(traffic_runs=2, run_seconds=6, drift_from_run=1)
    settings.participants[2].fault = "garbage-endpoint"
    return settings


def test_a_short_event_runs_end_to_end(settings, tmp_path):
    terminal = io.StringIO()
    assert rehearse(settings, tmp_path, progress=Progress(terminal)) == 0
    summary = (tmp_path / "summary.txt").read_text()
    assert "samples lost in total: 0" in summary
    board = json.loads((tmp_path / "leaderboard.json").read_text())
    rows = {r["participant"]: r for r in board["rows"]}
    assert rows["ada-lovelace"]["rank"] is not None and rows["grace-hopper"]["rank"] is not None
    assert rows["ada-lovelace"]["status"] == rows["grace-hopper"]["status"] == "healthy"
    faulty = rows["alan-turing"]
    assert (faulty["rank"], faulty["status"]) == (None, "failing")
    assert faulty["requests"] == 2 * 6 * settings.requests_per_second
    summary_row = _traffic_row(summary, "alan-turing")  # wrong answers are never the machine's
    assert summary_row.split()[-1] == "failing" or "failing (" in summary_row
    html = (tmp_path / "leaderboard.html").read_text()
    assert "Ada Lovelace" in html and "Alan Turing" in html
    assert (tmp_path / "dashboard.png").read_bytes()[:4] == b"\x89PNG"
    shown = terminal.getvalue()
    for phase in ("== declare", "== provision", "== collect", "== train and deploy",
                  "== traffic", "== portal", "== report"):
        assert phase in shown
    assert "run 2/2 (drifted FC)" in shown and "requests/s" in shown
    # Every participant got in with nothing but the link on their card.
    entries = json.loads((tmp_path / "portal.json").read_text())
    assert [e["participant"] for e in entries] == ["ada-lovelace", "grace-hopper", "alan-turing"]
    assert all(e["page"] and e["notebook"] and e["console"] and e["status"] for e in entries)
    assert "3/3 participants entered through their join links" in shown
    assert (tmp_path / "handouts.html").exists() and (tmp_path / "handouts.csv").exists()


def test_a_wiring_mistake_in_the_program_is_reported(settings, tmp_path):
    broken = tmp_path / "__main__.py"
    source = PROGRAM.read_text()
    assert "sample_topic_arn=feed.topic_arn" in source
    broken.write_text(source.replace("sample_topic_arn=feed.topic_arn",
                                     "sample_topic_arn=feed.undelivered_queue_arn"))
    shutil.copy(PROGRAM.parent / "participants.yaml", tmp_path / "participants.yaml")
    # The mistake is in single-stack wiring; participant stacks read the topic from the
    # event stack's outputs instead.
    settings.topology = "single"
    with pytest.raises(WiringError) as caught:
        rehearse(settings, tmp_path / "out", program_path=broken)
    assert any("which is not a declared topic" in p for p in caught.value.problems)
    assert len(caught.value.problems) == len(settings.participants)


def test_a_participant_who_never_deploys_and_a_slow_endpoint_leave_the_others_alone(tmp_path):
    settings = load_settings(traffic_runs=1, run_seconds=4, drift_from_run=None)
    settings.min_successes = 5
    settings.participants[1].fault = "slow-endpoint"
    settings.participants[2].fault = "never-deploys"
    assert rehearse(settings, tmp_path, progress=Progress(io.StringIO())) == 0
    rows = {r["participant"]: r for r in
            json.loads((tmp_path / "leaderboard.json").read_text())["rows"]}
    assert rows["ada-lovelace"]["rank"] == 1 and rows["ada-lovelace"]["error_rate"] == 0
    assert rows["grace-hopper"]["status"] == rows["alan-turing"]["status"] == "failing"
    summary = (tmp_path / "summary.txt").read_text()
    slow = next(line for line in summary.splitlines() if line.startswith("  grace-hopper") and
                "requests" not in line and "offline" not in line and "published" not in line)
    never = next(line for line in summary.splitlines() if line.startswith("  alan-turing") and
                 "offline" not in line and "published" not in line)
    assert slow.split()[1:7] == ["20", "0", "0", "0", "20", "0"]  # all timeouts
    assert never.split()[1:7] == ["20", "0", "0", "20", "0", "0"]  # "not deployed yet": 5xx
    # The final phase, as `fleet destroy`: every notebook left a running job, its model,
    # configuration and log stream (ada's loop also her Lab 2 job, model and configuration);
    # the sweep removes them, destroy the declared resources, and the audit finds nothing
    # billable (finished jobs stay listed, free; ada's served model outlives the sweep).
    teardown = summary.split("Teardown (as `fleet destroy`)")[1].split("\n\n")[0]
    assert "participants' own before the sweep: 15 (6 billable): 3 logs:log-stream, " \
           "4 sagemaker:endpoint-config, 4 sagemaker:model, 4 sagemaker:training-job" in teardown
    assert "removed or stopped by the sweep: 12 in 3 sweeps" in teardown
    assert "audit: nothing billable left (6 free leftovers" in teardown
    assert "BILLABLE" not in teardown and "skipped" not in teardown


def _traffic_row(summary: str, participant: str) -> str:
    section = summary.split("Traffic (Lab 3")[1].split("\n\n")[0]
    return next(line for line in section.splitlines() if line.startswith(f"  {participant} "))


def test_a_saturated_machine_is_reported_and_its_timeouts_blamed_on_nobody(tmp_path):
    """Every model call waits 2.5 s for the machine, beyond the edge's 2 s timeout."""
    settings = load_settings(traffic_runs=1, run_seconds=3, drift_from_run=None)
    terminal = io.StringIO()
    assert rehearse(settings, tmp_path, progress=Progress(terminal), machine_overhead_s=2.5) == 0
    summary = (tmp_path / "summary.txt").read_text()
    assert "SATURATED in run 1 of 1" in summary
    assert "the inference handlers waited beyond the models' time" in summary
    assert "SATURATED: this machine did not keep up" in terminal.getvalue()
    board = json.loads((tmp_path / "leaderboard.json").read_text())
    assert {r["status"] for r in board["rows"]} == {"failing"}  # what the event's board shows
    for participant in ("ada-lovelace", "grace-hopper", "alan-turing"):
        row = _traffic_row(summary, participant)
        assert "not judged" in row and "errors were the machine's" in row, row
    final = summary.split("Final leaderboard")[1].split("\n\n")[0]
    assert "failing (" not in final.replace("says failing", "")
    assert final.count("this machine's: it was saturated") == 3
def test_the_local_front_throttles_each_caller_of_a_stage_on_its_own():
    from tools.local_api import Throttle, caller_of
    now = [0.0]
    throttle = Throttle({"ada": (2.0, 3)}, clock=lambda: now[0])
    assert [throttle.admit("ada", "anonymous") for _ in range(5)] == [True] * 3 + [False] * 2
    assert throttle.admit("ada", "iam:AKIDEDGE")  # the edge's own bucket
    assert throttle.admit("bob", "anonymous")  # no declared throttle: no limit
    now[0] = 1.0
    assert [throttle.admit("ada", "anonymous") for _ in range(3)] == [True, True, False]
    signed = {"Authorization": "AWS4-HMAC-SHA256 Credential=AKIDEDGE/20261126/us-east-1/"
                               "execute-api/aws4_request, SignedHeaders=host, Signature=ab"}
    assert (caller_of(signed), caller_of({"x-api-key": "k"}), caller_of({})) == (
        "iam:AKIDEDGE", "key:k", "anonymous")


def test_a_leftover_the_sweep_missed_fails_the_final_audit(tmp_path):
    """grace-hopper is not swept: her running job and its log stream survive the destroy."""
    settings = load_settings(traffic_runs=1, run_seconds=2, drift_from_run=None)
    settings.min_successes = 2
    terminal = io.StringIO()
    assert rehearse(settings, tmp_path, progress=Progress(terminal), unswept={"grace-hopper"}) == 1
    summary = (tmp_path / "summary.txt").read_text()
    teardown = summary.split("Teardown (as `fleet destroy`)")[1].split("\n\n")[0]
    assert "sweep skipped for: grace-hopper" in teardown
    assert "removed or stopped by the sweep: 8 in 2 sweeps" in teardown
    billable = [line.strip() for line in teardown.splitlines() if "BILLABLE" in line]
    assert len(billable) == 2 and "audit: " in teardown and "2 billable: FAILED" in teardown
    assert billable[0].startswith("BILLABLE logs:log-stream /aws/sagemaker/TrainingJobs:"
                                  "rehearsal-grace-hopper--xgb-")
    assert billable[1].startswith("BILLABLE sagemaker:training-job rehearsal-grace-hopper--xgb-")
    assert "FAILED: the audit found 2 billable leftovers after the teardown" in terminal.getvalue()


def test_losses_and_duplicates_are_counted_apart_by_sample_identity():
    from rehearsal.delivery import Account, account
    published = {"a", "b", "c"}
    assert account(published, ["a", "b", "c"]) == Account(lost=0, duplicated=0)
    assert account(published, ["a", "b", "b"]) == Account(lost=1, duplicated=1)  # not "0 lost"
    assert account(published, ["a", "a", "a", "b", "c"]) == Account(lost=0, duplicated=2)


def test_an_attack_that_costs_anyone_else_fails_the_verdicts():
    from handlers import scoring
    from rehearsal.faults import FloodCount, verdicts
    clean, attacked, answered = scoring.empty(), scoring.empty(), scoring.empty()
    for _ in range(3):
        scoring.record(clean, 10, "ok", 1.0)
        scoring.record(attacked, 2000, "timeout")
        scoring.record(answered, 10, "ok", 1.0)  # huge-answer's answers taken as valid
    faults = {"ada": "flood-rival", "bob": None, "eve": "huge-answer"}
    total = {"ada": clean, "bob": attacked, "eve": answered}
    floods = {"ada": FloodCount("bob", sent=10, refused=7, admitted=3)}
    judged = verdicts(faults, total, floods, 2000.0, saturated=False)
    assert judged.failures == ["ada's flood of bob was not refused",
                               "bob had 3 errors without a fault of their own",
                               "eve's huge-answer was not handled as designed"]
    assert "3 errors in 3 requests (AFFECTED, flooded by ada)" in judged.lines[1]
    # On a saturated machine a bystander's errors are the machine's, not judged.
    assert "bob had 3 errors" not in " ".join(
        verdicts(faults, total, floods, 2000.0, saturated=True).failures)


def _with_fourth(settings, name):
    import copy
    extra = copy.deepcopy(settings.participants[0])
    extra.name, extra.retraining = name, None
    settings.participants.append(extra)


def _attacks(summary: str) -> dict[str, str]:
    section = summary.split("Attacks: the attacker handled as designed")[1].split("\n\n")[0]
    return {line.split()[0]: line for line in section.splitlines()[1:]}


def test_attackers_cost_only_themselves(tmp_path):
    """flood-rival, huge-answer and slow-drip in one short event of four."""
    settings = load_settings(traffic_runs=1, run_seconds=3, drift_from_run=None)
    settings.min_successes = 3
    _with_fourth(settings, "Edsger Dijkstra")
    for person, fault in zip(settings.participants,
                             ("flood-rival", None, "huge-answer", "slow-drip")):
        person.fault = fault
    assert rehearse(settings, tmp_path, progress=Progress(io.StringIO())) == 0
    summary = (tmp_path / "summary.txt").read_text()
    n = 3 * settings.requests_per_second
    lines = _attacks(summary)
    assert f"huge-answer: {n} of {n} requests scored bad_answer (as designed)" \
        in lines["alan-turing"]
    assert f"slow-drip: {n} of {n} requests scored timeout, slowest " \
        in lines["edsger-dijkstra"] and "(as designed)" in lines["edsger-dijkstra"]
    flooder = lines["ada-lovelace"]
    assert "flood requests to grace-hopper's stage refused (403, not authorized)" in flooder
    refused, sent = flooder.split("flood-rival: ")[1].split(" flood requests")[0].split(" of ")
    assert refused == sent and int(sent) > 0
    assert flooder.endswith(f"own traffic 0 errors in {n} requests (unaffected)")
    assert lines["grace-hopper"].endswith(
        f"0 errors in {n} requests (unaffected, flooded by ada-lovelace)")
    assert "samples lost in total: 0; duplicated in total: 0" in summary


def test_a_redirect_is_not_followed_and_costs_only_its_stage(tmp_path):
    settings = load_settings(traffic_runs=1, run_seconds=2, drift_from_run=None)
    settings.min_successes = 2
    settings.participants[2].fault = "redirect"  # alan-turing, to ada-lovelace's stage
    assert rehearse(settings, tmp_path, progress=Progress(io.StringIO())) == 0
    lines = _attacks((tmp_path / "summary.txt").read_text())
    n = 2 * settings.requests_per_second
    assert f"redirect: {n} of {n} requests scored bad_answer (as designed)" \
        in lines["alan-turing"]
    assert lines["ada-lovelace"].endswith(f"0 errors in {n} requests (unaffected)")
    assert lines["grace-hopper"].endswith(f"0 errors in {n} requests (unaffected)")


def test_the_front_authorizes_stages_like_aws_iam():
    from rehearsal.serving import iam_authorizer

    def signed(key):
        return {"Authorization": f"AWS4-HMAC-SHA256 Credential={key}/20261127/us-east-1/"
                                 "execute-api/aws4_request, SignedHeaders=host, Signature=ab"}
    authorize = iam_authorizer({"grace": {"EDGE", "REHEARSAL-grace"}})
    assert authorize("grace", signed("EDGE")) is None
    assert authorize("grace", signed("REHEARSAL-grace")) is None
    assert authorize("grace", {}) == "Missing Authentication Token"
    assert "REHEARSAL-ada is not authorized" in authorize("grace", signed("REHEARSAL-ada"))
    assert authorize("unknown", signed("EDGE")) is not None


def test_rows_never_published_are_counted_apart_from_losses():
    from rehearsal.delivery import Account, account
    assert account({"a", "b"}, ["a", "b", "x", "x"]) == Account(lost=0, duplicated=1,
                                                               unpublished=2)


class _AcceptingSns:
    """SNS accepting every entry, and keeping what it was handed."""

    def __init__(self):
        self.messages = []

    def publish_batch(self, TopicArn, PublishBatchRequestEntries):
        self.messages += [e["Message"] for e in PublishBatchRequestEntries]
        return {"Successful": [{"Id": e["Id"]} for e in PublishBatchRequestEntries],
                "Failed": []}


def _publish(client):
    from handlers import publish_samples
    settings = publish_samples.Settings(sample_topic_arn="arn:aws:sns:us-east-1:1:fc",
                                        samples_per_second=20, period_seconds=2, feed_seed=7)
    summary = publish_samples.handle({"time": "2026-11-27T10:00:00Z"}, settings, client=client,
                                     clock=lambda: 0.0, sleep=lambda _: None)
    return summary, settings.samples_per_second * settings.period_seconds


def test_a_publisher_that_hands_sns_everything_it_reports_passes():
    from handlers import fc_samples
    from rehearsal.delivery import Sent, publishing_problems
    sns = _AcceptingSns()
    sent = Sent(sns)
    summary, planned = _publish(sent)
    assert sent.identities == [fc_samples.sample_id(m) for m in sns.messages]
    assert len(sent.identities) == planned
    assert publishing_problems(summary["published"], planned, sent.identities) == []


def test_a_publisher_that_silently_drops_a_sample_fails_the_delivery_account(monkeypatch):
    """The publisher says it published every sample but never hands SNS one of them."""
    from handlers import fc_samples, publish_samples
    from rehearsal.delivery import Sent, account, publishing_problems
    honest, dropped = publish_samples.publish_batch, []

    def dropping(client, topic_arn, samples, sleep=None):
        if not dropped:
            dropped.append(samples[-1])
            samples = samples[:-1]
        honest(client, topic_arn, samples)
        return 0  # and reports nothing failed
    monkeypatch.setattr(publish_samples, "publish_batch", dropping)
    sns = _AcceptingSns()
    sent = Sent(sns)
    summary, planned = _publish(sent)
    assert summary["published"] == planned  # the publisher's own word: all of them
    problems = publishing_problems(summary["published"], planned, sent.identities)
    assert problems == [f"the publisher reported {planned} samples published but handed SNS "
                        f"{planned - 1}", f"the publisher handed SNS {planned - 1} samples, "
                        f"{planned} planned (samples per second x seconds)"]
    # SNS's view alone (what it was handed, all delivered) shows nothing lost: only the
    # publisher's count against what it handed over catches the drop.
    delivered = [fc_samples.sample_id(m) for m in sns.messages]
    assert account(sent.identities, delivered).lost == 0
    assert fc_samples.sample_id(fc_samples.encode(dropped[0])) not in sent.identities


def _signed(key):
    return {"Authorization": f"AWS4-HMAC-SHA256 Credential={key}/20261127/us-east-1/"
                             "execute-api/aws4_request, SignedHeaders=host, Signature=ab"}


def test_a_stage_throttle_is_shared_by_its_callers_and_refused_requests_take_no_token():
    import urllib.error
    import urllib.request

    from rehearsal.serving import iam_authorizer
    from tools.local_api import LocalApi, Route, Throttle

    def status(api, key):
        request = urllib.request.Request(api.url("grace") + "?features=1", headers=_signed(key))
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                return response.status
        except urllib.error.HTTPError as error:
            return error.code

    def front(callers):
        return LocalApi({"grace": Route(lambda event: {"statusCode": 200, "body": "{}"})},
                        throttle=Throttle({"grace": (0.001, 2)}, per_caller=False),
                        authorize=iam_authorizer(callers))
    with front({"grace": {"EDGE"}}) as api:  # as declared: ada may not call grace's stage
        assert [status(api, "REHEARSAL-ada") for _ in range(5)] == [403] * 5
        assert [status(api, "EDGE") for _ in range(3)] == [200, 200, 429]
    with front({"grace": {"EDGE", "REHEARSAL-ada"}}) as api:  # a leaky program lets ada in
        assert [status(api, "REHEARSAL-ada") for _ in range(2)] == [200, 200]
        assert status(api, "EDGE") == 429  # her flood spent the stage's shared throttle


def _declared(type_, name, inputs, state=None, provider=""):
    from tools.mock_program import Declared
    return Declared(urn=f"urn:{type_}::{name}", id=f"{name}-id", type=type_, name=name,
                    inputs=inputs, state=state or {}, parent="", provider=provider,
                    dependencies=[], custom=True)


def _api_program(method_authorization="AWS_IAM", extra_policies=()):
    """One API with stages ada and bob; the edge's role may invoke every stage, each
    participant's role their own stage, as components/ declare them."""
    import json as _json

    from tools.mock_program import Program
    execution = "arn:aws:execute-api:us-east-1:111111111111:api1"

    def policy(effect, resource):
        return _json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": effect, "Action": ["execute-api:Invoke"], "Resource": [resource]}]})
    resources = [
        _declared("aws:apigateway/restApi:RestApi", "api", {}, {"executionArn": execution}),
        _declared("aws:apigateway/resource:Resource", "res", {"pathPart": "liveinference"}),
        _declared("aws:apigateway/method:Method", "get", {
            "restApi": "api-id", "resourceId": "res-id", "httpMethod": "GET",
            "authorization": method_authorization}),
        *[_declared("aws:apigateway/stage:Stage", f"{p}-stage",
                    {"restApi": "api-id", "stageName": p}) for p in ("ada", "bob")],
        *[_declared("aws:iam/role:Role", f"{r}-role", {"name": r},
                    {"arn": f"arn:aws:iam::111111111111:role/{r}"}) for r in ("edge", "ada", "bob")],
        _declared("aws:iam/rolePolicy:RolePolicy", "edge-invoke",
                  {"role": "edge", "policy": policy("Allow", f"{execution}/*/GET/liveinference")}),
        *[_declared("aws:iam/rolePolicy:RolePolicy", f"{p}-invoke",
                    {"role": p, "policy": policy("Allow", f"{execution}/{p}/GET/liveinference")})
          for p in ("ada", "bob")],
        *[_declared("aws:iam/rolePolicy:RolePolicy", f"extra-{i}",
                    {"role": role, "policy": policy(effect, resource)})
          for i, (role, effect, resource) in enumerate(extra_policies)],
    ]
    return Program(resources)


def test_who_may_invoke_a_stage_is_read_from_the_declared_policies():
    from tools.iam_grants import stage_access
    designed = stage_access(_api_program())
    assert designed["bob"].roles == {"edge", "bob"} and not designed["bob"].open
    assert designed["bob"].method_arn.endswith(":api1/bob/GET/liveinference")
    leaky = stage_access(_api_program(extra_policies=[("ada", "Allow", "*")]))
    assert leaky["bob"].roles == {"edge", "ada", "bob"}  # ada may now call bob's stage
    denied = stage_access(_api_program(extra_policies=[
        ("ada", "Allow", "*"), ("ada", "Deny", "arn:aws:execute-api:*:*:*/bob/*")]))
    assert denied["bob"].roles == {"edge", "bob"}  # an explicit deny wins
    assert stage_access(_api_program(method_authorization="NONE"))["bob"].open


def test_a_program_that_lets_a_participant_invoke_a_rivals_stage_fails_flood_rival(tmp_path):
    """ada-lovelace's roles are granted execute-api:Invoke on every stage: her flood of
    grace-hopper's stage is let in, spends its shared throttle, and the verdict fails."""
    leaky = tmp_path / "__main__.py"
    leaky.write_text(PROGRAM.read_text() + (
        "\nimport json\naws.iam.RolePolicy('rehearsal-ada-lovelace-invoke-everything',"
        " role='rehearsal-ada-lovelace-sagemaker', policy=json.dumps({'Version': '2012-10-17',"
        " 'Statement': [{'Effect': 'Allow', 'Action': 'execute-api:Invoke', 'Resource': '*'}]}))\n"))
    shutil.copy(PROGRAM.parent / "participants.yaml", tmp_path / "participants.yaml")
    settings = load_settings(traffic_runs=1, run_seconds=3, drift_from_run=None)
    settings.min_successes = 3
    settings.participants[0].fault = "flood-rival"
    terminal = io.StringIO()
    assert rehearse(settings, tmp_path / "out", program_path=leaky,
                    progress=Progress(terminal)) == 1
    lines = _attacks((tmp_path / "out" / "summary.txt").read_text())
    refused, sent = lines["ada-lovelace"].split("flood-rival: ")[1].split(
        " flood requests")[0].split(" of ")
    assert int(refused) < int(sent)
    assert "FAILED: " in terminal.getvalue()
    assert "ada-lovelace's flood of grace-hopper was not refused" in terminal.getvalue()


def _monitored_program():
    """A bucket, a log group, an alarm, a queue and a parameter, through a provider whose
    default tags name the event, and one kind the rehearsal never creates (a dashboard)."""
    from tools.mock_program import Program
    provider = _declared("pulumi:providers:aws", "rehearsal-aws", {"defaultTags": {
        "tags": {"Event": "rehearsal", "ManagedBy": "pulumi"}}})
    through = f"{provider.urn}::{provider.id}"
    return Program([provider, *[_declared(t, n, i, s, through) for t, n, i, s in (
        ("aws:s3/bucket:Bucket", "samples", {}, {"bucket": "rehearsal-samples-1"}),
        ("aws:cloudwatch/logGroup:LogGroup", "logs", {"name": "/aws/lambda/rehearsal-x"}, {}),
        ("aws:cloudwatch/metricAlarm:MetricAlarm", "alarm", {
            "name": "rehearsal-ada-rmse", "comparisonOperator": "GreaterThanThreshold",
            "evaluationPeriods": 5.0, "threshold": 1000.0, "metricName": "RMSE",
            "namespace": "MLWorkshop/rehearsal", "statistic": "Average", "period": 60.0,
            "dimensions": {"Participant": "ada"}, "tags": {"Participant": "ada"}}, {}),
        ("aws:sqs/queue:Queue", "queue", {"name": "rehearsal-undelivered"}, {}),
        ("aws:ssm/parameter:Parameter", "reveal", {"name": "/rehearsal/reveal",
                                                   "type": "String", "value": "false"}, {}),
        ("aws:cloudwatch/dashboard:Dashboard", "board", {"dashboardName": "rehearsal"}, {}))]])


def _torn_down():
    import boto3

    from rehearsal import teardown
    from rehearsal.world import provision
    world = provision(_monitored_program(), lambda topic: "")
    return teardown.teardown(world, [], "rehearsal",
                             teardown.RunningJobs(boto3.client("sagemaker")))


def test_the_teardown_destroys_every_declared_kind_it_created_and_says_what_it_audits(aws_env):
    from moto import mock_aws
    with mock_aws():
        done = _torn_down()
    assert sorted(done.destroyed) == [
        "alarm rehearsal-ada-rmse", "bucket rehearsal-samples-1",
        "log group /aws/lambda/rehearsal-x", "parameter /rehearsal/reveal",
        "queue rehearsal-undelivered"]
    assert done.after == [] and not done.failed
    lines = "\n".join(done.lines())
    assert "declared but not created in moto, so not audited: 1 Dashboard" in lines
    assert "tagged as declared: alarm, bucket, delivery stream, endpoint, log group, " \
           "notebook instance, parameter, queue, secret, table, topic" in lines


@pytest.mark.parametrize("forgotten, leftover", [
    ("aws:cloudwatch/logGroup:LogGroup", ("logs:log-group", "/aws/lambda/rehearsal-x", True)),
    ("aws:cloudwatch/metricAlarm:MetricAlarm", ("cloudwatch:alarm", "rehearsal-ada-rmse", True)),
    ("aws:sqs/queue:Queue", ("sqs:queue", "rehearsal-undelivered", False)),
])
def test_a_declared_kind_destroy_forgets_is_left_for_the_audit_to_find(
        aws_env, monkeypatch, forgotten, leftover):
    from moto import mock_aws

    from rehearsal import teardown
    monkeypatch.delitem(teardown.DELETERS, forgotten)  # a destroy that misses one kind
    with mock_aws():
        done = _torn_down()
    found = [(item.kind, item.name, item.billable) for item in done.after]
    assert leftover in found
    assert [f for f in found if f[1] == leftover[1]] == [leftover]  # found once, by its kind
    assert done.failed == leftover[2]
    # The summary names a billable leftover; free ones are counted by kind.
    assert (leftover[1] if leftover[2] else f"1 {leftover[0]}") in "\n".join(done.lines())


def test_a_participant_reset_mid_event_leaves_everyone_else_alone(tmp_path):
    # The event stack and a stack per participant (the default topology); Grace Hopper's
    # stack is destroyed and re-created after the first of two runs.
    settings = load_settings(traffic_runs=2, run_seconds=4, drift_from_run=None,
                             reset="grace-hopper", reset_after_run=1)
    settings.min_successes = 5
    terminal = io.StringIO()
    assert rehearse(settings, tmp_path, progress=Progress(terminal)) == 0
    shown = terminal.getvalue()
    assert "in an event stack and 3 participant stacks" in shown
    summary = (tmp_path / "summary.txt").read_text()
    assert "Reset (as `fleet reset grace-hopper`, after run 1)" in summary
    assert "other participants' resources and wiring unchanged" in summary
    for other in ("ada-lovelace", "alan-turing"):
        assert f"{other:24s} 0 errors attributable to the reset" in summary
    deleted, recreated = (int(n) for n in re.search(
        r"deleted (\d+) and re-created (\d+) of grace-hopper's", summary).groups())
    assert deleted == recreated > 0
    # Their stage answers again after the reset: the run after it scored them.
    rows = {r["participant"]: r for r in
            json.loads((tmp_path / "leaderboard.json").read_text())["rows"]}
    assert rows["grace-hopper"]["requests"] == 2 * 4 * settings.requests_per_second
    assert rows["grace-hopper"]["status"] == "healthy"
