"""The rehearsal's phases: declare, provision, collect, train, deploy, traffic, report.

Everything listens on 127.0.0.1 only, on ports chosen free at run time, and everything
is torn down on exit, Ctrl-C included (context managers all the way down).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import sys
import time
from collections.abc import Collection
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
import numpy as np
import yaml

from event.roster import slugify
from handlers import edge_traffic, fc_samples, publish_samples
from rehearsal import faults as attacks
from rehearsal import teardown
from rehearsal.capacity import RunLoad, assess, attribute, cpu_times, steal_share
from rehearsal.delivery import Account, Sent, account, publishing_problems
from rehearsal.endpoints import Deployed
from rehearsal.front_policy import declared_callers, declared_throttles
from rehearsal.portal import enter_through_links
from rehearsal.serving import ApiFront, RuntimeProcess, front_processes
from rehearsal.stacks import Declaration, declare_event
from rehearsal.validation import check
from rehearsal.world import World, participant_of, provision, rehearsed_account
from tools.mock_program import ACCOUNT, PROGRAM
from training import dataset, local
from training.build import build_for_config

PROJECT_DIR = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG = PROJECT_DIR / "rehearsal.yaml"
SLOW_ENDPOINT_SECONDS = 4.0  # beyond the edge's and the handler's timeouts
EVENT = "rehearsal"  # the event name the rehearsal declares the program with


@dataclass
class Participant:
    name: str
    algorithm: str
    hyperparameters: dict
    fault: str | None = None
    retraining: str | None = None  # "auto": the retraining loop runs after the drift


@dataclass
class Settings:
    participants: list[Participant]
    dataset_samples: int = 20_000
    feed_seconds: int = 4
    samples_per_second: int = 25
    traffic_runs: int = 3
    run_seconds: int = 20
    requests_per_second: int = 5
    drift_from_run: int | None = None  # runs from this one on see the drifted FC
    min_successes: int = 20
    topology: str = "stacks"  # or "single": the whole event in one stack
    reset: str | None = None  # a participant (name or id) reset as `fleet reset` would ...
    reset_after_run: int | None = None  # ... after this traffic run (1 = the first)


def load_settings(path: Path = DEFAULT_CONFIG, **overrides: Any) -> Settings:
    """The settings in `path` with the non-None overrides; SettingsError lists every problem."""
    raw = yaml.safe_load(Path(path).read_text()) or {}
    if isinstance(raw, dict):
        raw.update({key: value for key, value in overrides.items() if value is not None})
    check(raw)
    people = [Participant(p["name"], p["algorithm"], p["hyperparameters"], p.get("fault"),
                          p.get("retraining")) for p in raw.pop("participants")]
    return Settings(people, **raw)


def with_crowd(people: list[Participant], count: int) -> list[Participant]:
    """The first `count` of `people`, then made-up participants up to `count`."""
    from rehearsal.crowd import crowd
    made_up = [Participant(e["name"], e["algorithm"], e["hyperparameters"])
               for e in crowd(max(0, count - len(people)), start=len(people))]
    return people[:count] + made_up


def check_settings(settings: Settings) -> None:
    """The same checks on settings built or changed in code (faults given on the command line)."""
    raw = dataclasses.asdict(settings)
    raw["participants"] = [{k: v for k, v in p.items()
                            if k not in ("fault", "retraining") or v is not None}
                           for p in raw["participants"]]
    check(raw)


class Progress:
    """Phase names and live figures on the terminal, whatever the handlers print."""

    def __init__(self, stream=None):
        self.stream = stream or sys.__stdout__
        self.timings: dict[str, float] = {}

    def say(self, text: str) -> None:
        print(text, file=self.stream, flush=True)

    @contextlib.contextmanager
    def phase(self, name: str):
        self.say(f"== {name}")
        started = time.perf_counter()
        yield
        self.timings[name] = time.perf_counter() - started
        self.say(f"   ({self.timings[name]:.1f} s)")


@dataclass
class Outcome:
    published: int = 0  # as the publisher reported it
    sent: list[str] = field(default_factory=list)  # identities it handed SNS
    publishing_problems: list[str] = field(default_factory=list)
    delivered: dict[str, int] = field(default_factory=dict)
    collected: dict[str, np.ndarray] = field(default_factory=dict)  # rows in each bucket
    offline_rmse: dict[str, float] = field(default_factory=dict)
    runs: list[dict[str, dict]] = field(default_factory=list)  # per run: participant -> aggregate
    loads: list[RunLoad] = field(default_factory=list)  # per run: could the machine keep up?
    leaderboard: dict = field(default_factory=dict)
    models: dict[str, Any] = field(default_factory=dict)  # participant -> trained (loop only)
    retraining_lines: list[str] = field(default_factory=list)  # the summary's section
    teardown: Any = None  # rehearsal.teardown.Teardown, after the final phase
    accounts: dict[str, Account] = field(default_factory=dict)  # lost, duplicated by identity
    floods: dict[str, attacks.FloodCount] = field(default_factory=dict)  # flood-rival
    reset: Any = None  # rehearsal.reset.Reset, when the settings reset a participant


def declare(settings: Settings, out: Path, program_path: Path) -> Declaration:
    """The event in the settings' topology: an event stack and a stack per participant
    (rehearsal.stacks), or one stack."""
    roster = out / "participants.yaml"
    roster.write_text(yaml.safe_dump({"participants": [{"name": p.name}
                                                       for p in settings.participants]}))
    config = {"roster": str(roster), "event": "rehearsal",
              "datasetSamples": str(settings.dataset_samples),
              "samplesPerSecond": str(settings.samples_per_second),
              "edgeRequestsPerSecond": str(settings.requests_per_second),
              "leaderboardMinSuccesses": str(settings.min_successes)}
    build_for_config(config)  # the data set and baseline the program uploads; cached
    return declare_event(config, ids(settings), settings.topology, program_path)


class Tap:
    """An SQS queue per topic: what SNS would hand each subscribed Lambda."""

    def __init__(self):
        self.sqs, self.queues = boto3.client("sqs"), {}

    def queue_arn(self, topic_arn: str) -> str:
        name = "rehearsal-tap-" + topic_arn.rsplit(":", 1)[-1]
        url = self.sqs.create_queue(QueueName=name)["QueueUrl"]
        self.queues[topic_arn] = url
        return self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
            "Attributes"]["QueueArn"]

    def deliveries(self, topic_arn: str):
        url = self.queues[topic_arn]
        while True:
            messages = self.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get(
                "Messages", [])
            if not messages:
                return
            for message in messages:
                envelope = json.loads(message["Body"])
                yield {"Records": [{"EventSource": "aws:sns", "EventVersion": "1.0",
                                    "Sns": {"Type": "Notification", "TopicArn": topic_arn,
                                            "MessageId": envelope["MessageId"],
                                            "Message": envelope["Message"]}}]}
                self.sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


def ids(settings: Settings) -> list[str]:
    return [slugify(p.name) for p in settings.participants]


def scheduled_event(payload: dict | None) -> dict:
    """What EventBridge Scheduler hands the target: its input, context attributes filled in."""
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return json.loads(json.dumps(payload or {}).replace("<aws.scheduler.scheduled-time>", now))


def collect(world: World, tap: Tap, settings: Settings, progress: Progress, outcome: Outcome):
    payload, publisher = next((p, f) for _, f, p in world.scheduled()
                              if f.module == publish_samples.__name__)
    compressed = replace(publisher.settings(), period_seconds=settings.feed_seconds)
    # What was published is what the publisher handed SNS (its own client, recorded),
    # never what SNS delivered to the rehearsal's tap: a dropped sample must show as lost.
    sent = Sent(publisher.code().sns_client())
    summary = publisher.code().handle(scheduled_event(payload), compressed, client=sent)
    outcome.published, outcome.sent = summary["published"], sent.identities
    outcome.publishing_problems = publishing_problems(
        outcome.published, compressed.samples_per_second * compressed.period_seconds,
        sent.identities)
    progress.say(f"   published {outcome.published} samples to the FC topic")
    for topic, functions in world.subscribers.items():
        for event in tap.deliveries(topic):
            for function in functions:
                function.code().handle(event, function.settings())
    for participant in ids(settings):
        rows = _bucket_rows(world.program.outputs["participants"][participant]["bucket"])
        outcome.collected[participant] = rows
        outcome.delivered[participant] = len(rows)
        outcome.accounts[participant] = account(sent.identities,
                                                map(fc_samples.sample_id, rows))
    progress.say("   delivered: " + ", ".join(f"{p} {n}" for p, n in outcome.delivered.items()))


def _bucket_rows(bucket: str) -> np.ndarray:
    """Every sample row in a bucket, decoded (a malformed row would stop the run)."""
    s3, rows = boto3.client("s3"), []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for item in page.get("Contents", []):
            body = s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read().decode()
            rows += [list(fc_samples.decode(line)) for line in body.splitlines() if line]
    return np.array(rows, dtype=np.float64).reshape(-1, len(fc_samples.COLUMNS))


def train_and_deploy(world: World, settings: Settings, runtime: RuntimeProcess,
                     progress: Progress, outcome: Outcome) -> None:
    program = world.program
    sources = {o.inputs["key"]: o.inputs["source"].path for o in
               program.of_type("aws:s3/bucketObjectv2:BucketObjectv2") if "source" in o.inputs}
    train_x, train_y = dataset.load(Path(sources["datasets/TrainSamples.csv"]))
    test = dataset.load(Path(sources["datasets/TestSamples.csv"]))
    for person, participant in zip(settings.participants, ids(settings)):
        collected = outcome.collected[participant]
        features = np.vstack([train_x, collected[:, 1:]])
        labels = np.concatenate([train_y, collected[:, 0]])
        model = local.train(person.algorithm, person.hyperparameters, (features, labels), test,
                            seed=1)
        outcome.offline_rmse[participant] = model.test_rmse
        if person.retraining:
            outcome.models[participant] = model
        endpoint = participant_of(program, f"{participant}-lab2",
                                  "aws:sagemaker/endpoint:Endpoint").inputs["name"]
        note = f"{person.algorithm}, offline test RMSE {model.test_rmse:,.0f} ms"
        if person.fault == "never-deploys":
            progress.say(f"   {participant}: {note}; never deploys")
            continue
        runtime.deploy(endpoint, Deployed(person.algorithm, model.predict,
                                          SLOW_ENDPOINT_SECONDS if person.fault == "slow-endpoint"
                                          else 0.0, person.fault == "garbage-endpoint"))
        progress.say(f"   {participant}: {note}; deployed to {endpoint}"
                     + (f" ({person.fault})" if person.fault else ""))


def _aggregates(table) -> dict[str, dict]:
    from handlers import scoring
    items = table.scan()["Items"]
    per = {}
    for item in items:
        if item["minute"] == "roster":
            continue
        per.setdefault(item["participant"], []).append(scoring.from_item(item))
    return {p: scoring.merge(a) for p, a in per.items()}


def _difference(after: dict, before: dict) -> dict:
    from handlers import scoring
    return {p: {k: a[k] - before.get(p, {}).get(k, 0) if k in scoring.COUNTERS else a[k]
                for k in a} for p, a in after.items()}


def endpoints_of(world: World, settings: Settings) -> dict[str, str]:
    """participant -> the name of their SageMaker endpoint."""
    return {p: participant_of(world.program, f"{p}-lab2",
                              "aws:sagemaker/endpoint:Endpoint").inputs["name"]
            for p in ids(settings)}


def _fixed_clock(moment: datetime):
    return lambda: moment


def traffic(world: World, settings: Settings, api: ApiFront, progress: Progress,
            outcome: Outcome, runtime: RuntimeProcess, after_run=None) -> None:
    """`after_run(run)` is called after each run (the retraining phase acts there)."""
    targets = [(f.settings(), payload) for _, f, payload in world.scheduled()
               if f.module == edge_traffic.__name__]
    table = boto3.resource("dynamodb").Table(targets[0][0].table_name)
    leaderboard = world.by_name("rehearsal-leaderboard")
    endpoints = endpoints_of(world, settings)
    progress.say(f"   serving from {len(api)} API front process{'es' if len(api) > 1 else ''} "
                 "and 1 SageMaker runtime process")

    # One client for every shard, as one edge environment keeps its connections.
    client = edge_traffic.make_client(targets[0][0])

    def fetcher(url, timeout):  # execute-api URLs resolve to the local API front
        path = urlsplit(url)
        return client.fetch(
            f"{api.base_url(path.path.split('/')[1])}{path.path}?{path.query}", timeout)

    secret_arn = world.scoring_secret_arn(targets[0][0].scoring_secret_arn)
    rival = attacks.rivals(ids(settings))
    flooders = [p for person, p in zip(settings.participants, ids(settings))
                if person.fault == "flood-rival"]
    this_minute = datetime.now(UTC).replace(second=0, microsecond=0)

    for run in range(settings.traffic_runs):
        drifted = settings.drift_from_run is not None and run >= settings.drift_from_run
        # Each compressed run stands for its own minute (its own samples and items), the
        # last one this minute, as EventBridge's scheduled time would say.
        scheduled = this_minute - timedelta(minutes=settings.traffic_runs - 1 - run)
        before = _aggregates(table)
        for server in (api, runtime):  # measure this run only: drop what came before
            server.take_queueing()
        runtime.take_service()
        api.take_handlers()
        cpu_before = cpu_times()
        started = time.perf_counter()
        floods = [attacks.Flood(f"{api.base_url(rival[p])}/{rival[p]}/liveinference?features=1",
                                p, rival[p]) for p in flooders]  # stage name = participant id
        with contextlib.ExitStack() as flooding, \
                ThreadPoolExecutor(len(targets)) as shards:  # EventBridge runs them concurrently
            for flood in floods:
                flooding.enter_context(flood)
            # Each compressed run stands for its own minute: its own period and samples.
            # The edge takes the drift profile of the minute it scores: drifted from this one.
            drift_start = scheduled.isoformat() if drifted else ""
            minute = scheduled.strftime("%Y-%m-%dT%H:%M:%SZ")
            # Started on time for the minute it stands for (a late start would be skipped).
            on_time = _fixed_clock(scheduled)
            summaries = list(shards.map(lambda t, minute=minute, drift_start=drift_start,
                                        on_time=on_time:
                                        edge_traffic.handle({**t[1], "time": minute}, replace(
                                            t[0], period_seconds=settings.run_seconds,
                                            scoring_secret_arn=secret_arn, drift_start=drift_start),
                                            fetcher=fetcher, clock=on_time), targets))
        seconds = time.perf_counter() - started
        for p, flood in zip(flooders, floods):
            total = outcome.floods.setdefault(p, attacks.FloodCount(rival[p]))
            total.sent += flood.count.sent
            total.refused += flood.count.refused
            total.admitted += flood.count.admitted
        delta = _difference(_aggregates(table), before)
        outcome.runs.append(delta)
        requests = sum(a["requests"] for a in delta.values())
        load = assess(run, settings.run_seconds, len(endpoints) * settings.requests_per_second
                      * settings.run_seconds, float(targets[0][0].timeout_ms),
                      [s.get("p99_lag_ms") for s in summaries], api.take_queueing(),
                      runtime.take_queueing(), api.take_handlers(), runtime.take_service(),
                      endpoints, delta, steal_share(cpu_before, cpu_times()))
        outcome.loads.append(load)
        board = leaderboard.code().build(table, leaderboard.settings(),
                                         datetime.now(UTC))
        ranking = "  ".join(f"{r['rank'] or '-'}. {r['participant']} "
                            f"{'-' if r['window_rmse'] is None else format(r['window_rmse'], ',.0f')}"
                            for r in board["rows"])
        progress.say(f"   run {run + 1}/{settings.traffic_runs}"
                     f"{' (drifted FC)' if drifted else ''}: {requests / seconds:,.1f} requests/s"
                     f" | {ranking}")
        if load.saturated:
            progress.say(f"   SATURATED: this machine did not keep up: {'; '.join(load.reasons)}")
        if after_run is not None:
            after_run(run)
    client.close()
    outcome.leaderboard = leaderboard.code().build(table, leaderboard.settings(),
                                                   datetime.now(UTC))


def report(settings: Settings, outcome: Outcome, progress: Progress, out: Path, world: World) -> int:
    from handlers import scoring
    leaderboard = world.by_name("rehearsal-leaderboard")
    (out / "leaderboard.json").write_text(json.dumps(outcome.leaderboard, indent=2))
    (out / "leaderboard.html").write_text(leaderboard.code().page(outcome.leaderboard, 10))
    draw_dashboard(outcome, settings, out / "dashboard.png")
    lost = {p: a.lost for p, a in outcome.accounts.items()}
    duplicated = sum(a.duplicated for a in outcome.accounts.values())
    unpublished = sum(a.unpublished for a in outcome.accounts.values())
    lines = ["", "Delivery (Lab 1): samples the publisher handed SNS vs rows in each bucket, "
                 "by sample identity"]
    lines += [f"  {p:24s} {len(outcome.sent):6d} published  {n:6d} delivered  {lost[p]:4d} lost"
              f"  {outcome.accounts[p].duplicated:4d} duplicated"
              f"  {outcome.accounts[p].unpublished:4d} never published"
              for p, n in outcome.delivered.items()]
    lines.append(f"  samples lost in total: {sum(lost.values())}; duplicated in total: {duplicated}"
                 f"; never published: {unpublished}")
    lines += [f"  PUBLISHER: {problem}" for problem in outcome.publishing_problems]
    total = {p: scoring.merge(run.get(p, scoring.empty()) for run in outcome.runs)
             for p in outcome.delivered}
    failing_rate = leaderboard.settings().failing_error_rate
    verdicts = attribute(outcome.runs, outcome.loads, failing_rate)
    lines += ["", "Traffic (Lab 3 and the event layer)",
              ("  participant              requests  ok     4xx  5xx  timeout  bad  live RMSE"
               "  verdict")]
    for p, a in total.items():
        live = scoring.rmse(a, scoring.SPLITS)
        verdict = verdicts.get(p)
        lines.append(f"  {p:24s} {int(a['requests']):8d} {int(a['successes']):6d} "
                     f"{int(a['http_4xx']):4d} {int(a['http_5xx']):4d} {int(a['timeout']):8d} "
                     f"{int(a['bad_answer']):4d}  {'-' if live is None else format(live, ',.0f'):>9s}"
                     f"  {_verdict_text(verdict)}")
    lines += capacity_lines(outcome.loads)
    lines += ["", "Models (Lab 2): offline test RMSE vs live RMSE per run (ms)"]
    for person, p in zip(settings.participants, ids(settings)):
        per_run = [scoring.rmse(run.get(p, scoring.empty()), scoring.SPLITS) for run in outcome.runs]
        lines.append(f"  {p:24s} {person.algorithm:15s} offline {outcome.offline_rmse[p]:7,.0f}"
                     f"  live " + " ".join('-' if r is None else f"{r:,.0f}" for r in per_run)
                     + (f"   [{person.fault}]" if person.fault else ""))
    if settings.drift_from_run is not None and settings.drift_from_run < len(outcome.runs):
        drifted = next(f.settings().drift_profile for f in world.functions.values()
                       if f.module == edge_traffic.__name__)
        lines.append(f"  the FC drifted ({drifted}) from run {settings.drift_from_run + 1}; "
                     f"noise floor {fc_samples.noise_floor(fc_samples.NORMAL):.0f} -> "
                     f"{fc_samples.noise_floor(drifted):.0f} ms")
    lines += outcome.retraining_lines
    faults = {p: person.fault for person, p in zip(settings.participants, ids(settings))}
    judged = attacks.Verdicts([], [])
    if any(fault in attacks.ATTACKS for fault in faults.values()):
        edge = next(f.settings() for f in world.functions.values()
                    if f.module == edge_traffic.__name__)
        judged = attacks.verdicts(faults, total, outcome.floods, float(edge.timeout_ms),
                                  any(load.saturated for load in outcome.loads))
        lines += ["", "Attacks: the attacker handled as designed, everyone else unaffected"]
        lines += [f"  {line}" for line in judged.lines]
    reset_failures = []
    if outcome.reset is not None:
        from rehearsal.reset import judge
        judge(outcome.reset, outcome.runs, [load.saturated for load in outcome.loads])
        lines += outcome.reset.lines()
        reset_failures = outcome.reset.failures()
    if outcome.teardown is not None:
        lines += outcome.teardown.lines()
    lines += ["", "Final leaderboard"]
    lines += [f"  {r['rank'] or '-':>2} {r['name']:24s} "
              + _board_status(r["status"], verdicts.get(r["participant"]))
              for r in outcome.leaderboard["rows"]]
    lines += ["", "Timing"] + [f"  {name:60s} {seconds:6.1f} s"
                               for name, seconds in progress.timings.items()]
    lines += ["", f"Written: {out / 'leaderboard.html'}, {out / 'leaderboard.json'}, "
                  f"{out / 'dashboard.png'}, {out / 'summary.txt'}"]
    text = "\n".join(lines)
    (out / "summary.txt").write_text(text + "\n")
    write_capacity(out / "capacity.json", outcome, verdicts, progress.timings)
    progress.say(text)
    failures = ([f"{sum(lost.values())} samples were lost"] if sum(lost.values()) else []) \
        + ([f"{duplicated} samples were duplicated"] if duplicated else []) \
        + ([f"{unpublished} delivered rows were never published"] if unpublished else []) \
        + outcome.publishing_problems + judged.failures + reset_failures
    if failures:
        progress.say("FAILED: " + "; ".join(failures))
        return 1
    if outcome.teardown is not None and outcome.teardown.failed:
        progress.say(f"FAILED: the audit found {len(outcome.teardown.billable)} billable "
                     "leftovers after the teardown")
        return 1
    return 0


def _verdict_text(verdict) -> str:
    if verdict is None:
        return "-"
    if verdict.excused:
        return f"{verdict.status} ({verdict.excused} errors were the machine's)"
    return verdict.status


def _board_status(status: str, verdict) -> str:
    """The leaderboard's status, unless it blames a participant for a saturated machine."""
    if status == "failing" and verdict is not None and verdict.status != "failing":
        return (f"{verdict.status} (the leaderboard says failing, but the errors were "
                "this machine's: it was saturated)")
    return status


