"""Tracking overhead and parallel speed-ups of a baked project, measured side by side.

    python benchmarks/run_benchmarks.py                    # bake, install in a temp venv, measure
    python benchmarks/run_benchmarks.py --python PATH      # reuse an env with xetrack 0.7.0 & co.
    python benchmarks/run_benchmarks.py --only scale --sizes 10000,100000 --analysis-rows 100000

It bakes the template into a temporary directory, then measures in one run on this machine
(benchmarks/measure.py, one function per measurement, run in the baked project's environment):

- per-datapoint cost of the baked runner with a no-op predict, in its default batched mode
  (``max_unsaved_seconds=0.05``) and its per-row mode (``max_unsaved_seconds=0``: every row
  committed), first pass and rerun (every datapoint a cache hit);
- the floors: a bare sqlite3 INSERT + commit per row, and one ``executemany`` transaction
  (same rows as the runner writes);
- xetrack 0.7.0's own ``Tracker(cache=...).track()``, first pass and rerun;
- a rerun of a completed grid with a 10 ms predict (and how many datapoints it executed);
- 8 threads against serial for an I/O-bound predict (sleep 20 ms);
- worker processes (one per core) against serial for a CPU-bound predict;
- ``compare`` and ``rank`` of two runs of the default grid over the bundled dataset.
- scale (benchmarks/scale.py): the batched runner at 10k, 100k and 1M datapoints (CPU time,
  fsync calls, peak RSS per N, the executemany floor at each N), per-row mode by journal, and
  validate, cache analysis, report and compare on a db of two differing 1M-row runs.

It prints a table and the targets (TARGETS: the tracking overhead and parallel speed-ups the
baked runner is held to), and writes every figure and ratio to a JSON file
(``benchmarks/results.json`` by default). These are measurements, not tests: numbers move with
the machine's load. Run it on a real disk (per-row commits wait for fsync; on tmpfs they do
not), on an otherwise idle machine. The process benchmark relies on the "fork" start method
(Linux, Python <= 3.13) to carry its patched predict into the workers.
"""

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from scale import SCALE_TARGETS, measure_scale, scale_ratios, scale_report

TEMPLATE = Path(__file__).resolve().parents[1]
MEASURE = Path(__file__).resolve().with_name("measure.py")  # runs in the baked project's env
TARGETS = [
    # (what, ratio key, comparison, goal)
    ("batched >= 10x faster than xetrack track(cache=)", "batched_vs_xetrack", ">=", 10.0),
    ("per-row mode within 1.3x of the bare per-row commit", "per_row_vs_floor", "<=", 1.3),
    ("rerun <= 20% of the first run (10 ms predict)", "rerun_vs_first_10ms", "<=", 0.2),
    ("8 threads >= 6x serial (I/O-bound, 20 ms)", "threads_speedup", ">=", 6.0),
    ("no-op datapoints/s, batched, cache on >= 10,000", "batched_datapoints_per_s", ">=", 10000),
    ("compare of two runs of the default grid < 5 s", "compare_s", "<=", 5.0),
]


# --- orchestrating: bake, environment, report ---------------------------------------------


def ratios(results: dict) -> dict:
    us = results["us_per_datapoint"]
    rerun = results["rerun_10ms"]
    return {
        "batched_vs_xetrack": us["xetrack_track_cache_first"] / us["runner_batched_first"],
        "batched_rerun_vs_xetrack_rerun": us["xetrack_track_cache_rerun"]
        / us["runner_batched_rerun"],
        "per_row_vs_floor": statistics.median(results["per_row_vs_floor_by_round"]),
        "batched_vs_executemany_floor": us["runner_batched_first"] / us["floor_executemany"],
        "xetrack_vs_floor": us["xetrack_track_cache_first"] / us["floor_commit_per_row"],
        "rerun_vs_first_10ms": rerun["rerun_s"] / rerun["first_s"],
        "threads_speedup": results["threads_io"]["serial_s"] / results["threads_io"]["parallel_s"],
        "processes_speedup": results["processes_cpu"]["serial_s"]
        / results["processes_cpu"]["parallel_s"],
        "bare_pool_speedup": results["processes_cpu"]["serial_s"]
        / results["processes_cpu"]["bare_pool_s"],
        "batched_datapoints_per_s": 1e6 / us["runner_batched_first"],
        "batched_rerun_datapoints_per_s": 1e6 / us["runner_batched_rerun"],
        "compare_s": results["compare"]["compare_s"],
    }


