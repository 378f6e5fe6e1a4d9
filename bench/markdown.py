"""The results as Markdown tables, for the docs, docs/performance.md (``python -m bench --markdown FILE``)."""

from __future__ import annotations

from bench.report import GRANTS, PLAIN, paired_ratio, target_rows

VIEWS = [PLAIN, "ours (warm)", "ours (cold)", "ours DPoP (warm token, new proof)", "django-oauth-toolkit",
         "simplejwt"]


def _by_name(rows: list[dict]) -> dict[str, dict]:
    return {row["name"]: row for row in rows}


def markdown(results: list[dict]) -> str:
    out: list[str] = []
    for backend in dict.fromkeys(r["backend"] for r in results):
        runs = sorted((r for r in results if r["backend"] == backend), key=lambda r: r["tokens"])
        sizes = " / ".join(f"{r['tokens']:,}" for r in runs)
        out += [f"**{backend}** - GET of a DRF view returning `sub` + `scope`; "
                f"cells are {sizes} issued tokens per table",
                "", "| authentication | req/s | us/request | queries/request | vs unauthenticated |",
                "| --- | ---: | ---: | ---: | ---: |"]
        for view in VIEWS:
            rows = [(_by_name(r["resource"])[view], _by_name(r["resource"])[PLAIN]) for r in runs]
            out.append(
                f"| {view} | " + " / ".join(f"{m['rate']:,.0f}" for m, _ in rows)
                + " | " + " / ".join(f"{m['micros']:,.0f}" for m, _ in rows)
                + " | " + " / ".join(f"{m['queries_per_request']:.3f}".rstrip("0").rstrip(".") for m, _ in rows)
                + " | " + " / ".join(f"{paired_ratio(m, p):.2f}" for m, p in rows) + " |"
            )
        out += ["", "| token endpoint | ours req/s | tuned DOT req/s | **ours / tuned DOT** | DOT req/s "
                "| ours / DOT |", "| --- | ---: | ---: | ---: | ---: | ---: |"]
        for grant in GRANTS:
            rows3 = [tuple(_by_name(r["endpoints"])[f"{who}{grant}"] for who in ("ours ", "tuned DOT ", "DOT "))
                     for r in runs]
            out.append(f"| {grant} | " + " / ".join(f"{o['rate']:,.0f}" for o, _, _ in rows3)
                       + " | " + " / ".join(f"{t['rate']:,.0f}" for _, t, _ in rows3)
                       + " | **" + " / ".join(f"{paired_ratio(o, t):.2f}x" for o, t, _ in rows3) + "**"
                       + " | " + " / ".join(f"{d['rate']:.1f}" for _, _, d in rows3)
                       + " | " + " / ".join(f"{paired_ratio(o, d):,.0f}x" for o, _, d in rows3) + " |")
        out.append("")
    out += ["| target | measured | status |", "| --- | --- | --- |"]
    out += [f"| {name} | {value} | {status} |" for name, value, status in target_rows(results)]
    return "\n".join(out)
