"""The rehearsal's serving path in processes of its own: the SageMaker runtime, the API front.

Measured at 30 participants (150 requests/s) with everything in one process, answers
took 0.5-0.8 s while the models took about 1 ms: the edge's threads, the front's, every
inference handler's and the runtime's all queued for one interpreter lock. Here the
local SageMaker runtime runs in one process, the API front with every participant's
inference handler in another, and the edge stays in the rehearsal's own process (with
moto), so each can use a CPU of its own and none waits for the other's lock.

Each process is driven through a pipe: deploy a model, take the run's measurements
(queueing, handler and model times), stop. Processes are spawned, not forked (the
rehearsal's process runs threads and moto), and stopped on leaving the `with`, Ctrl-C
included. What the inference handlers print goes to their own log file.
"""

from __future__ import annotations

import contextlib
import importlib
import multiprocessing
import os
import time
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

START_TIMEOUT_S = 120  # spawning imports numpy, xgboost and boto3: slow on a busy machine


def _runtime_main(connection, account: str, overhead_s: float) -> None:
    from rehearsal.endpoints import LocalRuntime
    with LocalRuntime(account, overhead_s) as runtime:
        connection.send(runtime.url)
        while True:
            command, argument = connection.recv()
            if command == "deploy":
                runtime.deploy(*argument)
                connection.send(True)
            elif command == "take":
                connection.send((runtime.take_queueing(), runtime.take_service()))
            else:
                return


def iam_authorizer(callers: Mapping[str, Collection[str]]):
    """A stage's AWS_IAM authorization: unsigned requests are refused, and signed ones
    unless their access key may invoke that stage (`callers`: stage -> access key ids).
    The local front knows callers by access key and does not verify signatures."""
    from tools.local_api import caller_of

    def authorize(stage: str, headers: Mapping[str, str]) -> str | None:
        caller = caller_of(headers)
        if not caller.startswith("iam:"):
            return "Missing Authentication Token"
        if caller.removeprefix("iam:") not in callers.get(stage, ()):
            return (f"User: {caller.removeprefix('iam:')} is not authorized to perform: "
                    f"execute-api:Invoke on resource: {stage}/GET/liveinference")
        return None
    return authorize


def _front_main(connection, routes: Mapping[str, tuple[str, str, dict]], environment: dict,
                log_file: str, faults: Mapping[str, tuple[str, str]] | None = None,
                callers: Mapping[str, Collection[str]] | None = None) -> None:
    # A spawned child already imports from the parent's import path (multiprocessing passes it).
    os.environ.update(environment)
    from rehearsal import faults as attacks
    from rehearsal.capacity import Stopwatch
    from tools.local_api import LocalApi, Route
    handlers = Stopwatch()

    def route(participant: str, module: str, env: dict) -> Route:
        code = importlib.import_module(module)
        settings = code.Settings.from_environment(env)  # as Lambda reads it, once
        # Warm, like provisioned concurrency: without this the first requests of every
        # participant build the handler's boto3 client at once, all on this machine
        # (6.6 s of waiting measured at 30 participants), and time out for it.
        if callable(getattr(code, "runtime_client", None)):
            code.runtime_client()

        def handle(event: dict) -> Mapping[str, Any]:
            started = time.perf_counter()
            try:
                return code.handle(event, settings)
            finally:
                handlers.record(participant, time.perf_counter() - started)
        return Route(handle)

    served = {stage: route(*spec) for stage, spec in routes.items()}
    for stage, (fault, rival) in (faults or {}).items():
        if stage in served:  # a stage its participant answers on their own terms
            served[stage].raw = attacks.stage_answer(fault, rival)
    with open(log_file, "a", buffering=1) as log, contextlib.redirect_stdout(log), \
            LocalApi(served, authorize=iam_authorizer(callers) if callers is not None
                     else None) as api:
        connection.send(api.base_url)
        while True:
            command, _ = connection.recv()
            if command == "take":
                connection.send((api.take_queueing(), handlers.take()))
            else:
                return


class _Child:
    """A spawned process serving on 127.0.0.1, answering commands on a pipe."""

    def __init__(self, target, *args):
        context = multiprocessing.get_context("spawn")
        self._connection, child_end = context.Pipe()
        self._process = context.Process(target=target, args=(child_end, *args), daemon=True)
        self.base_url = ""

    def __enter__(self):
        self._process.start()
        try:
            if not self._connection.poll(START_TIMEOUT_S):
                raise RuntimeError(f"a local server did not start within {START_TIMEOUT_S} s")
            self.base_url = self._connection.recv()
        except EOFError:
            raise RuntimeError("a local server process stopped before serving (its error is "
                               "printed above)") from None
        finally:
            if not self.base_url:
                self._stop()
        return self

    def _ask(self, command: str, argument: Any = None) -> Any:
        self._connection.send((command, argument))
        return self._connection.recv()

    def _stop(self) -> None:
        with contextlib.suppress(OSError, EOFError):
            self._connection.send(("stop", None))
        self._process.join(timeout=5)
        if self._process.is_alive():
            self._process.terminate()  # our own child, by its handle
            self._process.join(timeout=5)

    def __exit__(self, *exc) -> None:
        self._stop()


