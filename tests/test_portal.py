"""The participant portal handler: codes, routes, AWS calls, rate limits, logs and escaping.

S3, DynamoDB and STS run on moto; SageMaker (moto lacks CreatePresignedNotebookInstanceUrl)
and STS where the exact call matters run on botocore's Stubber; the federation endpoint is
a stand-in on 127.0.0.1 (tools/local_signin.py).
"""

from __future__ import annotations

import dataclasses
import html
import json
import re
import secrets
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto import mock_aws

from handlers import edge_traffic, leaderboard, portal, scoring
from tests.kit import create_scores_table
from tools.local_signin import LocalSignin

NOW = datetime(2026, 11, 26, 10, 30, 20, tzinfo=UTC)
SETTINGS = portal.Settings(event="aim368", directory_bucket="aim368-private",
                           directory_key="portal/directory.json", table_name="scores",
                           notebook_session_seconds=7200, console_session_seconds=5400,
                           wrong_codes_per_minute_per_ip=10, wrong_codes_per_minute=40,
                           actions_per_minute=30, min_successes=20)
ENV = SETTINGS.to_environment()  # as the component declares it for Lambda
VARIABLE = portal.Settings.variables()  # field -> environment variable
HOSTILE = "</script><script>alert(1)</script> \"Zoë\" O'Brien & <b>co</b>"
DOCUMENTED = {200, 202, 303, 400, 404, 405, 413, 414, 429, 500, 502, 503}


def record(pid, name, **extra):
    return {"id": pid, "name": name, "notebook": f"aim368-{pid}-notebook",
            "endpoint": f"aim368-{pid}-endpoint", "bucket": f"aim368-{pid}-samples-abc1234",
            "inference_url": f"https://api.example.com/{pid}/liveinference",
            "region": "us-east-1",
            "console_role_arn": f"arn:aws:iam::123456789012:role/aim368-{pid}-console",
            "leaderboard_url": "https://board.example.com/", **extra}


CODES = {"ada": secrets.token_urlsafe(16), "ada-lovelace": secrets.token_urlsafe(16),
         "zoe": secrets.token_urlsafe(16), "own": secrets.token_urlsafe(16)}
RECORDS = {"ada": record("ada", "Ada Lovelace"),
           "ada-lovelace": record("ada-lovelace", "Ada King"),
           "zoe": record("zoe", HOSTILE),
           "own": record("own", "Owen Own", account="210987654321")}


def directory(codes=CODES):
    return json.dumps({"participants": {portal.code_hash(codes[p]): RECORDS[p] for p in codes}})


class Clock:
    def __init__(self):
        self.t = 1000.0

    def __call__(self):
        return self.t


def scored(n, error, failures=0, timeouts=0):
    aggregate = scoring.empty()
    for _ in range(n):
        scoring.record(aggregate, 40.0, "ok", error)
    for _ in range(failures):
        scoring.record(aggregate, 40.0, "http_5xx")
    for _ in range(timeouts):
        scoring.record(aggregate, 2000.0, "timeout")
    return aggregate


def event(method, path, ip="203.0.113.7", query="", body=None, host="portal.example.com"):
    return {"version": "2.0", "rawPath": path, "rawQueryString": query,
            "headers": {"host": host}, "body": body, "isBase64Encoded": False,
            "requestContext": {"http": {"method": method, "sourceIp": ip}}}


