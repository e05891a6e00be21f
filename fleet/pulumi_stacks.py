"""The `Stacks` protocol over Pulumi's Automation API: a thin adapter, nothing decided here.

LocalStacks runs every operation on this machine through a LocalWorkspace over the project's
own directory (the same Pulumi.yaml and __main__.py the organizer runs by hand), one
`pulumi` process per stack operation. RemoteStacks runs the same operations on Pulumi
Deployments from a Git source; listing, outputs and states still come from the local CLI,
logged in to the same Pulumi Cloud organization.
"""

from __future__ import annotations

import shlex
import shutil
import threading
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pulumi import automation as auto

from fleet.naming import StackSpec
from fleet.stacks import StackListener, StackState

PULUMI_INSTALL = "https://www.pulumi.com/docs/install/"
MISSING_CLI = f"fleet needs the Pulumi CLI (pulumi) on PATH: {PULUMI_INSTALL}"
STATE_LOOKUPS_AT_ONCE = 8  # `pulumi stack history` processes while building `fleet status`


def pulumi_cli_missing() -> str | None:
    """The one line to print when the Automation API cannot work here, else None."""
    return None if shutil.which("pulumi") else MISSING_CLI


class EngineProgress:
    """Engine events -> resources done/total and the latest message worth showing.

    The total is the number of resource steps the engine has announced so far: Pulumi does
    not know the final count until the program has declared everything.
    """

    def __init__(self, listener: StackListener):
        self.listener = listener
        self.started: set[str] = set()
        self.done: set[str] = set()
        self._lock = threading.Lock()

    def __call__(self, event: auto.EngineEvent) -> None:
        with self._lock:
            if event.resource_pre_event is not None:
                self.started.add(event.resource_pre_event.metadata.urn)
            elif event.res_outputs_event is not None:
                self.done.add(event.res_outputs_event.metadata.urn)
            elif event.res_op_failed_event is not None:
                self.done.add(event.res_op_failed_event.metadata.urn)
            elif event.diagnostic_event is not None:
                diagnostic = event.diagnostic_event
                if diagnostic.severity in ("error", "warning") and diagnostic.message.strip():
                    self.listener.message(diagnostic.message.strip().splitlines()[0])
                return
            else:
                return
            self.listener.resources(len(self.done), len(self.started))


def _plain(outputs: Mapping[str, auto.OutputValue]) -> dict[str, Any]:
    return {key: output.value for key, output in outputs.items()}


def _config(spec: StackSpec) -> dict[str, auto.ConfigValue]:
    return {key: auto.ConfigValue(value=value) for key, value in spec.config.items()}


def _unprotect(stack: auto.Stack | auto.RemoteStack) -> None:
    """Lift `protect` from the stack's resources before a destroy the fleet decided on.

    The event stack protects the APIs participant stacks' stages live on, so that a plain
    `pulumi destroy` of it stops while they exist. The orchestrator destroys the event stack
    only once no participant stack remains; this is `pulumi state unprotect --all` for it.
    """
    state = stack.export_stack()
    resources = (state.deployment or {}).get("resources") or []
    if any(resource.get("protect") for resource in resources):
        for resource in resources:
            resource.pop("protect", None)
        stack.import_stack(state)


def _short(name: str) -> str:
    return name.split("/")[-1]


@dataclass
class LocalStacks:
    work_dir: Path
    org: str | None = None  # Pulumi Cloud organization; None: the backend's default
    env_vars: Mapping[str, str] = field(default_factory=dict)

    def _qualified(self, name: str) -> str:
        return f"{self.org}/{name}" if self.org else name

    def _options(self) -> auto.LocalWorkspaceOptions:
        return auto.LocalWorkspaceOptions(env_vars=dict(self.env_vars) or None)

    def _stack(self, name: str) -> auto.Stack:
        return auto.create_or_select_stack(stack_name=self._qualified(name),
                                           work_dir=str(self.work_dir), opts=self._options())

    def _workspace(self) -> auto.LocalWorkspace:
        return auto.LocalWorkspace(work_dir=str(self.work_dir),
                                   env_vars=dict(self.env_vars) or None)

    def existing(self) -> list[str]:
        return sorted(_short(s.name) for s in self._workspace().list_stacks())

    def up(self, spec: StackSpec, listener: StackListener) -> Mapping[str, Any]:
        stack = self._stack(spec.name)
        stack.set_all_config(_config(spec))
        result = stack.up(on_output=listener.output, on_event=EngineProgress(listener),
                          color="never")
        return _plain(result.outputs)

    def preview(self, spec: StackSpec, listener: StackListener) -> Mapping[str, int]:
        stack = self._stack(spec.name)
        stack.set_all_config(_config(spec))
        result = stack.preview(on_output=listener.output, on_event=EngineProgress(listener),
                               color="never")
        return {getattr(op, "value", str(op)): count for op, count in result.change_summary.items()}

    def destroy(self, name: str, listener: StackListener) -> None:
        stack = auto.select_stack(stack_name=self._qualified(name), work_dir=str(self.work_dir),
                                  opts=self._options())
        _unprotect(stack)
        stack.destroy(on_output=listener.output, on_event=EngineProgress(listener),
                      color="never", remove=True)

    def outputs(self, name: str) -> Mapping[str, Any]:
        return _plain(self._workspace().stack_outputs(self._qualified(name)))

    def states(self) -> Mapping[str, StackState]:
        summaries = self._workspace().list_stacks()

        def state_of(summary: auto.StackSummary) -> StackState:
            name = _short(summary.name)
            if summary.update_in_progress:
                return StackState(name, "in-progress", summary.resource_count,
                                  summary.last_update)
            info = auto.select_stack(stack_name=self._qualified(name),
                                     work_dir=str(self.work_dir), opts=self._options()).info()
            return StackState(name, info.result if info else None, summary.resource_count,
                              summary.last_update)

        with ThreadPoolExecutor(max_workers=STATE_LOOKUPS_AT_ONCE) as pool:
            return {state.name: state for state in pool.map(state_of, summaries)}

    def get_config(self, name: str, key: str) -> str | None:
        # The whole map, not get_config(key): that fails the same way for "unset" as for any
        # other error, and an error read as "unset" would make `fleet codes` replace codes.
        config = self._stack(name).get_all_config()
        found = [v for k, v in config.items() if k.split(":", 1)[-1] == key and ":" in k
                 and not k.startswith("aws:")]
        return found[0].value if found else None

    def set_secret_config(self, name: str, key: str, value: str) -> None:
        # In the local Pulumi.<stack>.yaml, encrypted with the stack's key; with --remote the
        # deployment reads the same file from the repository, so commit it.
        self._stack(name).set_config(key, auto.ConfigValue(value=value, secret=True))


