"""Write the throughput kind's bundled requests: 120 request bodies for the load test.

Run once when the requests change; its output is committed as
{{cookiecutter.project_slug}}/_kinds/throughput/data/requests.jsonl. Deterministic (fixed
seed), so rerunning it gives the same file.
"""

import json
import random
from pathlib import Path

COUNT = 120
WORDS = [
    "order",
    "status",
    "invoice",
    "refund",
    "account",
    "profile",
    "search",
    "cart",
    "shipping",
    "address",
    "payment",
    "review",
    "coupon",
    "stock",
    "price",
    "return",
]
OUT = (
    Path(__file__).resolve().parent.parent
    / "{{cookiecutter.project_slug}}"
    / "_kinds"
    / "throughput"
    / "data"
    / "requests.jsonl"
)


def main():
    rng = random.Random(20240611)
    with open(OUT, "w", encoding="utf-8", newline="\n") as out:
        for number in range(1, COUNT + 1):
            body = {
                "user": f"u{rng.randrange(1, 500):04d}",
                "action": rng.choice(WORDS),
                "query": " ".join(rng.choices(WORDS, k=rng.randint(2, 40))),
            }
            record = {"id": f"req-{number:04d}", "payload": json.dumps(body, sort_keys=True)}
            out.write(json.dumps(record) + "\n")
    print(f"wrote {COUNT} requests to {OUT}")


if __name__ == "__main__":
    main()