class World:
    """A moto account with the portal's directory, two sample buckets and scores."""

    def __init__(self, signin_endpoint="https://signin.aws.amazon.com/federation", **changes):
        self.clock = Clock()
        self.s3 = boto3.client("s3")
        self.s3.create_bucket(Bucket=SETTINGS.directory_bucket)
        self.s3.put_object(Bucket=SETTINGS.directory_bucket, Key=SETTINGS.directory_key,
                           Body=directory())
        for pid in ("ada", "ada-lovelace"):
            bucket = RECORDS[pid]["bucket"]
            self.s3.create_bucket(Bucket=bucket)
        for n in range(3):
            self.s3.put_object(Bucket=RECORDS["ada"]["bucket"],
                               Key=f"samples/year=2026/part-{n}", Body=b"x" * 1000)
        self.s3.put_object(Bucket=RECORDS["ada"]["bucket"], Key="errors/x", Body=b"y" * 50)
        self.table = create_scores_table()
        for pid, rec in RECORDS.items():
            self.table.put_item(Item={"minute": "roster", "participant": pid, "name": rec["name"]})
        minute = leaderboard.minutes_back(NOW, 1)[0]
        edge_traffic.flush(self.table, minute, {"ada": scored(60, 300.0, failures=7, timeouts=2),
                                                "ada-lovelace": scored(60, 200.0)}, 1)
        self.sagemaker = boto3.client("sagemaker")
        self.sm_stub = Stubber(self.sagemaker)
        self.sts = boto3.client("sts")
        self.settings = portal.Settings.read(dataclasses.replace(
            SETTINGS, federation_endpoint=signin_endpoint, **changes).to_environment())
        self.portal = portal.Portal(
            self.settings, portal.Clients(s3=self.s3, sagemaker=self.sagemaker, sts=self.sts,
                                          table=self.table),
            clock=self.clock, now=lambda: NOW)

    def get(self, path, **kw):
        return self.portal.handle(event("GET", path, **kw))

    def post(self, path, **kw):
        return self.portal.handle(event("POST", path, **kw))


@pytest.fixture
def world(aws_env):
    leaderboard.forget()
    with mock_aws():
        yield World()


def body_of(response):
    return json.loads(response["body"])


# --- codes and pages -----------------------------------------------------------------------

def test_a_valid_code_shows_only_that_participants_page(world):
    response = world.get(f"/p/{CODES['ada']}")
    assert response["statusCode"] == 200
    page = response["body"]
    assert "Ada Lovelace" in page and RECORDS["ada"]["inference_url"] in page
    assert "?me=ada" in page and "Open my notebook" in page and "Open the AWS console" in page
    # Nothing names another participant, including one whose id extends this one's.
    for other in ("Ada King", "ada-lovelace", "Owen", "Zo"):
        assert other not in page
    assert "<title>aim368 workshop</title>" in page  # link previews learn nothing about Ada


def test_every_wrong_code_gets_the_same_answer(world):
    wrong = [secrets.token_urlsafe(16), CODES["ada"][:-1] + ("A" if CODES["ada"][-1] != "A"
                                                                else "B"), "x", "%00", ""]
    pages = [world.get(f"/p/{code}", ip=f"198.51.100.{i}") for i, code in enumerate(wrong)]
    assert {r["statusCode"] for r in pages} == {404}
    assert len({r["body"] for r in pages}) == 1
    assert portal.WRONG_CODE in pages[0]["body"]
    for code in wrong[:2]:
        assert code not in pages[0]["body"]
    apis = [world.get(f"/p/{code}/status", ip=f"198.51.100.{i}") for i, code in enumerate(wrong)]
    assert {r["statusCode"] for r in apis} == {404}
    assert len({r["body"] for r in apis}) == 1


def test_a_rotated_code_stops_working_once_the_directory_is_reread(world):
    old = CODES["ada"]
    new = secrets.token_urlsafe(16)
    assert world.get(f"/p/{old}")["statusCode"] == 200
    world.s3.put_object(Bucket=SETTINGS.directory_bucket, Key=SETTINGS.directory_key,
                        Body=directory({**CODES, "ada": new}))
    world.clock.t += world.settings.directory_ttl_seconds
    assert world.get(f"/p/{old}")["statusCode"] == 404
    assert world.get(f"/p/{new}")["statusCode"] == 200
    assert world.get(f"/p/{CODES['zoe']}")["statusCode"] == 200  # others keep theirs


def test_hostile_names_are_escaped(world):
    page = world.get(f"/p/{CODES['zoe']}")["body"]
    assert HOSTILE not in page
    assert html.escape(HOSTILE) in page
    assert page.count("<script>") == 1  # only the portal's own script


