"""Unit prices: the AWS Price List API when credentials exist, else the bundled, dated table.

Every price is per single unit (one request, one GB-second, one instance-hour, one
metric-month...), keyed like `sagemaker.hosting.ml.c5.large`. A key the Price List API
does not answer falls back to the bundled table, and the estimate says which each came from.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PRICES_FILE = Path(__file__).with_name("prices.json")
# The Price List API has two endpoints; us-east-1 serves every region's prices.
PRICE_LIST_REGION = "us-east-1"
# Usage-type prefixes of the Price List (us-east-1's usage types usually have none).
USAGE_PREFIX = {"us-east-1": "USE1", "us-west-2": "USW2", "eu-west-1": "EU"}


def bundled() -> dict[str, Any]:
    return json.loads(PRICES_FILE.read_text(encoding="utf-8"))


def _usage(key: str) -> tuple[str, str] | None:
    """(service code, usage type without region prefix) of a key, where known."""
    family, _, rest = key.partition(".")
    if family == "sagemaker":
        kind, _, instance = rest.partition(".")
        prefix = {"notebook": "Notebk", "hosting": "Host", "training": "Train"}.get(kind)
        return ("AmazonSageMaker", f"{prefix}:{instance}") if prefix and instance else None
    return {
        "apigateway.rest.request": ("AmazonApiGateway", "ApiGatewayRequest"),
        "lambda.arm64.gb_second": ("AWSLambda", "Lambda-GB-Second-ARM"),
        "lambda.x86_64.gb_second": ("AWSLambda", "Lambda-GB-Second"),
        "lambda.request": ("AWSLambda", "Request"),
        "firehose.ingest.gb": ("AmazonKinesisFirehose", "BilledBytes"),
        "logs.ingest.gb": ("AmazonCloudWatch", "DataProcessing-Bytes"),
        "cloudwatch.metric_month": ("AmazonCloudWatch", "CW:MetricMonitorUsage"),
        "cloudwatch.alarm_month": ("AmazonCloudWatch", "CW:AlarmMonitorUsage"),
        "s3.put_request": ("AmazonS3", "Requests-Tier1"),
        "dynamodb.write_unit": ("AmazonDynamoDB", "WriteRequestUnits"),
        "dynamodb.read_unit": ("AmazonDynamoDB", "ReadRequestUnits"),
        "sns.request": ("AmazonSNS", "Requests-Tier1"),
    }.get(key)


def _first_tier_usd(product_json: str) -> float | None:
    product = json.loads(product_json)
    for term in (product.get("terms", {}).get("OnDemand") or {}).values():
        dimensions = sorted(term.get("priceDimensions", {}).values(),
                            key=lambda d: float(d.get("beginRange", "0") or 0))
        for dimension in dimensions:
            usd = dimension.get("pricePerUnit", {}).get("USD")
            if usd is not None and float(usd) > 0:
                return float(usd)
    return None


@dataclass
class Prices:
    region: str
    table: dict[str, float]
    origin: dict[str, str] = field(default_factory=dict)  # key -> "price list" | "bundled"
    bundled_date: str = ""
    bundled_source: str = ""
    hours_per_month: float = 730

    def get(self, key: str) -> float:
        if key not in self.table:
            raise KeyError(f"no price for {key} in {self.region}: add it to {PRICES_FILE.name}")
        self.origin.setdefault(key, "bundled")
        return self.table[key]

    def summary(self) -> str:
        used = list(self.origin.values())
        listed = used.count("price list")
        if listed == len(used):
            return f"prices: AWS Price List API ({self.region}), all {listed}"
        note = (f"bundled table dated {self.bundled_date} ({self.region}): "
                f"{self.bundled_source}")
        return (f"prices: {listed} from the AWS Price List API, {len(used) - listed} from the "
                f"{note}" if listed else f"prices: {note}")


def bundled_prices(region: str) -> Prices:
    data = bundled()
    if region not in data["regions"]:
        raise KeyError(f"no bundled prices for {region}; the table has "
                       f"{', '.join(sorted(data['regions']))} (or use --price-list)")
    return Prices(region, dict(data["regions"][region]), bundled_date=data["date"],
                  bundled_source=data["source"], hours_per_month=data["hours_per_month"])


def price_list_prices(region: str, client, keys: list[str]) -> Prices:
    """Look each key up with pricing:GetProducts; keep the bundled price where it has none."""
    prices = bundled_prices(region) if region in bundled()["regions"] else \
        Prices(region, {}, hours_per_month=bundled()["hours_per_month"])
    for key in keys:
        usage = _usage(key)
        if usage is None:
            continue
        service, usage_type = usage
        prefix = USAGE_PREFIX.get(region)
        candidates = [usage_type] + ([f"{prefix}-{usage_type}"] if prefix else [])
        for candidate in candidates:
            response = client.get_products(ServiceCode=service, MaxResults=10, Filters=[
                {"Type": "TERM_MATCH", "Field": "regionCode", "Value": region},
                {"Type": "TERM_MATCH", "Field": "usagetype", "Value": candidate}])
            found = [p for p in map(_first_tier_usd, response.get("PriceList", [])) if p]
            if found:
                prices.table[key] = found[0]
                prices.origin[key] = "price list"
                break
    return prices
