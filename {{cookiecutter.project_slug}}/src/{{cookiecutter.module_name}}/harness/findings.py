"""What a validation check found: its name, status, message and the fix."""

from dataclasses import dataclass, field

OK, WARN, FAIL, SKIP = "ok", "warn", "fail", "skipped"


@dataclass
class Finding:
    check: str
    status: str
    message: str
    advice: str = ""
    details: dict = field(default_factory=dict)