def test_the_form_redirects_to_the_code_page_and_rejects_junk(world):
    code = CODES["ada"]
    response = world.get("/join", query=f"code={code}")
    assert response["statusCode"] == 303 and response["headers"]["Location"] == f"/p/{code}"
    assert world.get("/join", query="code=%3Cscript%3E")["statusCode"] == 400
    assert world.get("/")["statusCode"] == 200 and 'action="/join"' in world.get("/")["body"]


def test_every_response_carries_the_security_headers(world):
    for response in (world.get("/"), world.get(f"/p/{CODES['ada']}"), world.get("/p/wrong"),
                     world.get(f"/p/{CODES['ada']}/status"), world.get("/nowhere"),
                     world.post("/")):
        headers = response["headers"]
        assert headers["Cache-Control"] == "no-store"
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"] == "no-referrer"
        csp = headers["Content-Security-Policy"]
        assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
        assert "unsafe-inline" not in csp and "http" not in csp  # no CDN, nothing from elsewhere


def test_wrong_methods_and_unknown_routes_say_what_to_do(world):
    code = CODES["ada"]
    response = world.post(f"/p/{code}")
    assert response["statusCode"] == 405 and response["headers"]["Allow"] == "GET"
    assert world.get(f"/p/{code}/console")["statusCode"] == 405
    assert world.get(f"/p/{code}/secrets")["statusCode"] == 404
    assert world.get("/admin")["statusCode"] == 404
    assert world.get("/" + "a" * 600)["statusCode"] == 414
    assert world.post(f"/p/{code}/notebook", body="x" * 5000)["statusCode"] == 413


def test_a_broken_directory_is_a_503_for_visitors_and_a_reason_in_the_log(world, capsys):
    world.s3.put_object(Bucket=SETTINGS.directory_bucket, Key=SETTINGS.directory_key,
                        Body=json.dumps({"participants": {"nothex": {"id": "a"}}}))
    response = world.get(f"/p/{CODES['ada']}")
    assert response["statusCode"] == 503 and "organizer" in body_of(response)["message"]
    assert "not a hex sha256" in capsys.readouterr().out


# --- the notebook --------------------------------------------------------------------------

def described(status):
    return {"NotebookInstanceArn": "arn:aws:sagemaker:us-east-1:123456789012:notebook-instance/x",
            "NotebookInstanceName": RECORDS["ada"]["notebook"], "NotebookInstanceStatus": status}


def test_a_stopped_notebook_is_started_and_its_status_shown_until_in_service(world):
    code, name = CODES["ada"], RECORDS["ada"]["notebook"]
    stub = world.sm_stub
    stub.add_response("describe_notebook_instance", described("Stopped"),
                      {"NotebookInstanceName": name})
    stub.add_response("start_notebook_instance", {}, {"NotebookInstanceName": name})
    stub.add_response("describe_notebook_instance", described("Pending"),
                      {"NotebookInstanceName": name})
    stub.add_response("describe_notebook_instance", described("InService"),
                      {"NotebookInstanceName": name})
    url = "https://aim368-ada-notebook.notebook.us-east-1.sagemaker.aws?authToken=secret-token"
    stub.add_response("describe_notebook_instance", described("InService"),
                      {"NotebookInstanceName": name})
    stub.add_response("create_presigned_notebook_instance_url", {"AuthorizedUrl": url},
                      {"NotebookInstanceName": name, "SessionExpirationDurationInSeconds": 7200})
    with stub:
        started = world.post(f"/p/{code}/notebook")
        assert started["statusCode"] == 202
        assert body_of(started)["status"] == "Pending" and "url" not in body_of(started)
        polled = body_of(world.get(f"/p/{code}/notebook"))
        assert polled["status"] == "Pending" and "starting" in polled["message"]
        ready = body_of(world.get(f"/p/{code}/notebook"))
        assert ready["status"] == "InService" and "url" not in ready  # a GET never presigns
        opened = body_of(world.post(f"/p/{code}/notebook"))
        assert opened == {"status": "InService", "url": url}
        stub.assert_no_pending_responses()


