"""Write the classification kind's bundled sample: 300 labelled review sentences.

Run once when the sample changes; its output is committed as
{{cookiecutter.project_slug}}/_kinds/classification/data/sample.jsonl. Deterministic (fixed
seed), so rerunning it gives the same file.
"""

import json
import random
from pathlib import Path

SUBJECTS = [
    "The battery",
    "This phone",
    "The service",
    "The hotel room",
    "Our meal",
    "The app",
    "The delivery",
    "This laptop",
    "The film",
    "The support team",
    "The update",
    "The camera",
]
POSITIVE = ["great", "excellent", "fast", "reliable", "friendly", "delightful", "superb", "clean"]
NEGATIVE = ["terrible", "slow", "broken", "rude", "awful", "noisy", "disappointing", "dirty"]
NEUTRAL = [
    "arrived on Tuesday",
    "is blue",
    "was in the box",
    "has two buttons",
    "is about average size",
    "uses a standard charger",
    "opened at nine",
    "came with a manual",
]
OUT = (
    Path(__file__).resolve().parent.parent
    / "{{cookiecutter.project_slug}}"
    / "_kinds"
    / "classification"
    / "data"
    / "sample.jsonl"
)


def sentence(rng, label):
    subject = rng.choice(SUBJECTS)
    if label == "neutral":
        return f"{subject} {rng.choice(NEUTRAL)}."
    words, opposite = (POSITIVE, NEGATIVE) if label == "positive" else (NEGATIVE, POSITIVE)
    style = rng.random()
    if style < 0.5:
        return f"{subject} was {rng.choice(words)}."
    if style < 0.75:
        return f"{subject} was {rng.choice(words)} and {rng.choice(words)}."
    if style < 0.9:  # negated opposite word: only a negation-aware classifier gets these
        return f"{subject} was not {rng.choice(opposite)}."
    return f"{subject} was {rng.choice(words)}, though a bit {rng.choice(opposite)}."


def main():
    rng = random.Random(20261127)
    labels = ["positive"] * 120 + ["negative"] * 120 + ["neutral"] * 60
    rng.shuffle(labels)
    lines = [
        json.dumps({"id": f"s{i:03d}", "text": sentence(rng, label), "label": label})
        for i, label in enumerate(labels)
    ]
    OUT.write_text("\n".join(lines) + "\n")
    print(f"wrote {len(lines)} records to {OUT}")


if __name__ == "__main__":
    main()