def capacity_lines(loads: list[RunLoad]) -> list[str]:
    """Did the machine keep up? Per run, the machinery's own delays (ms, p99)."""
    lines = ["", "Capacity (the rehearsal's machinery, not the participants): per run",
             ("  run  requests/s (target)  edge lag  front queue  runtime queue  handler extra"
              "  answer extra  steal  load")]

    def ms(value):
        return "-" if value is None else f"{value:,.0f}"

    for load in loads:
        lines.append(f"  {load.run + 1:3d}  {load.achieved_per_second:8,.1f} "
                     f"({load.target_per_second:6,.1f})  {ms(load.edge_lag_ms):>8s}  "
                     f"{ms(load.front_queueing_ms):>11s}  {ms(load.runtime_queueing_ms):>13s}  "
                     f"{ms(load.handler_overhead_ms):>13s}  {ms(load.edge_overhead_ms):>12s}  "
                     f"{'-' if load.steal is None else format(load.steal, '.0%'):>5s}  "
                     f"{'-' if load.load_average is None else format(load.load_average, '.1f')}")
    saturated = [load for load in loads if load.saturated]
    if saturated:
        lines.append(f"  SATURATED in run{'s' if len(saturated) > 1 else ''} "
                     f"{', '.join(str(load.run + 1) for load in saturated)} of {len(loads)}: "
                     f"this machine ({os.cpu_count()} CPUs) could not keep up; timeouts there "
                     "are not blamed on participants whose models answered in time.")
        for load in saturated:
            lines.append(f"    run {load.run + 1}: {'; '.join(load.reasons)}")
        lines.append("  To judge everyone, rehearse with fewer participants, a lower "
                     "requests_per_second, or on a machine with more free CPUs.")
    else:
        lines.append(f"  kept up: no delay of the machinery reached the saturation limit "
                     f"({loads[0].limit_ms:,.0f} ms)" if loads else "  no traffic runs")
    return lines