def test_viewing_the_page_spends_nothing(world):
    with world.sm_stub:  # no responses queued: any SageMaker call would fail the test
        assert world.get(f"/p/{CODES['ada']}")["statusCode"] == 200


def test_aws_refusing_the_notebook_is_a_502_with_a_message(world):
    world.sm_stub.add_client_error("describe_notebook_instance", "AccessDeniedException")
    with world.sm_stub:
        response = world.post(f"/p/{CODES['ada']}/notebook")
    assert response["statusCode"] == 502 and "organizer" in body_of(response)["message"]


# --- the console ---------------------------------------------------------------------------

def test_the_console_link_is_a_federated_sign_in_into_the_participants_role(aws_env):
    leaderboard.forget()
    with mock_aws(), LocalSignin() as signin:
        world = World(signin_endpoint=signin.endpoint)
        credentials = {"AccessKeyId": "ASIAEXAMPLEKEY0000", "SecretAccessKey": "s3cr3t-key",
                       "SessionToken": "s3ss10n-token", "Expiration": NOW}
        stub = Stubber(world.sts)
        stub.add_response("assume_role", {"Credentials": credentials},
                          {"RoleArn": RECORDS["ada"]["console_role_arn"],
                           "RoleSessionName": "ada"})
        world.portal.clients.sts = world.sts
        with stub:
            response = world.post(f"/p/{CODES['ada']}/console")
        assert response["statusCode"] == 200, response["body"]
        url = urlsplit(body_of(response)["url"])
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        assert f"{url.scheme}://{url.netloc}{url.path}" == signin.endpoint
        assert query["Action"] == "login"
        assert query["Destination"] == ("https://us-east-1.console.aws.amazon.com/sagemaker/"
                                        "home?region=us-east-1#/notebook-instances/"
                                        "aim368-ada-notebook")
        assert query["Issuer"] == "https://portal.example.com/"
        issued = signin.tokens[query["SigninToken"]]
        assert issued["duration"] == "5400"
        assert issued["session"] == {"sessionId": "ASIAEXAMPLEKEY0000", "sessionKey": "s3cr3t-key",
                                     "sessionToken": "s3ss10n-token"}
        assert [c["Action"] for c in signin.calls] == ["getSigninToken"]


def test_a_refusing_sign_in_endpoint_is_a_502(aws_env):
    with mock_aws(), LocalSignin() as signin:
        world = World(signin_endpoint=signin.endpoint + "/wrong")
        response = world.post(f"/p/{CODES['ada']}/console")
    assert response["statusCode"] == 502 and "sign-in" in body_of(response)["message"]


def test_participants_in_their_own_account_get_links_into_it(world):
    with world.sm_stub:  # nothing may be called in the event's account for them
        console = body_of(world.post(f"/p/{CODES['own']}/console"))
        notebook = body_of(world.post(f"/p/{CODES['own']}/notebook"))
        status = body_of(world.get(f"/p/{CODES['own']}/status"))
    assert console["url"] == "https://210987654321.signin.aws.amazon.com/console"
    assert notebook["url"].endswith("#/notebook-instances/aim368-own-notebook")
    assert "210987654321" in status["endpoint"]["error"]
    assert "210987654321" in world.get(f"/p/{CODES['own']}")["body"]


# --- lab status ----------------------------------------------------------------------------

