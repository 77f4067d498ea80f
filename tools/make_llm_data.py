"""Write the llm kind's bundled dataset: 240 short questions with their answers.

Run once when the dataset changes; its output is committed as
{{cookiecutter.project_slug}}/_kinds/llm/data/questions.jsonl (the post-generation hook places
it in data/ of llm bakes only). Deterministic (fixed seed), so rerunning it gives the same file.

Four categories, each with an easy and a hard half: arithmetic, letter counting, capitals and
one-step word problems. Every record is {"id", "question", "answer", "category", "difficulty"}.
"""

import json
import random
from pathlib import Path

OUT = (
    Path(__file__).resolve().parent.parent
    / "{{cookiecutter.project_slug}}"
    / "_kinds"
    / "llm"
    / "data"
    / "questions.jsonl"
)
# Well known (easy) and less known (hard) capitals. The baked offline stand-in knows them all
# (src/<module>/offline.py keeps the same table); its small model forgets some hard ones.
EASY_CAPITALS = {
    "France": "Paris",
    "Germany": "Berlin",
    "Italy": "Rome",
    "Spain": "Madrid",
    "Japan": "Tokyo",
    "Canada": "Ottawa",
    "Egypt": "Cairo",
    "Russia": "Moscow",
    "Greece": "Athens",
    "Norway": "Oslo",
    "Ireland": "Dublin",
    "Portugal": "Lisbon",
    "Austria": "Vienna",
    "Poland": "Warsaw",
    "Sweden": "Stockholm",
}
HARD_CAPITALS = {
    "Australia": "Canberra",
    "Brazil": "Brasilia",
    "Turkey": "Ankara",
    "Nigeria": "Abuja",
    "Kazakhstan": "Astana",
    "Myanmar": "Naypyidaw",
    "Bolivia": "Sucre",
    "Morocco": "Rabat",
    "Switzerland": "Bern",
    "New Zealand": "Wellington",
    "Vietnam": "Hanoi",
    "Pakistan": "Islamabad",
    "Tanzania": "Dodoma",
    "Mongolia": "Ulaanbaatar",
    "Slovenia": "Ljubljana",
}
WORDS = {
    "easy": ["apple", "banana", "letter", "coffee", "balloon", "pepper", "bottle", "summer"],
    "hard": [
        "strawberry",
        "mississippi",
        "bookkeeper",
        "committee",
        "parallelogram",
        "onomatopoeia",
        "accommodation",
        "possession",
    ],
}
NAMES = ["Ana", "Ben", "Chloe", "Dev", "Emma", "Farid", "Grace", "Hugo", "Ines", "Jonas"]
THINGS = ["apples", "stamps", "marbles", "books", "coins", "stickers", "pencils", "shells"]
PER_CATEGORY = 60


def arithmetic(rng, difficulty):
    operation = rng.choice(["plus", "minus", "times"])
    if operation == "times":
        a, b = (
            (rng.randint(2, 9), rng.randint(2, 9))
            if difficulty == "easy"
            else (rng.randint(12, 49), rng.randint(6, 19))
        )
    else:
        top = 20 if difficulty == "easy" else 999
        a, b = rng.randint(2, top), rng.randint(2, top)
        if operation == "minus" and b > a:
            a, b = b, a
    answer = {"plus": a + b, "minus": a - b, "times": a * b}[operation]
    return f"What is {a} {operation} {b}?", str(answer)


def letters(rng, difficulty):
    word = rng.choice(WORDS[difficulty])
    letter = rng.choice(sorted(set(word)))
    return f"How many times does the letter '{letter}' appear in '{word}'?", str(word.count(letter))


def capitals(rng, difficulty):
    table = EASY_CAPITALS if difficulty == "easy" else HARD_CAPITALS
    country = rng.choice(sorted(table))
    phrasing = rng.choice(["What is the capital of {}?", "Which city is the capital of {}?"])
    return phrasing.format(country), table[country]


def word_problem(rng, difficulty):
    name, thing = rng.choice(NAMES), rng.choice(THINGS)
    top = 20 if difficulty == "easy" else 200
    have, change = rng.randint(5, top), rng.randint(1, top)
    if rng.random() < 0.5:
        return (
            f"{name} has {have} {thing} and buys {change} more. "
            f"How many {thing} does {name} have now?",
            str(have + change),
        )
    have += change
    return (
        f"{name} has {have} {thing} and gives away {change}. "
        f"How many {thing} does {name} have left?",
        str(have - change),
    )


CATEGORIES = {
    "arithmetic": arithmetic,
    "letters": letters,
    "capitals": capitals,
    "word_problem": word_problem,
}


def main():
    rng = random.Random(20261128)
    records, seen = [], set()
    for category, make in CATEGORIES.items():
        for difficulty in ("easy", "hard"):
            count = 0
            while count < PER_CATEGORY // 2:
                question, answer = make(rng, difficulty)
                if question in seen:
                    continue  # every question once
                seen.add(question)
                count += 1
                records.append(
                    {
                        "question": question,
                        "answer": answer,
                        "category": category,
                        "difficulty": difficulty,
                    }
                )
    rng.shuffle(records)
    lines = [json.dumps({"id": f"q{i:03d}", **record}) for i, record in enumerate(records)]
    OUT.write_text("\n".join(lines) + "\n")
    print(f"wrote {len(lines)} records to {OUT}")


if __name__ == "__main__":
    main()
