"""What the tests share: resource type tokens, lookups over a declared program, rosters,
and the way a test gives a Lambda handler its environment."""

from __future__ import annotations

from handlers.environment import Environment


def set_environment(monkeypatch, settings: Environment) -> None:
    """Put a function's settings in os.environ, as its component declares them for Lambda."""
    for name, value in settings.to_environment().items():
        monkeypatch.setenv(name, value)