def test_a_participant_stacks_bucket_is_read_from_the_parameter_it_publishes(world):
    # With a stack per participant the event stack's portal cannot know an auto-named
    # bucket: the record names the SSM parameter the participant's stack writes it to.
    ssm = boto3.client("ssm")
    ssm.put_parameter(Name="/aim368/ada/samples-bucket", Value=RECORDS["ada"]["bucket"],
                      Type="String")
    published = {k: v for k, v in RECORDS["ada"].items() if k != "bucket"}
    published["bucket_parameter"] = "/aim368/ada/samples-bucket"
    world.s3.put_object(Bucket=SETTINGS.directory_bucket, Key=SETTINGS.directory_key,
                        Body=json.dumps({"participants": {
                            portal.code_hash(CODES["ada"]): published}}))
    app = portal.Portal(world.settings, portal.Clients(
        s3=world.s3, sagemaker=world.sagemaker, sts=world.sts, table=world.table, ssm=ssm),
        clock=world.clock, now=lambda: NOW)
    status = body_of(app.handle(event("GET", f"/p/{CODES['ada']}/status")))
    assert status["samples"]["files"] == 3 and status["samples"]["bytes"] == 3000


def test_a_record_names_its_bucket_or_the_parameter_holding_it_exactly_once():
    both = {**RECORDS["ada"], "bucket_parameter": "/aim368/ada/samples-bucket"}
    neither = {k: v for k, v in RECORDS["ada"].items() if k != "bucket"}
    for bad in (both, neither):
        problems = portal.directory_problems({"participants": {"a" * 64: bad}})
        assert problems == ["record 'ada': needs exactly one of bucket, bucket_parameter"]


def test_the_status_reports_samples_endpoint_score_and_errors_of_this_participant(world):
    stub = world.sm_stub
    stub.add_response("describe_endpoint", {
        "EndpointName": "aim368-ada-endpoint", "EndpointArn": "arn:aws:sagemaker:us-east-1:123456789012:endpoint/x",
        "EndpointConfigName": "aim368-ada-config-1", "EndpointStatus": "InService",
        "CreationTime": NOW, "LastModifiedTime": NOW}, {"EndpointName": "aim368-ada-endpoint"})
    stub.add_response("describe_endpoint_config", {
        "EndpointConfigName": "aim368-ada-config-1",
        "EndpointConfigArn": "arn:aws:sagemaker:us-east-1:123456789012:endpoint-config/y",
        "CreationTime": NOW, "ProductionVariants": [
            {"VariantName": "main", "ModelName": "aim368-ada-xgb-20261126"}]},
        {"EndpointConfigName": "aim368-ada-config-1"})
    with stub:
        status = body_of(world.get(f"/p/{CODES['ada']}/status"))
    assert status["samples"] == {"files": 3, "bytes": 3000, "complete": True,
                                 "approx_samples": round(3000 / portal.MEAN_ROW_BYTES)}
    assert status["endpoint"]["status"] == "InService"
    assert status["endpoint"]["model"] == "aim368-ada-xgb-20261126"
    assert status["score"]["rank"] == 2 and status["score"]["ranked"] == 2
    assert status["score"]["window_rmse"] == pytest.approx(300.0)
    assert status["errors"]["requests"] == 69
    assert [(c["class"], c["count"]) for c in status["errors"]["classes"]] == [
        ("http_5xx", 7), ("timeout", 2)]
    assert "503: your endpoint is not deployed" in status["errors"]["classes"][0]["explanation"]
    assert status["leaderboard_url"] == "https://board.example.com/?me=ada"
    assert status["inference"]["curl"].startswith(
        "curl -s 'https://api.example.com/ada/liveinference?features=")
    text = json.dumps(status)
    assert "ada-lovelace" not in text and "Ada King" not in text


def test_an_endpoint_not_deployed_yet_says_so(world):
    world.sm_stub.add_client_error("describe_endpoint", "ValidationException",
                                   "Could not find endpoint")
    with world.sm_stub:
        status = body_of(world.get(f"/p/{CODES['ada-lovelace']}/status"))
    assert status["endpoint"]["status"] == "NotDeployed"
    assert status["samples"]["files"] == 0 and status["score"]["rank"] == 1


def test_every_error_class_has_an_explanation():
    assert set(portal.ERROR_EXPLANATIONS) == set(scoring.ERROR_CLASSES)


# --- rate limits ---------------------------------------------------------------------------

