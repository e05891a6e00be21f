"""The rehearsal's retraining phase: after the drift, the loop retrains and promotes.

For every participant with `retraining: auto` in rehearsal.yaml:

1. **Lab 2, as SageMaker knows it.** The model the rehearsal trained for them is
   registered in moto the way a notebook leaves it: a completed training job with their
   hyperparameters and artifact, a model, an endpoint configuration and their declared
   endpoint pointing at it. The loop reads what is served from there (served_model).
2. **The trigger** is the RMSE alarm the program declares for them (components/monitoring.py),
   evaluated here because the emulator cannot: its threshold, comparison, evaluation
   periods and datapoints to alarm, against their RMSE per traffic run (one run stands for
   one alarm period). Every participant's alarm is evaluated; only looping ones act on it.
3. **The loop** is their declared retraining function (its environment read through
   `handlers.retraining.Settings`), turned on as their notebook would (`enable`), then
   handed the alarm's state-change event through `tools.local_retraining.LocalLoop`,
   against moto with `tools.local_sagemaker` training the candidate for real.
4. **Compressed time.** The loop trains on the samples of its window (`retrainingWindowMinutes`
   at the feed's `samplesPerSecond`); a rehearsal lasts minutes, so at the trigger the
   window's drifted samples are written into their bucket at once, in the layout
   Firehose is declared with, instead of arriving over the window's minutes.
5. **Serving.** If the judge promotes, the model their endpoint's new configuration names
   is loaded from its artifact and deployed to the local SageMaker runtime process, so
   the following traffic runs score it. A kept candidate changes nothing.

Fault `bad-retrain` makes their retraining jobs train on shuffled labels
(local_sagemaker.JOB_FAULTS "bad-model"): a genuinely worse candidate, which must be kept.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import boto3

from handlers import fc_samples, retraining, retraining_data, scoring
from handlers.served_model import algorithm_of
from rehearsal.endpoints import Deployed
from rehearsal.world import Function, World, participant_of
from tools import local_sagemaker
from tools.local_retraining import LocalLoop
from tools.local_sagemaker import EmulatedRuntime, emulate_sagemaker, load_predictor

ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
MODEL = "aws:sagemaker/model:Model"
WINDOW_SEED = 7_000  # the window's drifted samples: not the edge's (seeded per run)
# The built-in k-NN and Linear Learner images live in this registry in us-east-1
# (XGBoost's is another; the program declares that one and it is reused as declared).
BUILTIN_REGISTRY = "382416733822"


@dataclass(frozen=True)
class AlarmRule:
    """A declared CloudWatch alarm, enough to evaluate it on per-period values."""

    name: str
    arn: str
    threshold: float
    comparison: str
    evaluation_periods: int
    datapoints_to_alarm: int

    @classmethod
    def declared(cls, world: World, name: str) -> AlarmRule:
        [alarm] = [a for a in world.program.of_type(ALARM) if a.inputs.get("name") == name]
        inputs = alarm.inputs
        return cls(name, alarm.state.get("arn", name), float(inputs["threshold"]),
                   inputs["comparisonOperator"], int(inputs["evaluationPeriods"]),
                   int(inputs.get("datapointsToAlarm") or inputs["evaluationPeriods"]))

    def breaches(self, value: float | None) -> bool:
        if value is None:  # treat_missing_data = notBreaching: no traffic is no incident
            return False
        return {"GreaterThanThreshold": value > self.threshold,
                "GreaterThanOrEqualToThreshold": value >= self.threshold,
                "LessThanThreshold": value < self.threshold,
                "LessThanOrEqualToThreshold": value <= self.threshold}[self.comparison]

    def in_alarm(self, values: list[float | None]) -> bool:
        """M of the last N periods breaching (N = evaluation periods, M = datapoints)."""
        recent = values[-self.evaluation_periods:]
        return sum(map(self.breaches, recent)) >= self.datapoints_to_alarm

    def describe(self) -> str:
        return (f"{self.comparison} {self.threshold:,.0f} ms in {self.datapoints_to_alarm} of "
                f"{self.evaluation_periods} periods")

    def state_change(self, account: str, region: str) -> dict:
        """The event EventBridge delivers when this alarm enters ALARM."""
        return {"version": "0", "id": f"rehearsal-{self.name}", "source": "aws.cloudwatch",
                "detail-type": "CloudWatch Alarm State Change", "account": account,
                "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), "region": region,
                "resources": [self.arn],
                "detail": {"alarmName": self.name, "previousState": {"value": "OK"},
                           "state": {"value": "ALARM", "reason": f"Threshold Crossed: "
                                                                f"{self.describe()}"}}}


@dataclass
class Track:
    """One participant's way through the drift."""

    participant: str
    algorithm: str
    alarm: AlarmRule
    looping: bool
    bad_retrain: bool = False
    function: Function | None = None
    trigger_run: int | None = None  # the run after which the alarm entered ALARM
    decision: str = "none"  # promoted / kept / job_failed / ... ; none: no loop
    reason: str = ""
    trigger_to_promotion_s: float | None = None
    window_samples: int = 0
    window_minutes: int = 0
    attempt: dict = field(default_factory=dict)


