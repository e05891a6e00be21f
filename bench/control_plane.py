"""Control-plane lower bounds of the live inference APIs, from the declared resource graph.

API Gateway (REST) allows, per account, one CreateRestApi every 3 s, one CreateDeployment
every 5 s and one DeleteRestApi every 30 s. The program is evaluated under the mock engine
for this design (stagesPerApi=10) and for an API per participant (stagesPerApi=1); the
bounds follow from the number of RestApi and Deployment resources it declares.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import yaml

from tools.mock_program import run_program
from training.build import build_for_config

PROJECT_DIR = Path(__file__).resolve().parent.parent

RESULTS = PROJECT_DIR / "bench" / "results"
SIZES = (10, 100, 200)
CREATE_API_SECONDS, CREATE_DEPLOYMENT_SECONDS, DELETE_API_SECONDS = 3, 5, 30
DESIGNS = {"shared APIs, 10 stages each": 10, "an API per participant": 1}


def bounds(participants: int, stages_per_api: int, workdir: Path) -> dict:
    roster = workdir / f"roster-{participants}.yaml"
    roster.write_text(yaml.safe_dump(
        {"participants": [{"name": f"Participant {i:04d}"} for i in range(participants)]}))
    config = {"roster": str(roster), "stagesPerApi": str(stages_per_api),
              "participantStacks": "false"}
    build_for_config(config, say=lambda _: None)  # cached after the first size
    declared = run_program(config)
    apis = len(declared.of_type("aws:apigateway/restApi:RestApi"))
    deployments = len(declared.of_type("aws:apigateway/deployment:Deployment"))
    return {"participants": participants, "stages_per_api": stages_per_api, "rest_apis": apis,
            "deployments": deployments,
            "min_create_seconds": max(apis * CREATE_API_SECONDS,
                                      deployments * CREATE_DEPLOYMENT_SECONDS),
            "min_delete_seconds": apis * DELETE_API_SECONDS}


def main() -> list[dict]:
    with tempfile.TemporaryDirectory() as tmp:
        rows = [{"design": design, **bounds(n, per_api, Path(tmp))}
                for n in SIZES for design, per_api in DESIGNS.items()]
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "control_plane.json").write_text(json.dumps(rows, indent=2))
    print("\nLive inference control plane: lower bounds from the declared graph")
    print("| participants | design | REST APIs | deployments | min create | min delete |")
    print("|---:|---|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['participants']} | {r['design']} | {r['rest_apis']} | {r['deployments']} | "
              f"{r['min_create_seconds'] / 60:.1f} min | {r['min_delete_seconds'] / 60:.1f} min |")
    return rows


if __name__ == "__main__":
    main()