def report(results: dict) -> str:
    us, r = results["us_per_datapoint"], results["ratios"]
    labels = {
        "floor_commit_per_row": "floor: sqlite3 INSERT + commit per row",
        "floor_executemany": "floor: sqlite3 executemany, one transaction",
        "xetrack_track_cache_first": "xetrack track(cache=), first pass",
        "xetrack_track_cache_rerun": "xetrack track(cache=), rerun (hits)",
        "runner_batched_first": "runner, batched (default), first pass",
        "runner_batched_rerun": "runner, batched (default), rerun",
        "runner_per_row_first": "runner, per-row (max_unsaved_seconds=0), first",
        "runner_per_row_rerun": "runner, per-row (max_unsaved_seconds=0), rerun",
    }
    floor = us["floor_commit_per_row"]
    lines = [
        f"Per-datapoint cost, no-op predict ({results['n_fast']} datapoints batched; per-row: "
        f"median of {len(results['per_row_vs_floor_by_round'])} alternating rounds of "
        f"{results['n_slow']}):",
        f"  {'':50} {'us/datapoint':>13} {'datapoints/s':>13} {'vs per-row floor':>17}",
    ]
    for key, label in labels.items():
        speed = 1e6 / us[key]
        lines.append(f"  {label:50} {us[key]:13.1f} {speed:13,.0f} {us[key] / floor:16.2f}x")
    rerun, threads, procs = results["rerun_10ms"], results["threads_io"], results["processes_cpu"]
    compared = results["compare"]
    lines += [
        "",
        f"Rerun of a completed grid, 10 ms predict, {rerun['n']} datapoints: first "
        f"{rerun['first_s']:.2f}s ({rerun['executed_first']} executed), rerun "
        f"{rerun['rerun_s']:.3f}s ({rerun['executed_rerun']} executed)",
        f"I/O-bound (sleep 20 ms), {threads['n']} datapoints: serial {threads['serial_s']:.2f}s, "
        f"{threads['workers']} threads {threads['parallel_s']:.2f}s: {r['threads_speedup']:.1f}x",
        f"CPU-bound (~20 ms), {procs['n']} datapoints: serial {procs['serial_s']:.2f}s, "
        f"{procs['workers']} processes {procs['parallel_s']:.2f}s: {r['processes_speedup']:.1f}x "
        f"(a bare process pool on the same work: {r['bare_pool_speedup']:.1f}x; at most "
        f"{procs['workers']}, the core count, on an idle machine)",
        f"compare, default grid ({compared['configurations']} configurations x "
        f"{compared['n']} datapoints, recomputed): {compared['compare_s']:.1f}s; "
        f"rank: {compared['rank_s']:.1f}s",
    ]
    return "\n".join(lines)


def targets_report(results: dict) -> str:
    machine = results["machine"]
    lines = [
        f"Python {machine['python']}, {machine['cpus']} cores, load average before/after: "
        f"{machine['load_average_before']} / {machine['load_average_after']} "
        "(other work skews every figure)",
        "Targets (what tracking may cost, what parallelism must gain, what scale allows):",
    ]
    for target in results["targets"]:
        mark = "met" if target["met"] else "NOT MET"
        goal = f"{target['comparison']} {target['goal']:g}"
        measured = "stopped" if target["measured"] is None else f"{target['measured']:12,.2f}"
        lines.append(f"  {target['name']:56} {measured:>12}  {goal:10} {mark}")
    return "\n".join(lines)


def targets(r: dict) -> list[dict]:
    """Each target whose ratio was measured; None (a command stopped at its timeout): not met."""
    found = []
    for name, key, comparison, goal in [*TARGETS, *SCALE_TARGETS]:
        if key not in r:
            continue
        measured = r[key]
        if measured is None:
            met = False
        elif comparison == ">=":
            met = measured >= goal
        else:
            met = measured < goal if comparison == "<" else measured <= goal
        found.append(
            {"name": name, "ratio": key, "measured": measured, "comparison": comparison,
             "goal": goal, "met": met}
        )  # fmt: skip
    return found