def write_capacity(path: Path, outcome: Outcome, verdicts: dict, timings: dict) -> None:
    """The figures of the capacity section and the verdicts, for benches and CI."""
    path.write_text(json.dumps({
        "runs": [{**{k: v for k, v in dataclasses.asdict(load).items() if k != "model_ms"},
                  "achieved_per_second": load.achieved_per_second,
                  "target_per_second": load.target_per_second, "saturated": load.saturated}
                 for load in outcome.loads],
        "verdicts": {p: dataclasses.asdict(v) for p, v in verdicts.items()},
        "phase_seconds": timings}, indent=2))


def draw_dashboard(outcome: Outcome, settings: Settings, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    from matplotlib import pyplot

    from handlers import scoring
    runs = range(1, len(outcome.runs) + 1)
    figure, (rmse_axis, error_axis) = pyplot.subplots(1, 2, figsize=(12, 4.5))
    for p in outcome.delivered:
        rmse = [scoring.rmse(run.get(p, scoring.empty()), scoring.SPLITS) for run in outcome.runs]
        errors = [100 * (scoring.error_rate(run.get(p, scoring.empty())) or 0) for run in outcome.runs]
        rmse_axis.plot(runs, [np.nan if r is None else r for r in rmse], marker="o", label=p)
        error_axis.plot(runs, errors, marker="o", label=p)
    if settings.drift_from_run is not None and settings.drift_from_run < len(outcome.runs):
        for axis in (rmse_axis, error_axis):
            axis.axvline(settings.drift_from_run + 0.5, color="grey", linestyle="--")
    rmse_axis.axhline(fc_samples.NOISE_FLOOR_RMSE, color="black", linewidth=0.8,
                      label="noise floor")
    for axis in (rmse_axis, error_axis):
        axis.set_xticks(list(runs))
    rmse_axis.set(title="Live RMSE per participant (ms)", xlabel="traffic run", ylim=(0, None))
    error_axis.set(title="Error rate per participant (%)", xlabel="traffic run", ylim=(0, 105))
    rmse_axis.legend(fontsize=8)
    figure.suptitle("rehearsal: the room at a glance")
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    pyplot.close(figure)


def retraining_phase(world: World, settings: Settings, outcome: Outcome,
                     runtime: RuntimeProcess, progress: Progress):
    """The callback that evaluates the RMSE alarms and runs the loop after each run
    (rehearsal.retraining), or None when nobody has `retraining: auto`."""
    if not any(p.retraining for p in settings.participants):
        return None
    from rehearsal.retraining import RetrainingPhase
    phase = RetrainingPhase(world, ACCOUNT)
    for person, participant in zip(settings.participants, ids(settings)):
        looping = bool(person.retraining) and person.fault != "never-deploys"
        phase.follow(participant, person.algorithm, looping, person.fault == "bad-retrain")
        if looping:
            phase.register_lab2(participant, outcome.models[participant], person.hyperparameters)
    edge = next(f.settings() for f in world.functions.values()
                if f.module == edge_traffic.__name__)
    feed = next(f.settings() for f in world.functions.values()
                if f.module == publish_samples.__name__)
    floor = fc_samples.noise_floor(edge.drift_profile)

    def after_run(run: int) -> None:
        for line in phase.after_run(run, outcome.runs, runtime, edge.drift_profile,
                                    feed.samples_per_second):
            progress.say(line)
        outcome.retraining_lines = phase.summary_lines(outcome.runs, settings.drift_from_run,
                                                       floor, feed.samples_per_second)
    return after_run


def with_reset(after_run, world: World, declaration: Declaration, settings: Settings,
               outcome: Outcome, sagemaker, progress: Progress):
    """`after_run`, then (after the set run) the reset of one participant (rehearsal.reset)."""
    if settings.reset is None:
        return after_run
    from rehearsal.reset import reset

    def then_reset(run: int) -> None:
        if after_run is not None:
            after_run(run)
        if run + 1 == settings.reset_after_run:
            outcome.reset = reset(world, declaration, slugify(settings.reset),
                                  settings.reset_after_run, sagemaker)
            progress.say(f"   reset {outcome.reset.participant} as `fleet reset`: "
                         f"{len(outcome.reset.deleted)} resources deleted, "
                         f"{len(outcome.reset.recreated)} re-created from a fresh evaluation")
    return then_reset


def rehearse(settings: Settings, out: Path, program_path: Path = PROGRAM,
             progress: Progress | None = None, machine_overhead_s: float = 0.0,
             unswept: Collection[str] = ()) -> int:
    """Run the whole event; the exit code is non-zero if any sample was lost, any
    participant could not get in through their join link, or the final audit found
    anything billable left.

    `machine_overhead_s` delays every model call by that much, as a starved machine
    would (to see a saturated rehearsal reported as such). The sweep skips the
    participants in `unswept` (to see the audit fail on what they left).
    """
    from moto import mock_aws
    check_settings(settings)  # before any phase: every problem at once, not one per run
    progress = progress or Progress()
    out.mkdir(parents=True, exist_ok=True)
    outcome = Outcome()
    keep = {k: os.environ.get(k) for k in ("MOTO_ACCOUNT_ID", "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME")}
    handler_output = open(out / "lambda.log", "w")  # noqa: SIM115 (closed in the finally below)
    try:
        os.environ.update(MOTO_ACCOUNT_ID=ACCOUNT, AWS_DEFAULT_REGION="us-east-1",
                          AWS_ACCESS_KEY_ID="rehearsal", AWS_SECRET_ACCESS_KEY="rehearsal")
        with progress.phase("declare: evaluate the Pulumi program"):
            declaration = declare(settings, out, program_path)
            program = declaration.program
            progress.say(f"   {len(program.resources)} resources for "
                         f"{len(settings.participants)} participants"
                         + (f" in an event stack and {len(declaration.stacks)} participant "
                            "stacks" if declaration.stacks else " in one stack"))
        with mock_aws(), rehearsed_account(), \
                RuntimeProcess(ACCOUNT, machine_overhead_s) as runtime, \
                contextlib.redirect_stdout(handler_output):
            os.environ["AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME"] = runtime.url
            with progress.phase("provision: create what it declares, in moto"):
                tap = Tap()
                world = provision(program, tap.queue_arn)
                progress.say(f"   {len(world.functions)} functions, {len(world.stages)} stages, "
                             f"{sum(map(len, world.subscribers.values()))} subscriptions")
            # Each stage: its participant (to time their handler), handler module, environment.
            routes = {stage: (f.settings().participant, f.module, f.env)
                      for stage, f in world.stages.items()}
            fronts = front_processes(len(routes) * settings.requests_per_second)
            stage_faults = attacks.stage_faults(
                {participant: stage for stage, (participant, _, _) in routes.items()},
                {p: person.fault for person, p in zip(settings.participants, ids(settings))})
            # Who may call each stage, and its throttle, as the program declares them; the
            # edge signs with the rehearsal's key.
            callers = declared_callers(program, ids(settings), os.environ["AWS_ACCESS_KEY_ID"])
            with ApiFront(routes, runtime.url, out / "lambda-inference.log", fronts,
                          stage_faults, callers, declared_throttles(program)) as api:
                with progress.phase("collect: Lab 1, FC feed -> SNS -> Lambda -> Firehose -> S3"):
                    collect(world, tap, settings, progress, outcome)
                with progress.phase("train and deploy: Lab 2"):
                    train_and_deploy(world, settings, runtime, progress, outcome)
                    sagemaker = teardown.RunningJobs(boto3.client("sagemaker"))
                    planted = teardown.plant(world, ids(settings), EVENT, sagemaker)
                    progress.say(f"   the notebooks left {len(planted)} running training jobs "
                                 "with their models and endpoint configurations")
                after_run = with_reset(retraining_phase(world, settings, outcome, runtime,
                                                        progress),
                                       world, declaration, settings, outcome, sagemaker,
                                       progress)
                with progress.phase("traffic: the FC edge scores every participant"):
                    traffic(world, settings, api, progress, outcome, runtime, after_run)
            with progress.phase("portal: handouts, then everyone in through their join link"):
                entered = enter_through_links(world, out, progress.say, "rehearsal")
            with progress.phase("teardown: sweep, destroy and audit, as `fleet destroy`"):
                outcome.teardown = teardown.teardown(world, ids(settings), EVENT, sagemaker,
                                                     unswept)
                progress.say(f"   audit: {len(outcome.teardown.billable)} billable leftovers")
            with progress.phase("report"):
                code = report(settings, outcome, progress, out, world)
        return code or (0 if entered.everyone_entered else 1)
    finally:
        handler_output.close()
        for key, value in keep.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
