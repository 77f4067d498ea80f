"""Start-up of a baked project's CLI with and without bytecode compiled at install.

    python benchmarks/startup.py [--rounds 3] [--workdir DIR]

Bakes the default project, then per round installs it into two new environments (uv, from its
cache): as uv does by default (no bytecode), and as ``make install`` does (UV_COMPILE_BYTECODE=1
and ``python -m compileall -q src``). In each it times ``python -m <module> --help`` twice:
the first start (which, without bytecode, compiles every module it imports and writes the
.pyc files) and the next one. Prints the medians and the install seconds; needs uv.
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TEMPLATE = Path(__file__).resolve().parents[1]
MODULE = "startup_bench"


def timed(command, **kwargs) -> float:
    # Python as a user's shell runs it: writing bytecode (some CI and container images set
    # PYTHONDONTWRITEBYTECODE=1; then every start compiles, unless the install did)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    started = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, env=env, **kwargs)
    return time.perf_counter() - started


def install(root: Path, template_bake: Path, compiled: bool) -> tuple[Path, Path, float]:
    """A copy of the bake in a new venv: (project, python, install seconds)."""
    project = root / ("compiled" if compiled else "plain")
    shutil.copytree(template_bake, project)
    venv, env = project / ".venv", {**os.environ, "UV_COMPILE_BYTECODE": str(int(compiled))}
    started = time.perf_counter()
    subprocess.run(["uv", "venv", "-q", "--python", sys.executable, str(venv)], check=True)
    python = venv / "bin" / "python"
    install = ["uv", "pip", "install", "-q", "--python", str(python), "-e", str(project)]
    subprocess.run(install, check=True, env=env)
    if compiled:
        subprocess.run([str(python), "-m", "compileall", "-q", "src"], cwd=project, check=True)
    return project, python, time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workdir", type=Path, help="where to bake and install (a real disk)")
    args = parser.parse_args()
    found = {"plain": [], "compiled": []}
    base = Path(tempfile.mkdtemp(prefix="startup-", dir=args.workdir))
    try:
        bake = [sys.executable, "-m", "cookiecutter", "--no-input", "-o", str(base / "bake")]
        subprocess.run([*bake, str(TEMPLATE), "project_name=Startup Bench"], check=True,
                       capture_output=True)  # fmt: skip
        for n in range(args.rounds):
            for compiled in (False, True):  # alternating: other work hits both alike
                root = base / f"round-{n}"
                project, python, seconds = install(root, base / "bake" / "startup-bench", compiled)
                help_ = [str(python), "-m", MODULE, "--help"]
                first, second = timed(help_, cwd=project), timed(help_, cwd=project)
                found["compiled" if compiled else "plain"].append((seconds, first, second))
                shutil.rmtree(project)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    print(f"load average: {os.getloadavg()}; medians of {args.rounds} rounds, seconds")
    print(f"  {'':34} {'install':>8} {'first --help':>13} {'next --help':>12}")
    for name, rounds in found.items():
        label = "no bytecode (uv's default)" if name == "plain" else "bytecode at install (make)"
        install_s, first, second = (statistics.median(r[k] for r in rounds) for k in range(3))
        print(f"  {label:34} {install_s:8.2f} {first:13.2f} {second:12.2f}")
    for name, rounds in found.items():
        each = [tuple(round(x, 2) for x in r) for r in rounds]
        print(f"  {name}, each round (install, first, next): {each}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
