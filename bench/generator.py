"""Throughput of the FC sample generator (pure Python, as the Lambdas run it)."""

from __future__ import annotations

import time

from handlers import fc_samples

SIZE = 1_000_000


def main() -> dict:
    start = time.perf_counter()
    samples = fc_samples.generate(SIZE, seed=1)
    generate_s = time.perf_counter() - start
    start = time.perf_counter()
    text = "".join(map(fc_samples.encode, samples))
    encode_s = time.perf_counter() - start
    row = {"samples": SIZE, "generate_seconds": round(generate_s, 2),
           "encode_csv_seconds": round(encode_s, 2), "csv_megabytes": round(len(text) / 1e6, 1)}
    print("\nFC sample generator")
    print(f"| samples | generate s | encode to CSV s | CSV MB |\n|---:|---:|---:|---:|\n"
          f"| {SIZE:,} | {row['generate_seconds']} | {row['encode_csv_seconds']} | "
          f"{row['csv_megabytes']} |")
    return row