class RuntimeProcess(_Child):
    """rehearsal.endpoints.LocalRuntime, in its own process; same interface."""

    def __init__(self, account: str, overhead_s: float = 0.0):
        super().__init__(_runtime_main, account, overhead_s)
        self._queueing: list[float] = []
        self._service: dict[str, list[float]] = {}

    @property
    def url(self) -> str:
        return self.base_url

    def deploy(self, name: str, endpoint) -> None:
        self._ask("deploy", (name, endpoint))

    def _take(self) -> None:
        queueing, service = self._ask("take")
        self._queueing += queueing
        for name, times in service.items():
            self._service.setdefault(name, []).extend(times)

    def take_queueing(self) -> list[float]:
        self._take()
        taken, self._queueing = self._queueing, []
        return taken

    def take_service(self) -> dict[str, list[float]]:
        self._take()
        taken, self._service = self._service, {}
        return taken


class ApiProcess(_Child):
    """tools.local_api.LocalApi fronting every inference handler, in its own process.

    `routes` maps each stage to (participant, handler module, environment).
    """

    def __init__(self, routes: Mapping[str, tuple[str, str, dict]], runtime_url: str,
                 log_file: Path, faults: Mapping[str, tuple[str, str]] | None = None,
                 callers: Mapping[str, Collection[str]] | None = None):
        environment = {k: v for k, v in os.environ.items() if k.startswith("AWS_")}
        environment["AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME"] = runtime_url
        super().__init__(_front_main, dict(routes), environment, str(log_file),
                         dict(faults or {}), None if callers is None
                         else {stage: set(keys) for stage, keys in callers.items()})
        self._queueing: list[float] = []
        self._handlers: dict[str, list[float]] = {}

    def _take(self) -> None:
        queueing, handlers = self._ask("take")
        self._queueing += queueing
        for participant, times in handlers.items():
            self._handlers.setdefault(participant, []).extend(times)

    def take_queueing(self) -> list[float]:
        self._take()
        taken, self._queueing = self._queueing, []
        return taken

    def take_handlers(self) -> dict[str, list[float]]:
        self._take()
        taken, self._handlers = self._handlers, {}
        return taken


# One front process served about 300 requests/s at most (measured: 314 of 500 planned at
# 100 participants, botocore's ~2.5 ms of CPU per inference call dominating), so a
# rehearsal planning more gets more front processes, as many as there are CPUs.
FRONT_REQUESTS_PER_SECOND = 300


def front_processes(requests_per_second: float, cpus: int | None = None) -> int:
    cpus = cpus or os.cpu_count() or 1
    return max(1, min(cpus, -(-int(requests_per_second) // FRONT_REQUESTS_PER_SECOND)))


class ApiFront:
    """The API front over one or more ApiProcess, stages shared out among them.

    `faults` maps a stage to (stage fault, rival stage) (rehearsal.faults); `callers`, when
    given, maps each stage to the access keys its AWS_IAM authorization lets in."""

    def __init__(self, routes: Mapping[str, tuple[str, str, dict]], runtime_url: str,
                 log_file: Path, processes: int = 1,
                 faults: Mapping[str, tuple[str, str]] | None = None,
                 callers: Mapping[str, Collection[str]] | None = None):
        stages = sorted(routes)
        self._parts = [ApiProcess({s: routes[s] for s in stages[i::processes]}, runtime_url,
                                  log_file.with_name(f"{log_file.stem}-{i}{log_file.suffix}")
                                  if processes > 1 else log_file, faults, callers)
                       for i in range(processes)]
        self._of_stage = {s: self._parts[i % processes] for i, s in enumerate(stages)}
        self._stack = contextlib.ExitStack()

    def __enter__(self):
        with self._stack as stack:
            for part in self._parts:
                stack.enter_context(part)
            self._stack = stack.pop_all()
        return self

    def __exit__(self, *exc) -> None:
        self._stack.close()

    def __len__(self) -> int:
        return len(self._parts)

    def base_url(self, stage: str) -> str:
        """The front serving this stage (an unknown stage gets the first: a 403 there)."""
        return self._of_stage.get(stage, self._parts[0]).base_url

    def take_queueing(self) -> list[float]:
        return [delay for part in self._parts for delay in part.take_queueing()]

    def take_handlers(self) -> dict[str, list[float]]:
        taken: dict[str, list[float]] = {}
        for part in self._parts:
            for participant, times in part.take_handlers().items():
                taken.setdefault(participant, []).extend(times)
        return taken
