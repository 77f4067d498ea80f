"""The report's ranking and its comparison with the previous run, from one read of each run.

The ranking (compare.ranking) and the comparison (compare.core) each read the reported run one
configuration at a time; when the report has both, one pass serves them: each configuration of
the run is read and checked once, compared with the previous run's, and described for the
ranking (its intervals, and what its test against the best needs), then let go. The numbers
are those of ``rank`` and ``compare_runs`` run one after the other (same rows, same seeds).
"""

from pathlib import Path

from . import report_data
from .compare.between import earlier_code, sides
from .compare.core import compare_runs
from .compare.load import Rows, paired_streams
from .compare.ranking import described, rank, ranked, reread
from .compare.stats import Options


def runs_compared(connection, track_id: str) -> tuple[dict | None, dict | None]:
    """(the run ``track_id``, the run the report compares it with): the previous run of the
    same phase, not a replicate of the same code (between.earlier_code); (None, None) when
    ``track_id`` is the first."""
    all_runs = report_data.runs(connection)
    previous = report_data.previous_run(all_runs, track_id)
    if previous is None:
        return None, None
    this = next(r for r in all_runs if r["track_id"] == track_id)
    return this, earlier_code(all_runs, this, previous)


def rank_and_compare(connection, db: Path, track_id: str) -> tuple[dict, dict | None]:
    """(the ranking of run ``track_id``, its comparison with ``runs_compared``'s or None)."""
    this, previous = runs_compared(connection, track_id)
    if previous is None:
        return rank(db, track_id), None
    options = Options()
    rows_a, rows_b = Rows(db, previous["track_id"]), Rows(db, track_id)
    configurations = []  # the run's, described for the ranking as the comparison reads them

    def described_too(streams):
        for config_id, params, by_a, by_b in streams:
            if by_b:
                configurations.append(described(config_id, params, by_b, options))
            yield config_id, params, by_a, by_b

    comparison = compare_runs(
        rows_a,
        {**previous, "selector": previous["track_id"], "db": str(db)},
        rows_b,
        {**this, "selector": track_id, "db": str(db)},
        sides=sides(db, previous, this),  # each side's replicates, if any
        streams=described_too(paired_streams(rows_a, rows_b)),
    )
    ranking = ranked(configurations, {}, this, options, again=lambda f: reread(rows_b, f))
    return ranking, comparison
