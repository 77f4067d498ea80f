"""The scale part of run_benchmarks.py: the batched runner at 10k-1M datapoints, per-row mode by
journal, and the analysis commands on a 1M-row db (issue 17's targets).

Every step runs in its own process (benchmarks/scale_measure.py, in the baked project's
environment): its peak RSS is that process's own (``os.wait4``), its fsync and fdatasync calls
are counted by ``strace -f --seccomp-bpf -c`` around it (skipped, with a note, without strace),
its CPU time (user + sys) is measured over the timed pass inside it.
"""

import json
import os
import shutil
import signal
import statistics
import subprocess
import time
from pathlib import Path

STEP = Path(__file__).resolve().with_name("scale_measure.py")
STRACE = shutil.which("strace")
MODULE = "overhead_bench"  # the package of the bake run_benchmarks.py makes (as measure.py)
ROUNDS = 3  # per-row rounds, default journal and WAL alternating: the median
SCALE_TARGETS = [
    # (what, ratio key, comparison, goal)
    ("peak RSS, largest N / smallest N (1M / 10k)", "scale_peak_rss_ratio", "<=", 1.5),
    ("batched first pass / executemany floor at 100k", "scale_batched_vs_floor_100k", "<=", 3.0),
    (
        "batched us/datapoint, largest N / smallest N (flat: within 20%)",
        "scale_batched_flat",
        "<=",
        1.2,
    ),
    ("validate at the analysis size, s", "analysis_validate_s", "<", 30.0),
    ("validate, peak RSS MB", "analysis_validate_rss_mb", "<", 500.0),
    ("cache analysis (make cache), s", "analysis_cache_s", "<", 30.0),
    ("cache analysis, peak RSS MB", "analysis_cache_rss_mb", "<", 500.0),
    ("report, s", "analysis_report_s", "<", 30.0),
    ("report, peak RSS MB", "analysis_report_rss_mb", "<", 500.0),
    ("compare of two differing runs, s", "analysis_compare_s", "<", 60.0),
    ("compare, peak RSS MB", "analysis_compare_rss_mb", "<", 500.0),
]


class Child:
    """One process: wall seconds, exit status, peak RSS and CPU (``wait4``), fsync counts."""

    def __init__(self, command, cwd, env, workdir, fsync=False, timeout=None):
        self.trace = workdir / f"strace-{time.monotonic_ns()}.txt"
        if fsync and STRACE:
            trace = [STRACE, "-f", "--seccomp-bpf", "-c", "-o", str(self.trace)]
            command = [*trace, "-e", "trace=fsync,fdatasync", *command]
        out, err = workdir / "child.out", workdir / "child.err"
        with out.open("w") as stdout, err.open("w") as stderr:
            started = time.perf_counter()
            process = subprocess.Popen(
                [str(c) for c in command], cwd=cwd, env=env, stdout=stdout, stderr=stderr,
                start_new_session=True,
            )  # fmt: skip
            self.timed_out = False
            while True:
                pid, status, usage = os.wait4(process.pid, os.WNOHANG)
                if pid:
                    break
                if timeout and time.perf_counter() - started > timeout:
                    os.killpg(process.pid, signal.SIGKILL)
                    pid, status, usage = os.wait4(process.pid, 0)
                    self.timed_out = True
                    break
                time.sleep(0.02)
            self.seconds = time.perf_counter() - started
            process.returncode = os.waitstatus_to_exitcode(status)
        self.status = process.returncode
        self.peak_rss_mb = usage.ru_maxrss / 1024  # KB on Linux
        self.cpu_s = usage.ru_utime + usage.ru_stime
        self.stdout, self.stderr = out.read_text(), err.read_text()
        self.fsync = self.fsync_counts() if fsync else None

    def fsync_counts(self) -> dict | str:
        if not STRACE:
            return "not measured: strace not found"
        counts = {"fsync": 0, "fdatasync": 0}
        for line in self.trace.read_text().splitlines():
            words = line.split()
            if words and words[-1] in counts:
                counts[words[-1]] = int(words[3])  # % time, seconds, usecs/call, calls, ...
        self.trace.unlink()
        return counts

    def result(self) -> dict:
        if self.status != 0:
            raise RuntimeError(f"{self.status}: {self.stdout}\n{self.stderr}")
        return json.loads(self.stdout.strip().splitlines()[-1])


def measured_pass(child: Child) -> dict:
    """A timed pass: its own figures, with this process's peak RSS and fsync counts."""
    found = child.result()
    if found.get("available") is False:
        return found
    n = found["n"]
    return {
        **found,
        "us_per_datapoint": found["seconds"] / n * 1e6,
        "cpu_us_per_datapoint": (found["user_s"] + found["sys_s"]) / n * 1e6,
        "peak_rss_mb": child.peak_rss_mb,
        "fsync_calls": child.fsync,
    }


