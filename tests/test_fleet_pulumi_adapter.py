"""The real adapter calls the installed pulumi.automation with arguments its signatures accept.

`auto` inside fleet.pulumi_stacks is replaced by a double that binds every call against
`inspect.signature` of the real function, class or method (so a keyword that does not exist,
or a method that is not there, fails here) and records it; no Pulumi CLI is needed.
"""

import inspect
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pulumi import automation as auto

import fleet.pulumi_stacks as adapter
from fleet.naming import StackSpec
from fleet.pulumi_stacks import EngineProgress, LocalStacks, RemoteSource, RemoteStacks

CALLS: list[tuple[str, dict]] = []

RESULTS = {
    "up": auto.UpResult("", "", None, {"leaderboard_url": auto.OutputValue("https://x", False)}),
    "preview": auto.PreviewResult("", "", {auto.OpType.CREATE: 4, auto.OpType.SAME: 2}),
    "destroy": None,
    "set_all_config": None,
    "info": auto.UpdateSummary("update", datetime.now(UTC), "", {}, {}, "succeeded"),
    "list_stacks": [auto.StackSummary("aim368", False, False, None, 40),
                    auto.StackSummary("acme/aim368.ada", False, True, None, 30)],
    "stack_outputs": {"notebook": auto.OutputValue("aim368-ada-notebook", False)},
    "remove_stack": None,
    "export_stack": auto.Deployment(3, {"resources": [{"urn": "a", "protect": True},
                                                      {"urn": "b"}]}),
    "import_stack": None,
    "set_config": None,
    "get_all_config": {"aws:region": auto.ConfigValue("us-east-1"),
                       "ml-workshop:joinCodes": auto.ConfigValue('{"ada": "c"}', secret=True)},
}


def _bind(what: str, real, args, kwargs, bound_self: bool):
    signature = inspect.signature(real)
    signature.bind(*((None,) if bound_self else ()), *args, **kwargs)  # raises TypeError
    CALLS.append((what, kwargs))


class Instance:
    """Stands for an instance of `real_class`: only its real methods, with their signatures."""

    def __init__(self, real_class):
        self._real_class = real_class

    def __getattr__(self, name):
        real = getattr(self._real_class, name)  # AttributeError: no such method

        def method(*args, **kwargs):
            _bind(f"{self._real_class.__name__}.{name}", real, args, kwargs, bound_self=True)
            return RESULTS[name]
        return method


RETURNS_INSTANCE = {"create_or_select_stack": auto.Stack, "select_stack": auto.Stack,
                    "LocalWorkspace": auto.LocalWorkspace,
                    "create_or_select_remote_stack_git_source": auto.RemoteStack}


class AutoDouble:
    def __getattr__(self, name):
        real = getattr(auto, name)
        if not callable(real) or name in ("OpType",):
            return real

        def call(*args, **kwargs):
            if isinstance(real, type) and issubclass(real, str):  # auto.Secret is a str
                real(*args, **kwargs)
                CALLS.append((name, kwargs))
                return real(*args, **kwargs)
            _bind(name, real, args, kwargs, bound_self=False)
            if name in RETURNS_INSTANCE:
                return Instance(RETURNS_INSTANCE[name])
            return real(*args, **kwargs)  # plain data: ConfigValue, options, auth, Secret
        return call


class Recorder:
    def __init__(self):
        self.lines, self.counts, self.messages, self.states = [], [], [], []

    def output(self, line):
        self.lines.append(line)

    def resources(self, done, total):
        self.counts.append((done, total))

    def message(self, text):
        self.messages.append(text)

    def state(self, text):
        self.states.append(text)


@pytest.fixture(autouse=True)
def double(monkeypatch):
    CALLS.clear()
    monkeypatch.setattr(adapter, "auto", AutoDouble())


SPEC = StackSpec("aim368.ada", {"event": "aim368", "participant": "ada",
                                "eventStack": "acme/ml-workshop/aim368"}, "ada")


def names():
    return [what for what, _ in CALLS]


