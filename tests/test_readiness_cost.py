"""The cost estimate, checked against a case computed by hand."""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.stub import Stubber

from readiness.cost import Assumptions, estimate, price_keys
from readiness.pricing import Prices, bundled, bundled_prices, price_list_prices
from readiness.program import declare
from tests.kit import DEFAULT_CONFIG, DEFAULT_ROSTER

HOURS = 8.0
ASSUME = Assumptions(hours=HOURS, training_jobs_per_participant=5, training_minutes_per_job=12,
                     request_ms=100, collection_ms=50, leaderboard_viewers=2, leaderboard_ms=200)


@pytest.fixture(scope="module")
def three() -> object:
    return declare(DEFAULT_CONFIG, roster=DEFAULT_ROSTER)


@pytest.fixture(scope="module")
def result(three):
    return estimate(three, bundled_prices("us-east-1"), ASSUME)


def test_three_participants_by_hand(result):
    component = result.by_component()
    # 3 notebooks ml.c5.2xlarge at 0.408/h, plus 3 x 10 GB at 0.14/GB-month over 730 h.
    assert component["SageMaker notebooks"] == pytest.approx(3 * 0.408 + 30 * 0.14 / 730)
    # 3 endpoints, one ml.c5.large instance each, at 0.102/h.
    assert component["SageMaker endpoints"] == pytest.approx(3 * 0.102)
    # 3 x 5 jobs x 12 min = 3 instance-hours on ml.m5.large (the first allowed training
    # type) at 0.115, spread over 8 hours.
    assert component["SageMaker training"] == pytest.approx(3 * 0.115 / HOURS)
    # The edge: 5 req/s per participant = 18,000/h each, at 3.50 per million.
    assert component["API Gateway"] == pytest.approx(54_000 * 3.5e-6)
    # The FC publishes 5 samples/s; each reaches 3 collection functions and 3 streams,
    # every record billed as 5 KB at 0.029/GB.
    assert component["Firehose"] == pytest.approx(54_000 * 5 * 1024 / 1024 ** 3 * 0.029)
    assert component["SNS"] == pytest.approx(18_000 * 0.5e-6)
    # Per participant: an error-rate alarm on 3 metrics (errors, requests, not ready) and
    # an RMSE alarm on 1, at 0.10 per alarm metric-month, plus a composite alarm at 0.50;
    # one dashboard at 3.00 a month.
    assert component["CloudWatch alarms"] == pytest.approx(3 * (4 * 0.1 + 0.5) / 730)
    assert component["CloudWatch dashboard"] == pytest.approx(3.0 / 730)


def test_lambda_by_hand(result):
    lines = {line.item.split(":")[0] + " " + line.unit: line for line in result.lines
             if line.component == "Lambda"}
    # Live inference: 54,000 requests x 0.1 s x 256 MB (arm64 at 0.0000133334 per GB-s).
    assert lines["live inference GB-s"].quantity_per_hour == pytest.approx(54_000 * 0.1 * 0.25)
    assert lines["live inference requests"].per_hour == pytest.approx(54_000 * 0.2e-6)
    # The edge runs once a minute for its 60-second period at 1 GB; one shard of 3.
    assert lines["aim368-fc-edge GB-s"].quantity_per_hour == pytest.approx(60 * 60 * 1.0)
    assert lines["aim368-fc-edge GB-s"].unit_price == pytest.approx(0.0000133334)
    # The leaderboard: 2 viewers refreshing every 10 s, 0.2 s at 512 MB.
    assert lines["leaderboard requests"].quantity_per_hour == pytest.approx(720)
    assert lines["leaderboard GB-s"].quantity_per_hour == pytest.approx(720 * 0.2 * 0.5)


def test_totals_add_up(result):
    assert result.per_hour == pytest.approx(sum(result.by_component().values()))
    assert result.for_event == pytest.approx(result.per_hour * HOURS)
    assert result.participants == 3
    assert "bundled table dated " + bundled()["date"] in result.prices_used


