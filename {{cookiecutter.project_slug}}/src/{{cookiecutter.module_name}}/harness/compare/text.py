"""A comparison as text: the terminal table, Markdown (a document or a report section), JSON."""

import json

from .between import note
from .core import ONLY_A, ONLY_B, label, regressions
from .runs import describe_run
from .stats import BETTER, INCONCLUSIVE, UNCHANGED, WORSE, plain, share

WIDTH = 120  # terminal output fits this many columns
SHOWN_IDS = 10  # failed/unpaired ids printed per configuration (JSON has them all)


def number(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def percent(value) -> str:
    return "-" if value is None else f"{value:+.1%}"


def change_text(metric: dict, value) -> str:
    """A difference B - A: points for an absolute threshold, else relative to A."""
    if value is None:
        return "-"
    if metric["absolute"]:
        return f"{value:+.3f}"
    a = metric["a"]
    return f"{value / abs(a):+.1%}" if a else f"{value:+.3g}"


def interval_text(metric: dict) -> str:
    if metric["ci"] is None or metric["ci"][0] is None:
        return "-"
    low, high = metric["ci"]
    return f"[{change_text(metric, low)}, {change_text(metric, high)}]"


def varying(configurations: list[dict]) -> list[str]:
    """The params whose values differ between ``configurations`` (all of them for one)."""
    names = sorted({name for c in configurations for name in c["params"]})
    if len(configurations) < 2:
        return names
    return [n for n in names if len({str(c["params"].get(n)) for c in configurations}) > 1]


def keys(comparison: dict) -> dict[str, str]:
    """config_id -> a short key (c1, c2, ...) for the tables; ``legend`` says its params."""
    return {c["config_id"]: f"c{i}" for i, c in enumerate(comparison["configurations"], 1)}


def legend(comparison: dict) -> list[str]:
    shown = varying(comparison["configurations"])
    return [
        f"{keys(comparison)[c['config_id']]}: "
        + (", ".join(f"{n}={c['params'].get(n)}" for n in shown) or label(c))
        + f" ({c['config_id']})"
        for c in comparison["configurations"]
    ]


HEADERS = ("cfg", "metric", "A", "B", "change", "CI", "thr", "p (Holm)", "mark")


def table_rows(comparison: dict, strong=lambda text: text) -> list[list[str]]:
    rows = []
    short = keys(comparison)
    for config in comparison["configurations"]:
        for i, m in enumerate(config["metrics"]):
            mark = strong(m["mark"]) if m["mark"] in (WORSE, BETTER) else m["mark"]
            threshold = m["threshold"]
            if threshold is not None:
                threshold = f"{threshold:g}" if m["absolute"] else share(threshold)
            rows.append(
                [
                    short[config["config_id"]] if i == 0 else "",
                    m["metric"] + (" (mean)" if m["per"] == "datapoint" else ""),
                    number(m["a"]),
                    number(m["b"]),
                    change_text(m, None if m["a"] is None or m["b"] is None else m["b"] - m["a"]),
                    interval_text(m),
                    threshold or "-",
                    "-" if m["p_holm"] is None else f"{m['p_holm']:.2g}",
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
        f"{metrics[WORSE]} worse, {metrics[BETTER]} better, {metrics[INCONCLUSIVE]} inconclusive, "
        f"{metrics[UNCHANGED]} unchanged (metric x configuration); configurations: "
        f"{configs['both']} in both, {configs[ONLY_A]} only in A, {configs[ONLY_B]} only in B; "
        f"failed datapoints: {counts['failed_a']} in A, {counts['failed_b']} in B."
    )


def method(comparison: dict) -> str:
    options = comparison["options"]
    alpha = f"{1 - options['confidence']:.2g}"
    return (
        f"Datapoints paired by input_id + config_id. CI: {share(options['confidence'])} paired "
        f"bootstrap interval of B - A ({options['resamples']} resamples, seed {options['seed']}); "
        f"p: paired permutation test, Holm-corrected (gated metrics, the others: two families). "
        f"Unchanged: the CI lies within +-threshold (points for proportions, else relative to A); "
        f"worse/better: p < {alpha} and the change beyond the threshold; else inconclusive. "
        "Per-datapoint means cover the pairs where neither run failed."
    )


def wrapped(text: str) -> list[str]:
    import textwrap

    return textwrap.wrap(text, WIDTH)


def render(comparison: dict, gate: list[str] | None = None, fmt: str = "simple") -> str:
    """The terminal table (``fmt="simple"``)."""
    from tabulate import tabulate

    lines = [
        *wrapped(f"A: {describe_run(comparison['a'])} in {comparison['a']['db']}"),
        *wrapped(f"B: {describe_run(comparison['b'])} in {comparison['b']['db']}"),
        *wrapped(method(comparison)),
        *wrapped(note(comparison)),
        *(part for line in legend(comparison) for part in wrapped(line)),
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
    lines += ["", *headline(comparison).split("; ")]  # one part a line: fits 120 columns
    found = regressions(comparison, gate)
    if found:
        short = keys(comparison)
        listed = "; ".join(
            f"{short[r['config_id']]} {r['metric']} {r['a']:.4g} -> {r['b']:.4g}" for r in found
        )
        lines += wrapped(f"Regressions (gated metrics marked worse): {listed}")
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
        *([note(comparison), ""] if note(comparison) else []),
        f"**{headline(comparison)}**",
        "",
    ]
    found = regressions(comparison, gate)
    if found:
        lines += [heading("Regressions", 1), ""]
        lines += [
            f"- `{r['config_id']}` ({label(r)}): {r['metric']} {number(r['a'])} -> "
            f"{number(r['b'])} ({percent(r['change'])}, Holm p={r['p_holm']:.3g})"
            for r in found
        ]
        lines.append("")
    if image:
        lines += [f"![A vs B per configuration]({image})", ""]
    lines += [heading("Metrics", 1), ""]
    lines += [f"- {line}" for line in legend(comparison)] + [""]
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