def forget(db: Path) -> None:
    """A measured db and its cache, deleted (a 1M-row db is about a GB with its cache)."""
    for path in db.parent.glob(f"{db.name}*"):
        path.unlink()
    shutil.rmtree(db.parent / ".cache" / db.stem, ignore_errors=True)


def scale_points(step, cwd, env, workdir, sizes) -> dict:
    """Per N: batched first pass and rerun, each in its own process, and the executemany floor
    on the first pass's rows."""
    points = {}
    for n in sizes:
        db = workdir / f"scale-{n}.db"
        Child([*step, "warm", db], cwd, env, workdir).result()
        first = measured_pass(Child([*step, "point", db, n, "first"], cwd, env, workdir, True))
        rerun = measured_pass(Child([*step, "point", db, n, "rerun"], cwd, env, workdir, True))
        floor = Child([*step, "floor", db, first["n"]], cwd, env, workdir).result()
        points[str(n)] = {
            "first": first,
            "rerun": rerun,
            "floor_executemany_us": floor["us_per_row"],
            "peak_rss_mb": max(first["peak_rss_mb"], rerun["peak_rss_mb"]),
        }
        forget(db)
        print(f"  scale {n:>9,}: first {first['us_per_datapoint']:.1f} us, rerun "
              f"{rerun['us_per_datapoint']:.1f} us, {points[str(n)]['peak_rss_mb']:.0f} MB",
              flush=True)  # fmt: skip
    return points


def per_row_journals(step, cwd, env, workdir, n) -> dict:
    """Per-row mode (every row committed), default journal and ``journal="wal"`` alternating in
    ROUNDS rounds: median us/datapoint and fsync calls of the last round."""
    found = {"default": [], "wal": []}
    for _ in range(ROUNDS):
        for journal in found:
            flag = ["--journal", journal] if journal != "default" else []
            db = workdir / f"per-row-{journal}.db"
            warm = Child([*step, "warm", db, *flag], cwd, env, workdir).result()
            if warm.get("available") is False:
                found[journal] = "not available: this runner has no RunOptions(journal=...)"
                continue
            command = [*step, "point", db, n, "first", "--per-row", *flag]
            found[journal].append(measured_pass(Child(command, cwd, env, workdir, True)))
            forget(db)
    summary = {}
    for journal, rounds in found.items():
        if isinstance(rounds, str):
            summary[journal] = rounds
            continue
        summary[journal] = {
            "n": rounds[-1]["n"],
            "us_per_datapoint": statistics.median(r["us_per_datapoint"] for r in rounds),
            "cpu_us_per_datapoint": statistics.median(r["cpu_us_per_datapoint"] for r in rounds),
            "fsync_calls": rounds[-1]["fsync_calls"],
            "rounds_us": [r["us_per_datapoint"] for r in rounds],
        }
    return summary


def analysis(step, python, cwd, env, workdir, rows, timeout) -> dict:
    """validate, cache analysis, report and compare, each a process as a user runs it, on a db
    of two differing runs of ``rows`` rows each; each stopped after ``timeout`` seconds."""
    db = workdir / "analysis.db"
    built = Child([*step, "build", db, rows], cwd, env, workdir).result()
    a, b = built["track_ids"]
    commands = {
        "validate": [python, "-m", MODULE, "validate", db],
        "cache": [python, "scripts/analyze_cache_hits.py", db, "predictions"],  # make cache
        "report": [python, "-m", MODULE, "report", db, "--out", workdir / "reports"],
        "compare": [python, "-m", MODULE, "compare", a, b, "--db", db, "--png", workdir / "c.png"],
    }
    found = {"rows_per_run": built["rows_per_run"], "runs": 2, "build_s": built["seconds"]}
    found["db_mb"] = db.stat().st_size / 1e6
    for name, command in commands.items():
        child = Child(command, cwd, env, workdir, timeout=timeout)
        found[name] = {
            "seconds": None if child.timed_out else child.seconds,
            "timed_out_after_s": timeout if child.timed_out else None,
            "cpu_s": child.cpu_s,  # user + sys of the whole process
            "peak_rss_mb": child.peak_rss_mb,
            "exit_status": child.status,
            "last_line": (child.stderr.strip() or child.stdout.strip()).splitlines()[-1:],
        }
        shown = f"> {timeout} s (stopped)" if child.timed_out else f"{child.seconds:.1f} s"
        print(f"  {name} at {rows:,} rows: {shown}, {child.peak_rss_mb:.0f} MB", flush=True)
    forget(db)
    return found