def test_wrong_codes_are_limited_per_address_without_locking_out_valid_codes(world):
    for _ in range(10):
        assert world.get("/p/guess", ip="192.0.2.1")["statusCode"] == 404
    limited = world.get("/p/guess", ip="192.0.2.1")
    assert limited["statusCode"] == 429 and limited["headers"]["Retry-After"] == "60"
    assert "Too many wrong codes" in limited["body"]
    assert world.get("/p/guess", ip="192.0.2.2")["statusCode"] == 404  # another address
    assert world.get(f"/p/{CODES['ada']}", ip="192.0.2.1")["statusCode"] == 200
    world.clock.t += 60
    assert world.get("/p/guess", ip="192.0.2.1")["statusCode"] == 404


def test_wrong_codes_from_many_addresses_hit_the_global_cap(world):
    statuses = [world.get("/p/guess", ip=f"10.0.{i // 250}.{i % 250}")["statusCode"]
                for i in range(45)]
    assert statuses[:40] == [404] * 40 and set(statuses[40:]) == {429}


def test_actions_are_limited_per_participant(world):
    statuses = [world.get(f"/p/{CODES['own']}/status")["statusCode"]]
    statuses += [world.post(f"/p/{CODES['own']}/console")["statusCode"] for _ in range(30)]
    assert statuses == [200] * 30 + [429]
    assert world.get(f"/p/{CODES['own']}")["statusCode"] == 200  # the page itself stays
    with world.sm_stub:  # another participant is not slowed down
        assert world.post(f"/p/{CODES['own']}/console")["statusCode"] == 429
        world.sm_stub.add_response("describe_notebook_instance", described("Pending"), None)
        assert world.get(f"/p/{CODES['ada']}/notebook")["statusCode"] == 200
    world.clock.t += 10
    assert world.post(f"/p/{CODES['own']}/console")["statusCode"] == 200


def test_the_limiter_remembers_a_bounded_number_of_addresses():
    clock = Clock()
    limiter = portal.RateLimiter(5, None, clock, max_keys=100)
    for i in range(1000):
        limiter.allow(f"10.0.{i // 256}.{i % 256}")
    assert len(limiter) == 100


# --- logs ----------------------------------------------------------------------------------

def test_no_code_presigned_url_or_credential_reaches_the_log(aws_env, capsys):
    leaderboard.forget()
    with mock_aws(), LocalSignin() as signin:
        world = World(signin_endpoint=signin.endpoint)
        url = "https://aim368-ada-notebook.notebook.us-east-1.sagemaker.aws?authToken=PRESIGNED"
        name = RECORDS["ada"]["notebook"]
        world.sm_stub.add_response("describe_notebook_instance", described("InService"),
                                   {"NotebookInstanceName": name})
        world.sm_stub.add_response("create_presigned_notebook_instance_url",
                                   {"AuthorizedUrl": url}, None)
        world.sm_stub.add_client_error("describe_endpoint", "ValidationException", "not found")
        code = CODES["ada"]
        requests = [("GET", f"/p/{code}"), ("GET", f"/p/{code}/status"),
                    ("POST", f"/p/{code}/notebook"), ("POST", f"/p/{code}/console"),
                    ("GET", "/p/" + secrets.token_urlsafe(16)), ("GET", f"/p/{code}/x"),
                    ("GET", "/join")]
        with world.sm_stub:
            responses = [world.portal.handle(event(m, p, query=f"code={code}"))
                         for m, p in requests]
    out = capsys.readouterr().out
    console_url = body_of(responses[3])["url"]
    token = parse_qs(urlsplit(console_url).query)["SigninToken"][0]
    secrets_seen = [code, url, "PRESIGNED", console_url, token]
    secrets_seen += [v for c in signin.tokens.values() for v in c["session"].values()]
    for secret in secrets_seen:
        assert secret not in out
    lines = [json.loads(line) for line in out.splitlines()]
    assert [line["route"] for line in lines if line["event"] == "portal"] == [
        "/p/{code}", "/p/{code}/status", "/p/{code}/notebook", "/p/{code}/console",
        "/p/{code}", "/p/{code}/?", "/join"]


# --- settings ------------------------------------------------------------------------------

