"""Printing: one table per run, then every target with MET / NOT MET."""

from __future__ import annotations

from collections.abc import Iterable

RATIO_TARGET = 0.85
QUERY_TARGET = 0.01  # amortised: only a periodic revocation poll may show up
ENDPOINT_TARGET = 100.0
SAME_RATE_TARGET = 0.90  # largest vs smallest token table, allowing run-to-run noise

PLAIN, WARM, COLD = "unauthenticated", "ours (warm)", "ours (cold)"


def _by_name(rows: Iterable[dict]) -> dict[str, dict]:
    return {row["name"]: row for row in rows}


def run_tables(result: dict) -> str:
    resource = _by_name(result["resource"])
    plain = resource[PLAIN]["rate"]
    lines = [
        f"\n== {result['backend']}, {result['tokens']:,} issued tokens per table "
        f"(driver: {result['driver']}; load average {result['load'][0]:.1f} -> {result['load'][1]:.1f} "
        f"on {result['cpus']} CPUs) ==",
        f"{'view (GET, returns sub + scope)':34} {'req/s':>9} {'us/req':>9} {'queries/req':>12} {'vs unauth':>10}"
        f" {'median req/s':>13} {'cpu us/req':>11}",
    ]
    for name, row in resource.items():
        lines.append(f"{name:34} {row['rate']:9,.0f} {row['micros']:9.1f} {row['queries_per_request']:12.3f} "
                     f"{row['rate'] / plain:10.2f} {row['median_rate']:13,.0f} {row['cpu_micros']:11.1f}")
    lines.append(f"{'token endpoint (POST)':34} {'req/s':>9} {'us/req':>9} {'queries/req':>12} {'ours/DOT':>10}"
                 f" {'median req/s':>13} {'cpu us/req':>11}")
    endpoints = _by_name(result["endpoints"])
    for grant in ("client_credentials", "refresh rotation"):
        ours, dot = endpoints[f"ours {grant}"], endpoints[f"DOT {grant}"]
        for row in (ours, dot):
            ratio = f"{ours['rate'] / dot['rate']:9.0f}x" if row is ours else " " * 10
            lines.append(f"{row['name']:34} {row['rate']:9,.1f} {row['micros']:9.0f} "
                         f"{row['queries_per_request']:12.2f} {ratio} {row['median_rate']:13,.1f} "
                         f"{row['cpu_micros']:11.0f}")
    for row in [*resource.values(), *endpoints.values()]:
        if row["sample_sql"]:
            lines.append(f"  SQL of one request, {row['name']}:")
            lines += [f"    {sql}" for sql in row["sample_sql"]]
    return "\n".join(lines)


def _status(ok: bool) -> str:
    return "MET" if ok else "NOT MET"


def target_rows(results: list[dict]) -> list[tuple[str, str, str]]:
    rows: list[tuple[str, str, str]] = []
    for result in results:
        where = f"{result['backend']}, {result['tokens']:,} tokens"
        resource = _by_name(result["resource"])
        plain, warm, cold = resource[PLAIN], resource[WARM], resource[COLD]
        ratio = warm["rate"] / plain["rate"]
        rows.append((f"[{where}] ours warm rate >= {RATIO_TARGET} x unauthenticated",
                     f"{ratio:.2f} ({warm['rate']:,.0f} vs {plain['rate']:,.0f} req/s)",
                     _status(ratio >= RATIO_TARGET)))
        for row in (warm, cold):
            q = row["queries_per_request"]
            rows.append((f"[{where}] {row['name']}: 0 queries/request", f"{q:.3f}", _status(q < QUERY_TARGET)))
        cpu_ratio = plain["cpu_micros"] / warm["cpu_micros"]
        rows.append((f"[{where}] ours warm, process CPU time ratio (informational)", f"{cpu_ratio:.2f}", "info"))
        rows.append((f"[{where}] ours cold rate (first use; informational)",
                     f"{cold['rate'] / plain['rate']:.2f} ({cold['rate']:,.0f} req/s)", "info"))
        endpoints = _by_name(result["endpoints"])
        for grant in ("client_credentials", "refresh rotation"):
            ours, dot = endpoints[f"ours {grant}"], endpoints[f"DOT {grant}"]
            factor = ours["rate"] / dot["rate"]
            rows.append((f"[{where}] {grant} >= {ENDPOINT_TARGET:.0f} x DOT",
                         f"{factor:,.0f}x ({ours['rate']:,.0f} vs {dot['rate']:.2f} req/s)",
                         _status(factor >= ENDPOINT_TARGET)))
    for backend in sorted({r["backend"] for r in results}):
        runs = sorted((r for r in results if r["backend"] == backend), key=lambda r: r["tokens"])
        if len(runs) < 2:
            continue
        small, large = (_by_name(runs[0]["resource"]), _by_name(runs[-1]["resource"]))
        same = (large[WARM]["rate"] / large[PLAIN]["rate"]) / (small[WARM]["rate"] / small[PLAIN]["rate"])
        rows.append((f"[{backend}] same rate with {runs[-1]['tokens']:,} as with {runs[0]['tokens']:,} tokens "
                     f"(relative ratio >= {SAME_RATE_TARGET})", f"{same:.2f}", _status(same >= SAME_RATE_TARGET)))
    return rows


def targets_table(results: list[dict]) -> tuple[str, bool]:
    rows = target_rows(results)
    width = max(len(r[0]) for r in rows)
    value_width = max(len(r[1]) for r in rows)
    lines = ["\n== Targets ==", f"{'target':{width}}  {'measured':{value_width}}  status"]
    lines += [f"{name:{width}}  {value:{value_width}}  {status}" for name, value, status in rows]
    busiest = max(max(r["load"]) for r in results)
    if busiest > results[0]["cpus"] / 2:
        lines.append(f"\nNote: load average reached {busiest:.1f} on {results[0]['cpus']} CPUs during the runs; "
                     "absolute rates are depressed and noisy; rates are the best of interleaved rounds.")
    return "\n".join(lines), all(status != "NOT MET" for _, _, status in rows)