def _served_image(world: World, participant: str, algorithm: str) -> str:
    declared = participant_of(world.program, f"{participant}-lab2", MODEL)
    image = declared.inputs["primaryContainer"]["image"]
    if algorithm == "xgboost":
        return image
    region = image.split(".dkr.ecr.")[1].split(".")[0]
    return f"{BUILTIN_REGISTRY}.dkr.ecr.{region}.amazonaws.com/{algorithm}:1"


class RetrainingPhase:
    """The loop for the participants who turned it on; the alarm's verdict for everyone."""

    def __init__(self, world: World, account: str, region: str = "us-east-1"):
        self.world, self.account, self.region = world, account, region
        self.tracks: dict[str, Track] = {}
        self.loops: dict[str, LocalLoop] = {}
        self.s3, self.sagemaker = boto3.client("s3"), boto3.client("sagemaker")
        outputs = world.program.outputs["participants"]
        self._functions = {p: world.by_name(o["retraining_function"]) for p, o in outputs.items()}
        self._endpoints = {p: o["endpoint"] for p, o in outputs.items()}

    def follow(self, participant: str, algorithm: str, looping: bool,
               bad_retrain: bool = False) -> Track:
        function = self._functions[participant]
        alarm = AlarmRule.declared(self.world, function.settings().alarm_name)
        track = Track(participant, algorithm, alarm, looping, bad_retrain, function)
        self.tracks[participant] = track
        return track

    # --- Lab 2 as a notebook leaves it ----------------------------------------------------

    def register_lab2(self, participant: str, model: Any, hyperparameters: dict) -> None:
        """A completed job with this model's artifact, served by their declared endpoint."""
        track, config = self.tracks[participant], self._functions[participant].settings()
        job = f"{config.event}-{participant}--lab2-{datetime.now(UTC):%Y%m%d%H%M%S}"
        image = _served_image(self.world, participant, track.algorithm)
        self.sagemaker.create_training_job(  # outside emulate_sagemaker: recorded, not run
            TrainingJobName=job, RoleArn=config.sagemaker_role_arn,
            HyperParameters={k: str(v) for k, v in hyperparameters.items()},
            AlgorithmSpecification={"TrainingImage": image, "TrainingInputMode": "File"},
            InputDataConfig=[{"ChannelName": "train", "DataSource": {"S3DataSource": {
                "S3DataType": "S3Prefix", "S3Uri": f"s3://{config.bucket}/lab2/train/"}}}],
            OutputDataConfig={"S3OutputPath": f"s3://{config.bucket}/lab2/"},
            ResourceConfig={"InstanceType": config.training_instance_type,
                            "InstanceCount": 1, "VolumeSizeInGB": 10},
            StoppingCondition={"MaxRuntimeInSeconds": 3600}, Tags=config.tags)
        artifact = self.sagemaker.describe_training_job(TrainingJobName=job)[
            "ModelArtifacts"]["S3ModelArtifacts"]
        bucket, key = artifact.removeprefix("s3://").split("/", 1)
        self.s3.put_object(Bucket=bucket, Key=key, Body=local_sagemaker._artifact(model))
        self.sagemaker.create_model(ModelName=f"{job}-model", ExecutionRoleArn=config.sagemaker_role_arn,
                                    PrimaryContainer={"Image": image, "ModelDataUrl": artifact})
        self.sagemaker.create_endpoint_config(EndpointConfigName=f"{job}-config", ProductionVariants=[{
            "VariantName": "AllTraffic", "ModelName": f"{job}-model", "InitialInstanceCount": 1,
            "InstanceType": "ml.m5.large", "InitialVariantWeight": 1.0}])
        self.sagemaker.create_endpoint(EndpointName=config.endpoint_name,
                                       EndpointConfigName=f"{job}-config")
        table = boto3.resource("dynamodb").Table(config.table_name)
        loop = LocalLoop(track.function.env, retraining.Clients(
            self.sagemaker, EmulatedRuntime(self.account, self.region), self.s3, table),
            account=self.account, region=self.region)
        loop.invoke({"action": "enable"}, deliver=False)  # what their notebook's switch does
        self.loops[participant] = loop

    # --- after every traffic run ----------------------------------------------------------

    def after_run(self, run: int, runs: list[dict[str, dict]], runtime: Any,
                  drift_profile: str, feed_rate: int) -> list[str]:
        """Evaluate every alarm on the runs so far; run the loop where one entered ALARM."""
        said = []
        for participant, track in self.tracks.items():
            if track.trigger_run is not None:
                continue  # an alarm in ALARM stays there: no second state change
            values = [scoring.rmse(r.get(participant, scoring.empty()), scoring.SPLITS)
                      for r in runs]
            if not track.alarm.in_alarm(values):
                continue
            track.trigger_run = run
            if not track.looping:
                said.append(f"   {participant}: RMSE alarm in ALARM after run {run + 1}; "
                            "no retraining loop")
                continue
            said.append(self._retrain(track, runtime, drift_profile, feed_rate))
        return said

    def _retrain(self, track: Track, runtime: Any, drift_profile: str, feed_rate: int) -> str:
        config: retraining.Settings = track.function.settings()
        loop = self.loops[track.participant]
        track.window_minutes = config.window_minutes
        track.window_samples = config.window_minutes * 60 * feed_rate
        started = time.perf_counter()
        drifted = fc_samples.generate(track.window_samples, WINDOW_SEED, drift_profile)
        self.s3.put_object(
            Bucket=config.bucket,
            Key=retraining_data.hour_prefix(config.samples_prefix, datetime.now(UTC))
            + "rehearsal-window",
            Body="".join(map(fc_samples.encode, drifted)).encode())
        if track.bad_retrain:
            local_sagemaker.JOB_FAULTS[config.job_prefix + "-"] = "bad-model"
        try:
            with emulate_sagemaker():
                answer = loop.invoke(track.alarm.state_change(self.account, self.region))
        finally:
            local_sagemaker.JOB_FAULTS.pop(config.job_prefix + "-", None)
        job = answer.get("job")
        judged = next((r for r in loop.responses if r.get("job") == job
                       and r.get("outcome") not in ("training", "ignored")), None)
        track.decision = (judged or answer)["outcome"]
        track.reason = (judged or answer).get("reason", "")
        track.attempt = judged or answer
        if track.decision == "promoted":
            self._serve_promoted(config.endpoint_name, runtime)
            track.trigger_to_promotion_s = time.perf_counter() - started
        text = (f"   {track.participant}: RMSE alarm in ALARM; retrained on "
                f"{track.window_samples:,} drifted samples ({track.window_minutes} min "
                f"compressed): {track.decision}")
        if judged and judged.get("candidate_rmse") is not None:
            text += (f" (candidate {judged['candidate_rmse']:,.0f} ms vs current "
                     f"{judged.get('current_rmse', float('nan')):,.0f} ms on the holdout)")
        return text

    def _serve_promoted(self, endpoint: str, runtime: Any) -> None:
        """Deploy to the local runtime what the endpoint's configuration names now."""
        config = self.sagemaker.describe_endpoint(EndpointName=endpoint)["EndpointConfigName"]
        [variant] = self.sagemaker.describe_endpoint_config(
            EndpointConfigName=config)["ProductionVariants"]
        container = self.sagemaker.describe_model(ModelName=variant["ModelName"])["PrimaryContainer"]
        bucket, key = container["ModelDataUrl"].removeprefix("s3://").split("/", 1)
        predictor = load_predictor(self.s3.get_object(Bucket=bucket, Key=key)["Body"].read())
        runtime.deploy(endpoint, Deployed(algorithm_of(container["Image"]), predictor))

    # --- the summary ----------------------------------------------------------------------

    def figures(self, runs: list[dict[str, dict]], drift_from_run: int | None) -> dict:
        """participant -> live RMSE before the drift, at the drift, after retraining."""

        def rmse(participant: str, chosen: list[dict]) -> float | None:
            if not chosen:
                return None
            return scoring.rmse(scoring.merge(r.get(participant, scoring.empty())
                                              for r in chosen), scoring.SPLITS)

        drift = len(runs) if drift_from_run is None else drift_from_run
        # Whose alarm never fired is compared over the same runs as the first looping
        # participant's: before and after the room's first retraining.
        moments = [t.trigger_run for t in self.tracks.values()
                   if t.looping and t.trigger_run is not None]
        found = {}
        for participant, track in self.tracks.items():
            moment = track.trigger_run if track.trigger_run is not None else \
                min(moments, default=None)
            end = len(runs) if moment is None else moment + 1
            found[participant] = {"before": rmse(participant, runs[:drift]),
                                  "at_drift": rmse(participant, runs[drift:end]),
                                  "after": rmse(participant, runs[end:])}
        return found

    def summary_lines(self, runs: list[dict[str, dict]], drift_from_run: int | None,
                      drifted_floor: float, feed_rate: int) -> list[str]:
        from bench.retraining import AWS_STEPS
        figures = self.figures(runs, drift_from_run)

        def ms(value):
            return "-" if value is None else f"{value:,.0f}"

        lines = ["", "Retraining (the loop after the drift): live RMSE per phase (ms)",
                 ("  participant              loop  before drift  at drift  after  after/floor"
                 "  decision   trigger->promotion")]
        for participant, track in self.tracks.items():
            f = figures[participant]
            ratio = "-" if f["after"] is None else f"{f['after'] / drifted_floor:.2f}x"
            timing = ("-" if track.trigger_to_promotion_s is None
                      else f"{track.trigger_to_promotion_s:.1f} s")
            lines.append(f"  {participant:24s} {'auto' if track.looping else 'off':4s}  "
                         f"{ms(f['before']):>12s}  {ms(f['at_drift']):>8s}  {ms(f['after']):>5s}"
                         f"  {ratio:>11s}  {track.decision:9s}  {timing}"
                         + ("   [bad-retrain]" if track.bad_retrain else ""))
        alarm = next(iter(self.tracks.values())).alarm if self.tracks else None
        if alarm is not None:
            lines.append(f"  trigger: each participant's declared RMSE alarm ({alarm.describe()}),"
                         " evaluated here with one traffic run as one period")
        windows = {(t.window_minutes, t.window_samples) for t in self.tracks.values()
                   if t.window_samples}
        for minutes, samples in sorted(windows):
            lines.append(f"  compressed: the loop's {minutes}-minute window of drifted samples "
                         f"({samples:,} at {feed_rate} samples/s) was written into the bucket "
                         "at the trigger, in Firehose's declared layout; trigger->promotion is "
                         "local seconds (training for real, no instance start-up)")
        low, high = sum(s[1] for s in AWS_STEPS), sum(s[2] for s in AWS_STEPS)
        lines.append(f"  on AWS (estimate, bench/retraining.py): {low:.0f}-{high:.0f} min from "
                     "the drift showing in the RMSE to promotion")
        lines.append(f"  drifted noise floor {drifted_floor:,.0f} ms; participants without "
                     "the loop keep their degraded model")
        return lines