def test_settings_report_every_problem_at_once():
    with pytest.raises(portal.SettingsError) as error:
        portal.Settings.read({
            VARIABLE["event"]: "aim368", VARIABLE["notebook_session_seconds"]: "60",
            VARIABLE["console_session_seconds"]: "lots", VARIABLE["reveal_private"]: "yes",
            VARIABLE["federation_endpoint"]: "http://signin.example.com/federation"})
    message = str(error.value)
    for expected in ("DIRECTORY_BUCKET is not set", "DIRECTORY_KEY is not set",
                     "TABLE_NAME is not set", "NOTEBOOK_SESSION_SECONDS=60 is outside 1800-43200",
                     "CONSOLE_SESSION_SECONDS='lots'", "REVEAL_PRIVATE='yes'",
                     VARIABLE["federation_endpoint"]):
        assert expected in message


def test_settings_defaults_and_the_leaderboards_view():
    settings = portal.Settings.read(ENV)
    assert settings == SETTINGS
    assert settings.federation_endpoint == "https://signin.aws.amazon.com/federation"
    ranking = settings.ranking()
    assert (ranking.table_name, ranking.min_successes, ranking.window_minutes,
            ranking.reveal_private) == ("scores", 20, 5, False)


def test_settings_read_back_what_the_component_writes_and_check_ranges_on_the_way():
    assert portal.Settings.read(SETTINGS.to_environment()) == SETTINGS
    with pytest.raises(portal.SettingsError, match="WRONG_CODES_PER_MINUTE=0 is outside"):
        portal.Settings.read(dataclasses.replace(SETTINGS, wrong_codes_per_minute=0)
                             .to_environment())


# --- any request at all --------------------------------------------------------------------

class Refusing:
    """Every AWS call fails, as it would for a role with no permissions."""

    def __getattr__(self, name):
        def call(*args, **kwargs):
            raise ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, name)
        return call


class DirectoryOnly(Refusing):
    def get_object(self, **kwargs):
        return {"Body": type("Body", (), {"read": staticmethod(lambda: directory().encode())})()}


def fuzz_portal():
    return portal.Portal(portal.Settings.read(ENV),
                         portal.Clients(s3=DirectoryOnly(), sagemaker=Refusing(), sts=Refusing(),
                                        table=Refusing(), fetch=lambda url: (500, b"")),
                         clock=Clock(), now=lambda: NOW)


PATH_PARTS = st.sampled_from(["", "p", "join", CODES["ada"], CODES["own"], "status", "notebook",
                              "console", "..", "%2F", "index.html"]) | st.text(max_size=30)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(method=st.sampled_from(["GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "", "get"])
       | st.text(max_size=10),
       parts=st.lists(PATH_PARTS, max_size=5), body=st.none() | st.text(max_size=6000),
       query=st.text(max_size=200), ip=st.none() | st.text(max_size=40))
def test_any_request_gets_a_documented_status_and_never_an_exception(method, parts, body,
                                                                     query, ip):
    response = fuzz_portal().handle({"rawPath": "/" + "/".join(parts), "rawQueryString": query,
                                     "body": body, "headers": {"host": "x"},
                                     "requestContext": {"http": {"method": method,
                                                                 "sourceIp": ip}}})
    assert response["statusCode"] in DOCUMENTED - {500}
    assert response["headers"]["Cache-Control"] == "no-store"
    assert isinstance(response["body"], str)


@settings(max_examples=100, deadline=None)
@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=20),
                    lambda inner: st.lists(inner, max_size=3)
                    | st.dictionaries(st.sampled_from(["rawPath", "requestContext", "http",
                                                       "method", "body", "headers"]) | st.text(),
                                      inner, max_size=4), max_leaves=12))
def test_malformed_events_are_answered_not_raised(shape):
    response = fuzz_portal().handle(shape)
    assert response["statusCode"] in DOCUMENTED
    assert re.fullmatch(r"\{.*\}|<!DOCTYPE html>.*", response["body"], re.DOTALL)