@dataclass(frozen=True)
class RemoteSource:
    """Where Pulumi Deployments gets the program, and how it may read the repository."""

    url: str
    branch: str
    project_path: str | None = None
    git_token: str | None = None  # a personal access token, for a private repository
    env_vars: Mapping[str, str] = field(default_factory=dict)  # plain, e.g. AWS_REGION
    secret_env_vars: Mapping[str, str] = field(default_factory=dict)  # e.g. AWS keys
    inherit_settings: bool = False  # use the stack's own deployment settings (e.g. AWS OIDC)


@dataclass
class RemoteStacks(LocalStacks):
    """Operations on Pulumi Deployments; stack names must be fully qualified there."""

    source: RemoteSource | None = None
    project: str = "ml-workshop"

    def _fully_qualified(self, name: str) -> str:
        return f"{self.org}/{self.project}/{name}"

    def _remote(self, spec: StackSpec) -> auto.RemoteStack:
        source = self.source
        stack_name = self._fully_qualified(spec.name)
        # A remote workspace has no local Pulumi.<stack>.yaml; the config is set in the
        # deployment's own checkout before the operation runs.
        set_config = [f"pulumi config set --stack {shlex.quote(stack_name)} "
                      f"{shlex.quote(key)} {shlex.quote(value)}"
                      for key, value in spec.config.items()]
        env: dict[str, str | auto.Secret] = dict(source.env_vars)
        env.update({key: auto.Secret(value) for key, value in source.secret_env_vars.items()})
        return auto.create_or_select_remote_stack_git_source(
            stack_name=stack_name, url=source.url, branch=source.branch,
            project_path=source.project_path,
            auth=auto.RemoteGitAuth(personal_access_token=source.git_token)
            if source.git_token else None,
            opts=auto.RemoteWorkspaceOptions(env_vars=env or None, pre_run_commands=set_config,
                                             inherit_settings=source.inherit_settings or None))

    def up(self, spec: StackSpec, listener: StackListener) -> Mapping[str, Any]:
        result = self._remote(spec).up(on_output=listener.output,
                                       on_event=EngineProgress(listener))
        return _plain(result.outputs)

    def preview(self, spec: StackSpec, listener: StackListener) -> Mapping[str, int]:
        result = self._remote(spec).preview(on_output=listener.output,
                                            on_event=EngineProgress(listener))
        return {getattr(op, "value", str(op)): count for op, count in result.change_summary.items()}

    def destroy(self, name: str, listener: StackListener) -> None:
        stack = self._remote(StackSpec(name))
        _unprotect(stack)
        stack.destroy(on_output=listener.output, on_event=EngineProgress(listener))
        # RemoteStack.destroy has no `remove`; the emptied stack is removed locally.
        self._workspace().remove_stack(self._fully_qualified(name))

    def _qualified(self, name: str) -> str:
        return self._fully_qualified(name)


def stack_reference_org(work_dir: Path) -> str:
    """The organization part of `<org>/<project>/<stack>` when --org is not given: the
    logged-in user on Pulumi Cloud, the literal 'organization' on a self-managed backend
    (file://, s3://, ...), which is how those backends qualify stack names."""
    who = auto.LocalWorkspace(work_dir=str(work_dir)).who_am_i()
    return who.user if (who.url or "").startswith(("https://", "http://")) else "organization"
