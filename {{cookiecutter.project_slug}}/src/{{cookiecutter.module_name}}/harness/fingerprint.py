"""A fingerprint of predict's code, so an edit without a PREDICT_VERSION bump is noticed.

The fingerprint hashes the syntax tree (``ast.dump``) of predict.py and of the package's modules
it imports, directly or through each other, without docstrings: comments, blank lines and
formatting do not count. params.py and data.py are left out (their content is part of every
computation key already), and so are metrics.py and the harness.
"""

import ast
import hashlib
import importlib.util
import sqlite3
from pathlib import Path

NOT_CODE = ("params", "data", "metrics", "harness")  # modules of the package not fingerprinted


def code_of(path: Path) -> str:
    """The syntax tree of a module without docstrings, as text."""
    tree = ast.parse(Path(path).read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and is_docstring(body[0]):
            node.body = body[1:] or [ast.Pass()]
    return ast.dump(tree)


def is_docstring(node) -> bool:
    return (
        isinstance(node, ast.Expr)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
    )


def local_imports(path: Path, package: str) -> set[str]:
    """Modules of ``package`` (one level: ``package.x``) that the module at ``path`` imports."""
    found = set()
    for node in ast.walk(ast.parse(Path(path).read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            if node.module:
                found.add(node.module.split(".")[0])
            else:  # from . import x, y
                found.update(alias.name for alias in node.names)
    return {name for name in found if name not in NOT_CODE}


def modules_of(package: str, start: str = "predict") -> dict[str, Path]:
    """``start`` and the package's modules it reaches through relative imports: name -> file."""
    files, queue = {}, [start]
    while queue:
        name = queue.pop()
        spec = importlib.util.find_spec(f"{package}.{name}")
        if name in files or spec is None or not spec.origin or spec.origin == "built-in":
            continue
        files[name] = Path(spec.origin)
        queue.extend(local_imports(files[name], package))
    return files


def predict_fingerprint(package: str) -> tuple[str, list[str]]:
    """(short digest of predict's code, the module names it covers)."""
    files = modules_of(package)
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(f"{name}\n{code_of(files[name])}\n".encode())
    return digest.hexdigest()[:16], sorted(files)


def recorded_fingerprint(db: Path, predict_version: str) -> str:
    """The fingerprint of the latest run in ``db`` with ``predict_version`` ("" if none)."""
    if not Path(db).exists():
        return ""
    with sqlite3.connect(db) as connection:
        columns = {row[1] for row in connection.execute('PRAGMA table_info("predictions")')}
        if not {"predict_fingerprint", "predict_version"} <= columns:
            return ""
        row = connection.execute(
            "SELECT predict_fingerprint FROM predictions WHERE predict_version = ? AND "
            "predict_fingerprint != '' ORDER BY timestamp DESC LIMIT 1",
            (predict_version,),
        ).fetchone()
    return row[0] if row else ""
