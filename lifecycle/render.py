"""Fill the lifecycle script templates with one participant's values.

Values go into quoted heredocs or are validated first, so nothing a participant's
settings contain can break out into the shell.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Mapping
from pathlib import Path

HERE = Path(__file__).resolve().parent
# The SDK the notebooks are written for (notebooks/workshop.py states it).
SDK_VERSION = re.search(r'^SDK_VERSION = "([0-9.]+)"$',
                        (HERE.parent / "notebooks" / "workshop.py").read_text(),
                        re.MULTILINE).group(1)
MAX_SCRIPT_CHARS = 16_384  # SageMaker's limit on each base64-encoded script
S3_URI = re.compile(r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/[A-Za-z0-9._/-]*)?$")


def on_create(settings: Mapping[str, str], notebooks_uri: str) -> str:
    if not S3_URI.match(notebooks_uri):
        raise ValueError(f"not an S3 URI: {notebooks_uri!r}")
    text = json.dumps(dict(settings), indent=2, sort_keys=True)
    if "\nSETTINGS" in "\n" + text:
        raise ValueError("settings may not contain the heredoc terminator")
    return ((HERE / "on-create.sh").read_text()
            .replace("__SETTINGS_JSON__", text)
            .replace("__NOTEBOOKS_URI__", notebooks_uri))


SDK_SPEC = re.compile(r"^[A-Za-z0-9_.-]+(==|>=)[0-9][0-9.]*$")


def on_start(idle_minutes: int, sdk_spec: str = "") -> str:
    """`sdk_spec`: what the background install puts in the kernel (default: the version
    notebooks/workshop.py is written for)."""
    if not isinstance(idle_minutes, int) or idle_minutes < 0:
        raise ValueError(f"idle minutes must be a whole number >= 0, got {idle_minutes!r}")
    sdk_spec = sdk_spec or f"sagemaker=={SDK_VERSION}"
    if not SDK_SPEC.match(sdk_spec):
        raise ValueError(f"not a pip requirement like sagemaker==3.27.0: {sdk_spec!r}")
    return ((HERE / "on-start.sh").read_text()
            .replace("__IDLE_MINUTES__", str(idle_minutes))
            .replace("__SDK_SPEC__", sdk_spec)
            .replace("__AUTO_STOP_PY__", (HERE / "auto_stop.py").read_text()))


def encoded(script: str) -> str:
    """Base64 as SageMaker wants it, refusing anything over its size limit."""
    data = base64.b64encode(script.encode("utf-8")).decode("ascii")
    if len(data) > MAX_SCRIPT_CHARS:
        raise ValueError(f"lifecycle script is {len(data)} base64 characters; "
                         f"SageMaker allows {MAX_SCRIPT_CHARS}")
    return data