def measure_scale(python, cwd, env, workdir, sizes, per_row_n, rows, timeout) -> dict:
    step = [python, STEP]
    env = {**env, "PYTHONPATH": os.pathsep.join([str(STEP.parent), env.get("PYTHONPATH", "")])}
    results = {"sizes": sizes, "strace": STRACE or "not found: fsync calls not counted"}
    if sizes:  # --sizes "": the analysis alone
        results["points"] = scale_points(step, cwd, env, workdir, sizes)
        results["per_row_journal"] = per_row_journals(step, cwd, env, workdir, per_row_n)
    if rows:
        results["analysis"] = analysis(step, python, cwd, env, workdir, rows, timeout)
    return results


def scale_ratios(scale: dict) -> dict:
    ratios = point_ratios(scale) if scale.get("points") else {}
    for name, figures in scale.get("analysis", {}).items():
        if isinstance(figures, dict):
            ratios[f"analysis_{name}_s"] = figures["seconds"]  # None: stopped at the timeout
            ratios[f"analysis_{name}_rss_mb"] = figures["peak_rss_mb"]
    return ratios


def point_ratios(scale: dict) -> dict:
    points = scale["points"]
    sizes = sorted(int(n) for n in points)
    small, large = points[str(sizes[0])], points[str(sizes[-1])]
    ratios = {
        "scale_peak_rss_ratio": large["peak_rss_mb"] / small["peak_rss_mb"],
        "scale_batched_flat": large["first"]["us_per_datapoint"]
        / small["first"]["us_per_datapoint"],
        "scale_batched_rerun_flat": large["rerun"]["us_per_datapoint"]
        / small["rerun"]["us_per_datapoint"],
        # CPU time moves less with other work than wall time: the same ratio in CPU us
        "scale_batched_cpu_flat": large["first"]["cpu_us_per_datapoint"]
        / small["first"]["cpu_us_per_datapoint"],
    }
    if "100000" in points:
        at = points["100000"]
        ratios["scale_batched_vs_floor_100k"] = (
            at["first"]["us_per_datapoint"] / at["floor_executemany_us"]
        )
    journals = scale["per_row_journal"]
    if all(isinstance(j, dict) for j in journals.values()):
        ratios["per_row_wal_vs_default"] = (
            journals["wal"]["us_per_datapoint"] / journals["default"]["us_per_datapoint"]
        )
    return ratios


def scale_report(scale: dict) -> str:
    lines = [f"Scale: default grid (8 configurations), no-op predict, batched; fsync: "
             f"{scale['strace'] if not STRACE else 'strace -c'}"]  # fmt: skip
    head = "us/dp  cpu us/dp  peak MB  fsync+fdatasync"
    lines.append(f"  {'N':>9}  {'first pass: ' + head:58}  rerun: us/dp  peak MB  floor us/row")
    for n, point in scale.get("points", {}).items():
        first, rerun = point["first"], point["rerun"]
        syncs = first["fsync_calls"]
        syncs = sum(syncs.values()) if isinstance(syncs, dict) else "-"
        cpu = first["cpu_us_per_datapoint"]
        lines.append(
            f"  {int(n):>9,}  {first['us_per_datapoint']:17.1f} {cpu:10.1f}"
            f" {first['peak_rss_mb']:8.0f} {syncs:>16}  {rerun['us_per_datapoint']:19.1f}"
            f" {rerun['peak_rss_mb']:8.0f} {point['floor_executemany_us']:13.1f}"
        )
    lines.append("Per-row mode (every row committed), median of rounds:")
    for journal, figures in scale.get("per_row_journal", {}).items():
        if isinstance(figures, str):
            lines.append(f"  journal {journal:8} {figures}")
            continue
        syncs = figures["fsync_calls"]
        syncs = sum(syncs.values()) if isinstance(syncs, dict) else "-"
        lines.append(
            f"  journal {journal:8} {figures['us_per_datapoint']:8.1f} us/datapoint, cpu "
            f"{figures['cpu_us_per_datapoint']:.1f} us, {syncs} fsync+fdatasync for "
            f"{figures['n']} datapoints"
        )
    if "analysis" in scale:
        found = scale["analysis"]
        lines.append(
            f"Analysis on {found['runs']} runs x {found['rows_per_run']:,} rows "
            f"({found['db_mb']:.0f} MB db, built in {found['build_s']:.0f} s):"
        )
        for name in ("validate", "cache", "report", "compare"):
            f = found[name]
            took = f">{f['timed_out_after_s']} s (stopped)" if f["seconds"] is None else (
                f"{f['seconds']:.1f} s")  # fmt: skip
            lines.append(
                f"  {name:9} {took:>18}  cpu {f.get('cpu_s', 0):6.1f} s  peak "
                f"{f['peak_rss_mb']:7.0f} MB  exit {f['exit_status']}"
            )
    return "\n".join(lines)
