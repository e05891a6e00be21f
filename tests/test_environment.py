"""The contract between a component, which writes a function's environment, and its handler,
which reads it: handlers/environment.py and every handler's Settings."""

from __future__ import annotations

import re
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import pytest

from handlers import (
    collect_samples,
    edge_traffic,
    leaderboard,
    live_inference,
    portal,
    publish_samples,
    retraining,
)
from handlers.environment import Environment, SettingsError
from tests.kit import PROJECT_DIR, project_files

HANDLER_SETTINGS = [m.Settings for m in (collect_samples, edge_traffic, leaderboard,
                                         live_inference, portal, publish_samples, retraining)]


@dataclass(frozen=True)
class Example(Environment):
    table_name: str
    period_seconds: int
    share: float
    reveal: bool = False
    participant: str | None = None


def test_each_field_is_written_under_its_upper_snake_name_as_text():
    settings = Example(table_name="scores", period_seconds=60, share=0.4, reveal=True,
                       participant="ada")
    assert settings.to_environment() == {"TABLE_NAME": "scores", "PERIOD_SECONDS": "60",
                                         "SHARE": "0.4", "REVEAL": "true", "PARTICIPANT": "ada"}


def test_reading_back_what_was_written_gives_the_same_settings():
    settings = Example(table_name="scores", period_seconds=60, share=0.25)
    assert Example.from_environment(settings.to_environment()) == settings


def test_fields_left_at_none_are_not_written_and_defaults_fill_what_is_missing():
    written = Example(table_name="t", period_seconds=1, share=0.0).to_environment()
    assert "PARTICIPANT" not in written
    read = Example.from_environment({"TABLE_NAME": "t", "PERIOD_SECONDS": "1", "SHARE": "0",
                                     "UNRELATED": "ignored, as os.environ holds much else"})
    assert (read.reveal, read.participant) == (False, None)


def test_every_bad_or_missing_variable_is_named_at_once():
    with pytest.raises(SettingsError) as caught:
        Example.from_environment({"PERIOD_SECONDS": "sixty", "SHARE": "0.4", "REVEAL": "yes"})
    message = str(caught.value)
    assert "TABLE_NAME is not set" in message
    assert "PERIOD_SECONDS='sixty' is not a valid int" in message
    assert "REVEAL='yes' is not a valid bool" in message
    assert "Example" in message


def test_values_the_component_resolves_later_are_left_as_they_are():
    pending = object()  # stands for a pulumi Output: not the base's to format
    assert Example(table_name=pending, period_seconds=60, share=0.1).to_environment()[
        "TABLE_NAME"] is pending


def test_a_field_of_a_type_the_environment_cannot_hold_is_refused():
    @dataclass(frozen=True)
    class Listy(Environment):
        names: list

    with pytest.raises(TypeError, match="environment fields must be one of"):
        Listy.from_environment({"NAMES": "a,b"})


@pytest.mark.parametrize("settings", HANDLER_SETTINGS, ids=lambda s: s.__module__)
def test_each_handlers_settings_is_a_frozen_contract_that_reads_what_it_writes(settings):
    assert issubclass(settings, Environment) and settings.__dataclass_params__.frozen
    sample = {"str": "x", "int": "7", "float": "0.5", "bool": "true"}
    hints = typing.get_type_hints(settings)
    environment = {variable: sample[_plain_name(hints[field])]
                   for field, variable in settings.variables().items()}
    assert settings.from_environment(environment).to_environment() == environment


def _plain_name(hint) -> str:
    return next(t.__name__ for t in (str, int, float, bool) if hint in (t, Optional[t]))  # noqa: UP045 (hints may be spelled either way)


def test_each_variable_name_is_written_once_in_the_repository():
    """Only the field declares it: no quoted "PERIOD_SECONDS" anywhere in the code."""
    names = {name for s in HANDLER_SETTINGS for name in s.variables().values()}
    quoted = re.compile(r"""["']({})["']""".format("|".join(sorted(names))))
    found = [f"{path.relative_to(PROJECT_DIR)}: {match.group(0)}"
             for path in project_files(".py")
             if path != Path(__file__)  # the naming rule's own examples above
             for match in quoted.finditer(path.read_text(encoding="utf-8"))]
    assert found == []