def environment(project: Path, root: Path, python: str | None) -> tuple[str, dict]:
    """A python that imports the baked project, and the environment to run it with."""
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    if python:  # an existing environment with the dependencies: the bake goes on PYTHONPATH
        env["PYTHONPATH"] = os.pathsep.join([str(project / "src"), env.get("PYTHONPATH", "")])
        return python, env
    venv = root / "venv"
    if shutil.which("uv"):
        subprocess.run(["uv", "venv", "-q", "--python", sys.executable, str(venv)], check=True)
        install = ["uv", "pip", "install", "-q", "--python", str(venv / "bin" / "python")]
    else:
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        install = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q"]
    subprocess.run([*install, "-e", str(project)], check=True)
    return str(venv / "bin" / "python"), env


def sizes(text: str) -> list[int]:
    """--sizes 10000,100000: datapoints per scale point (multiples of the 8 configurations)."""
    return [int(n) for n in text.replace("_", "").split(",") if n]  # "": no points


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--python", help="python of an env with the baked project's deps")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results.json")
    parser.add_argument("--workdir", type=Path, help="where to bake and measure (a real disk)")
    parser.add_argument("--n-fast", type=int, default=20_000, help="datapoints, batched modes")
    parser.add_argument("--n-slow", type=int, default=1000, help="datapoints per per-row round")
    parser.add_argument(
        "--only", choices=("overhead", "scale"),
        help="one part; its figures replace that part's in --out, the other part's stay",
    )  # fmt: skip
    parser.add_argument(
        "--sizes",
        type=sizes,
        default=[10_000, 100_000, 1_000_000],
        help="scale: datapoints per point (default 10000,100000,1000000)",
    )
    parser.add_argument(
        "--analysis-rows",
        type=int,
        default=1_000_000,
        help="scale: rows per run of the analysis db (0: no analysis)",
    )
    parser.add_argument(
        "--analysis-timeout",
        type=float,
        default=300,
        help="scale: seconds after which an analysis command is stopped",
    )
    args = parser.parse_args()

    parts = [args.only] if args.only else ["overhead", "scale"]
    results = json.loads(args.out.read_text()) if args.only and args.out.exists() else {}
    root = Path(tempfile.mkdtemp(prefix="bench-template-", dir=args.workdir))
    load_before = os.getloadavg() if hasattr(os, "getloadavg") else None
    try:
        bake = [sys.executable, "-m", "cookiecutter", "--no-input", "-o", str(root)]
        bake += [str(TEMPLATE), "project_name=Overhead Bench", "parallelism=none"]
        subprocess.run(bake, check=True, capture_output=True)
        project = root / "overhead-bench"
        python, env = environment(project, root, args.python)
        (root / "measure").mkdir()
        if "overhead" in parts:
            done = subprocess.run(
                [python, str(MEASURE), str(root / "measure"), str(args.n_fast), str(args.n_slow)],
                cwd=project, env=env, capture_output=True, text=True,
            )  # fmt: skip
            if done.returncode != 0:
                print(done.stdout, done.stderr, sep="\n", file=sys.stderr)
                return 1
            results.update(json.loads(done.stdout.strip().splitlines()[-1]))
            results["machine"] = machine(load_before)
        if "scale" in parts:
            started = os.getloadavg() if hasattr(os, "getloadavg") else None
            results["scale"] = measure_scale(
                python, project, env, root / "measure", args.sizes, args.n_slow,
                args.analysis_rows, args.analysis_timeout,
            )  # fmt: skip
            results["scale"]["machine"] = machine(started)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    kept = results.get("ratios", {})  # --only scale: the overhead part's ratios stay
    results["ratios"] = {}
    if "overhead" in parts:
        results["ratios"] = ratios(results)
        print(report(results), end="\n\n")
    else:
        scale_keys = ("scale_", "analysis_")
        results["ratios"] = {k: v for k, v in kept.items() if not k.startswith(scale_keys)}
    if "scale" in results:
        results["ratios"].update(scale_ratios(results["scale"]))
        print(scale_report(results["scale"]), end="\n\n")
    results["targets"] = targets(results["ratios"])
    results.setdefault("machine", results.get("scale", {}).get("machine"))
    print(targets_report(results))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nwrote {args.out}")
    return 0


def machine(load_before) -> dict:
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        # Other work on the machine skews every figure: compare these with the core count.
        "load_average_before": load_before,
        "load_average_after": os.getloadavg() if hasattr(os, "getloadavg") else None,
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
    }


if __name__ == "__main__":
    sys.exit(main())