def test_serverless_endpoints_cost_per_use_not_per_hour():
    program = declare({**DEFAULT_CONFIG, "endpointServerless": "true"}, roster=DEFAULT_ROSTER)
    lines = [line for line in estimate(program, bundled_prices("us-east-1"), ASSUME).lines
             if line.component == "SageMaker endpoints"]
    # 54,000 requests x 0.1 s x 2 GB (the components' serverless memory) at 0.00002.
    assert [(line.unit, line.quantity_per_hour) for line in lines] == [
        ("GB-s", pytest.approx(54_000 * 0.1 * 2))]


def test_a_disabled_edge_costs_no_requests():
    program = declare({**DEFAULT_CONFIG, "edgeTrafficEnabled": "false"}, roster=DEFAULT_ROSTER)
    component = estimate(program, bundled_prices("us-east-1"), ASSUME).by_component()
    assert component["API Gateway"] == 0


def test_unknown_region_says_which_regions_are_bundled():
    with pytest.raises(KeyError, match="us-east-1"):
        bundled_prices("ap-south-2")


def _product(usd: str) -> str:
    return json.dumps({"terms": {"OnDemand": {"T": {"priceDimensions": {
        "D": {"beginRange": "0", "pricePerUnit": {"USD": usd}}}}}}})


def test_price_list_prices_win_and_the_rest_falls_back(three):
    client = boto3.client("pricing", region_name="us-east-1", aws_access_key_id="x",
                          aws_secret_access_key="x")
    keys = price_keys(three, ASSUME)
    with Stubber(client) as stub:
        for key in keys:
            from readiness.pricing import _usage
            usage = _usage(key)
            if usage is None:
                continue
            service, usage_type = usage
            for candidate in (usage_type, f"USE1-{usage_type}"):
                filters = [{"Type": "TERM_MATCH", "Field": "regionCode", "Value": "us-east-1"},
                           {"Type": "TERM_MATCH", "Field": "usagetype", "Value": candidate}]
                answer = [_product("0.0000040")] if key == "apigateway.rest.request" and \
                    candidate == usage_type else []
                stub.add_response("get_products", {"PriceList": answer, "FormatVersion": "aws_v1"},
                                  {"ServiceCode": service, "MaxResults": 10, "Filters": filters})
                if answer:
                    break
        prices = price_list_prices("us-east-1", client, keys)
        stub.assert_no_pending_responses()
    result = estimate(three, prices, ASSUME)
    assert result.by_component()["API Gateway"] == pytest.approx(54_000 * 4.0e-6)
    assert result.prices_used.startswith("prices: 1 from the AWS Price List API, ")
    assert isinstance(prices, Prices) and prices.origin["apigateway.rest.request"] == "price list"


def test_retraining_jobs_are_counted_for_the_loops_that_are_on():
    """Off by default: no job line. On for everyone: each participant's loop trains
    `retraining_jobs_per_participant` times on its configured type."""
    off = estimate(declare(DEFAULT_CONFIG, roster=DEFAULT_ROSTER), bundled_prices("us-east-1"),
                   ASSUME)
    assert not [line for line in off.lines if "retraining" in line.item]
    on = estimate(declare({**DEFAULT_CONFIG, "retrainingDefault": "true",
                           "retrainingTrainingInstanceType": "ml.m5.xlarge"},
                          roster=DEFAULT_ROSTER), bundled_prices("us-east-1"), ASSUME)
    [line] = [line for line in on.lines if "retraining" in line.item]
    assert line.item == "6 retraining jobs x 12 min on ml.m5.xlarge"
    assert line.per_hour == pytest.approx(6 * 12 / 60 / HOURS * 0.23)
    assert on.by_component()["SageMaker training"] == pytest.approx(
        off.by_component()["SageMaker training"] + line.per_hour)
