"""A comparison as text: the terminal table, Markdown (a document or a report section), JSON."""

import json

from .. import kind
from .core import ONLY_A, ONLY_B, label, regressions
from .runs import describe_run
from .stats import BETTER, UNCHANGED, WORSE, plain, share

SHOWN_IDS = 10  # failed/unpaired ids printed per configuration (JSON has them all)


def number(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def percent(value) -> str:
    return "-" if value is None else f"{value:+.1%}"


def interval_text(metric: dict) -> str:
    if metric["ci"] is None or metric["ci"][0] is None:
        return "-"
    low, high = metric["ci"]
    a = metric["a"]
    if a:  # relative to A, like the change
        return f"[{low / abs(a):+.1%}, {high / abs(a):+.1%}]"
    return f"[{low:+.3g}, {high:+.3g}]"


HEADERS = ("config_id", "params", "metric", "per", "A", "B", "B/A", "change", "CI", "p", "mark")


def table_rows(comparison: dict, strong=lambda text: text) -> list[list[str]]:
    rows = []
    for config in comparison["configurations"]:
        for i, m in enumerate(config["metrics"]):
            mark = strong(m["mark"]) if m["mark"] in (WORSE, BETTER) else m["mark"]
            mark += " (noise)" if m["reason"] == "noise" else ""
            first = i == 0
            rows.append(
                [
                    config["config_id"] if first else "",
                    label(config) if first else "",
                    m["metric"],
                    m["per"],
                    number(m["a"]),
                    number(m["b"]),
                    "-" if m["ratio"] is None else f"{m['ratio']:.3f}",
                    percent(m["change"]),
                    interval_text(m),
                    "-" if m["p_value"] is None else f"{m['p_value']:.3g}",
                    mark,
                ]
            )
    return rows


def one_run_only(comparison: dict) -> list[str]:
    return [
        f"{c['config_id']} ({label(c)}): {c['status']}"
        for c in comparison["configurations"]
        if c["status"] != "both"
    ]


def ids_text(ids: list[str]) -> str:
    shown = ", ".join(ids[:SHOWN_IDS])
    return shown + (f", ... ({len(ids)} in all)" if len(ids) > SHOWN_IDS else "")


def failed_rows(comparison: dict) -> list[list]:
    return [
        [
            c["config_id"],
            len(c["failed"]["a"]),
            len(c["failed"]["b"]),
            ids_text(c["failed"]["a"]) or "-",
            ids_text(c["failed"]["b"]) or "-",
        ]
        for c in comparison["configurations"]
        if c["failed"]["a"] or c["failed"]["b"]
    ]


def unpaired_rows(comparison: dict) -> list[list]:
    return [
        [c["config_id"], ids_text(c["unpaired"]["a"]) or "-", ids_text(c["unpaired"]["b"]) or "-"]
        for c in comparison["configurations"]
        if c["status"] == "both" and (c["unpaired"]["a"] or c["unpaired"]["b"])
    ]


def headline(comparison: dict) -> str:
    counts = comparison["counts"]
    metrics, configs = counts["metrics"], counts["configurations"]
    return (
        f"{metrics[WORSE]} worse, {metrics[BETTER]} better, {metrics[UNCHANGED]} unchanged "
        f"(metric x configuration); configurations: {configs['both']} in both, "
        f"{configs[ONLY_A]} only in A, {configs[ONLY_B]} only in B; failed datapoints: "
        f"{counts['failed_a']} in A, {counts['failed_b']} in B."
    )


def method(comparison: dict) -> str:
    options = comparison["options"]
    own = options["thresholds"] or kind.THRESHOLDS
    own = " (or the metric's own)" if own else ""
    alpha = f"{1 - options['confidence']:.2g}"
    return (
        f"Datapoints paired by input_id + config_id. Better/worse: the change is beyond "
        f"{share(options['threshold'])}{own} of A, its {share(options['confidence'])} paired "
        f"bootstrap interval (CI) too, and noise rarely makes its excess over the threshold "
        f"(paired permutation test, p < {alpha}; {options['resamples']} resamples, seed "
        f"{options['seed']}). Else unchanged, '(noise)' when beyond the threshold. Change and "
        "CI are relative to A; p: noise making a difference as large. Per-datapoint metrics "
        "average the pairs where neither run failed."
    )


def render(comparison: dict, gate: list[str] | None = None, fmt: str = "simple") -> str:
    """The terminal table (``fmt="simple"``)."""
    from tabulate import tabulate

    lines = [
        f"A: {describe_run(comparison['a'])} in {comparison['a']['db']}",
        f"B: {describe_run(comparison['b'])} in {comparison['b']['db']}",
        method(comparison),
        "",
        tabulate(table_rows(comparison), HEADERS, tablefmt=fmt, disable_numparse=True),
    ]
    only = one_run_only(comparison)
    if only:
        lines += ["", "Configurations in one run only:", *(f"  {line}" for line in only)]
    failures = failed_rows(comparison)
    if failures:
        lines += [
            "",
            "Failed datapoints (not in per-datapoint metrics; config metrics count them):",
        ]
        headers = ("config_id", "failed in A", "failed in B", "ids in A", "ids in B")
        lines.append(tabulate(failures, headers, tablefmt=fmt, disable_numparse=True))
    unpaired = unpaired_rows(comparison)
    if unpaired:
        lines += ["", "Datapoints in one run only (not compared):"]
        headers = ("config_id", "only in A", "only in B")
        lines.append(tabulate(unpaired, headers, tablefmt=fmt, disable_numparse=True))
    lines += ["", headline(comparison)]
    found = regressions(comparison, gate)
    if found:
        lines.append(
            "Regressions: "
            + "; ".join(f"{r['config_id']} {r['metric']} {percent(r['change'])}" for r in found)
        )
    return "\n".join(lines)


def markdown(
    comparison: dict,
    gate: list[str] | None = None,
    level: int = 1,
    title: str = "Comparison",
    image: str | None = None,
) -> str:
    """The comparison as Markdown: a document, or a report section (``level=2``)."""
    from tabulate import tabulate

    def heading(text: str, depth: int = 0) -> str:
        return f"{'#' * (level + depth)} {text}"

    a, b = comparison["a"], comparison["b"]
    lines = [
        heading(title),
        "",
        f"- **A**: {describe_run(a)}",
        f"- **B**: {describe_run(b)}",
        "",
        method(comparison),
        "",
        f"**{headline(comparison)}**",
        "",
    ]
    found = regressions(comparison, gate)
    if found:
        lines += [heading("Regressions", 1), ""]
        lines += [
            f"- `{r['config_id']}` ({label(r)}): {r['metric']} {number(r['a'])} -> "
            f"{number(r['b'])} ({percent(r['change'])}, p={r['p_value']:.3g})"
            for r in found
        ]
        lines.append("")
    if image:
        lines += [f"![A vs B per configuration]({image})", ""]
    lines += [heading("Metrics", 1), ""]
    lines.append(
        tabulate(
            table_rows(comparison, strong=lambda text: f"**{text}**"),
            HEADERS,
            tablefmt="github",
            disable_numparse=True,
        )
    )
    only = one_run_only(comparison)
    if only:
        lines += ["", heading("Configurations in one run only", 1), ""]
        lines += [f"- {line}" for line in only]
    lines += ["", heading("Failed datapoints", 1), ""]
    failures = failed_rows(comparison)
    if failures:
        headers = ("config_id", "failed in A", "failed in B", "ids in A", "ids in B")
        lines.append(tabulate(failures, headers, tablefmt="github", disable_numparse=True))
    else:
        lines.append("No datapoint failed in either run.")
    unpaired = unpaired_rows(comparison)
    if unpaired:
        lines += ["", heading("Datapoints in one run only (not compared)", 1), ""]
        headers = ("config_id", "only in A", "only in B")
        lines.append(tabulate(unpaired, headers, tablefmt="github", disable_numparse=True))
    lines.append("")
    return "\n".join(lines)


def to_json(comparison: dict, gate: list[str] | None = None) -> str:
    return json.dumps(
        {**comparison, "gate": gate or [], "regressions": regressions(comparison, gate)},
        indent=2,
        default=plain,
    )
