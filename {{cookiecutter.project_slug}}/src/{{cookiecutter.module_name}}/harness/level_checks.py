"""validate's view of load levels (harness/levels.py): what each level was measured with.

Rows of a level interrupted midway (``level_complete = 0``) stay in the db as what happened,
but they are not a measurement: the level was measured again whole, so ``measured`` leaves them
out of the checks that count computations.
"""

import pandas as pd

from .findings import OK, WARN, Finding

COLUMN = "level_complete"  # levels.COLUMN (the runner's side is not imported here)


def measured(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows without those of interrupted level measurements."""
    if COLUMN not in frame.columns:
        return frame
    return frame[frame[COLUMN].fillna(1) != 0]


def measured_sql(columns) -> str:
    """SQL condition (`` AND ...``) leaving out rows of interrupted level measurements."""
    return f" AND {COLUMN} IS NOT 0" if COLUMN in columns else ""


LEVEL_COLUMNS = ("track_id", "config_id", "timestamp", "cache", "error", "params_concurrency")


def level_frame(connection, table: str, columns) -> pd.DataFrame:
    """The columns ``check_levels`` reads (a load test's table: few rows); empty without
    levels."""
    if COLUMN not in columns:
        return pd.DataFrame()
    names = [c for c in (*LEVEL_COLUMNS, COLUMN) if c in columns]
    quoted = ", ".join(f'"{c}"' for c in names)
    return pd.read_sql_query(f'SELECT {quoted} FROM "{table}"', connection)


def level_name(rows: pd.DataFrame) -> str:
    """``concurrency=4`` (and the config_id when one level has several configurations)."""
    first = rows.iloc[0]
    name = f"concurrency={first['params_concurrency']}" if "params_concurrency" in rows else ""
    return name or f"config {first['config_id']}"


def check_levels(frame: pd.DataFrame) -> list[Finding]:
    """The error rate each level of the latest run was measured with (served from the cache or
    not: a level's errors are cached with it), and the interrupted measurements left aside."""
    if COLUMN not in frame.columns or "config_id" not in frame.columns or frame.empty:
        return []
    last = frame.sort_values("timestamp")["track_id"].iloc[-1]
    run = measured(frame[frame["track_id"] == last])
    parts, details = [], {}
    for config_id, rows in run.groupby("config_id", sort=False):
        failed = int((rows["error"].fillna("") != "").sum()) if "error" in rows else 0
        rate = failed / len(rows)
        name = level_name(rows)
        parts.append(f"{name}: {failed}/{len(rows)} failed ({rate:.2%})")
        details[str(config_id)] = {"level": name, "failed": failed, "rows": len(rows), "rate": rate}
    incomplete = frame[frame[COLUMN].fillna(1) == 0]
    findings = [
        Finding(
            "levels",
            OK,
            f"latest run {last}, error rate each level was measured with: " + "; ".join(parts),
            "",
            details,
        )
    ]
    if not incomplete.empty:
        cut = incomplete.groupby(["track_id", "config_id"])["timestamp"].max()
        whole = frame[(frame[COLUMN] == 1) & (frame["cache"].fillna("") == "")]
        last_whole = whole.groupby("config_id")["timestamp"].max()
        pending = [c for (_, c), at in cut.items() if not last_whole.get(c, "") > at]
        message = (
            f"{len(incomplete)} rows of {len(cut)} interrupted level measurements are kept "
            "(level_complete = 0) and not counted"
        )
        if pending:
            message += f"; not measured whole since: configurations {sorted(set(pending))}"
            advice = "Run again: an interrupted level is measured again whole."
            findings.append(Finding("incomplete_levels", WARN, message, advice))
        else:
            message += ": each of those levels was measured again whole since"
            findings.append(Finding("incomplete_levels", OK, message))
    return findings