def test_local_up_sets_the_config_and_returns_plain_outputs():
    stacks = LocalStacks(Path("/project"), org="acme")
    assert stacks.up(SPEC, Recorder()) == {"leaderboard_url": "https://x"}
    assert names() == ["LocalWorkspaceOptions", "create_or_select_stack", "ConfigValue",
                       "ConfigValue", "ConfigValue", "Stack.set_all_config", "Stack.up"]
    assert dict(CALLS)["create_or_select_stack"]["stack_name"] == "acme/aim368.ada"
    assert dict(CALLS)["create_or_select_stack"]["work_dir"] == "/project"


def test_local_preview_destroy_outputs_states_and_listing():
    stacks = LocalStacks(Path("/project"))
    assert stacks.preview(SPEC, Recorder()) == {"create": 4, "same": 2}
    stacks.destroy("aim368.ada", Recorder())
    assert dict(CALLS)["Stack.destroy"]["remove"] is True
    # The event stack's protected APIs are unprotected first (the orchestrator only destroys
    # it once no participant stack is left).
    assert names().index("Stack.import_stack") < names().index("Stack.destroy")
    assert RESULTS["export_stack"].deployment["resources"] == [{"urn": "a"}, {"urn": "b"}]
    assert stacks.outputs("aim368.ada") == {"notebook": "aim368-ada-notebook"}
    assert stacks.existing() == ["aim368", "aim368.ada"]
    states = stacks.states()
    assert states["aim368"].result == "succeeded"
    assert states["aim368.ada"].result == "in-progress"


def test_join_codes_are_read_from_the_stack_config_and_written_as_a_secret():
    stacks = LocalStacks(Path("/project"), org="acme")
    assert stacks.get_config("aim368", "joinCodes") == '{"ada": "c"}'
    assert stacks.get_config("aim368", "region") is None  # another namespace's key
    stacks.set_secret_config("aim368", "joinCodes", '{"ada": "d"}')
    assert [c for c in CALLS if c[0] == "ConfigValue"][-1][1] == {"value": '{"ada": "d"}',
                                                                  "secret": True}
    assert "Stack.set_config" in names()


def test_remote_operations_use_a_git_source_and_set_config_before_running():
    source = RemoteSource(url="https://github.com/acme/ml-workshop.git", branch="main",
                          git_token="ghp_x", env_vars={"AWS_REGION": "us-east-1"},
                          secret_env_vars={"AWS_SECRET_ACCESS_KEY": "s"})
    stacks = RemoteStacks(Path("/project"), org="acme", source=source)
    stacks.up(SPEC, Recorder())
    remote = dict(CALLS)["create_or_select_remote_stack_git_source"]
    assert remote["stack_name"] == "acme/ml-workshop/aim368.ada"
    assert remote["branch"] == "main"
    pre_run = next(kwargs for what, kwargs in CALLS if what == "RemoteWorkspaceOptions")
    assert "pulumi config set --stack acme/ml-workshop/aim368.ada participant ada" in \
        pre_run["pre_run_commands"]
    assert "RemoteStack.up" in names()
    stacks.preview(SPEC, Recorder())
    stacks.destroy("aim368.ada", Recorder())
    assert "LocalWorkspace.remove_stack" in names()


def event(kind, **data):
    return auto.EngineEvent.from_json({"sequence": 1, "timestamp": 0, kind: data})


def test_engine_events_become_resources_done_and_messages():
    recorder = Recorder()
    progress = EngineProgress(recorder)
    progress(event("resourcePreEvent", metadata={"op": "create", "urn": "u1", "type": "t"}))
    progress(event("resourcePreEvent", metadata={"op": "create", "urn": "u2", "type": "t"}))
    progress(event("resOutputsEvent", metadata={"op": "create", "urn": "u1", "type": "t"}))
    progress(event("diagnosticEvent", message="creating Lambda: Rate exceeded\nmore",
                   color="never", severity="error"))
    progress(event("diagnosticEvent", message="debug noise", color="never", severity="debug"))
    assert recorder.counts == [(0, 1), (0, 2), (1, 2)]
    assert recorder.messages == ["creating Lambda: Rate exceeded"]


def test_missing_cli_is_one_line(monkeypatch):
    monkeypatch.setattr(adapter.shutil, "which", lambda _: None)
    assert adapter.pulumi_cli_missing() == adapter.MISSING_CLI
    assert "\n" not in adapter.MISSING_CLI and "pulumi" in adapter.MISSING_CLI
