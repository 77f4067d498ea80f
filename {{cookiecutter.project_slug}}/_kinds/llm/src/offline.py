"""A deterministic local stand-in for a chat model: no network, no key, realistic enough to
benchmark.

It reads the prompt like a model would: it finds the question (the formats of the bundled
dataset: arithmetic, letter counting, capitals, word problems; anything else gets "I don't
know"), works out the answer and then, with a probability that depends on the model, the kind
and difficulty of the question, the prompt (step-by-step reasoning helps) and the temperature,
gets it wrong in a plausible way. Replies vary in form ("42", "42.", "The answer is 42."), so
parsing matters; step-by-step replies are long and ``max_tokens`` can cut them
(``finish_reason`` "length"). Tokens, latency (a short sleep) and an occasional rate limit
(HTTP 429, retried) are simulated too.

Every "random" choice is a hash of (model, prompt, temperature, purpose): the same request
always gets the same reply, across runs, processes and machines. A real model sampled at a
temperature above 0 is not that kind.
"""

import hashlib
import json
import re
import time
from dataclasses import dataclass, replace

from .client import APIError, Completion, RateLimited, RetryPolicy, with_retries

# country: (capital, the plausible wrong answer: usually the largest city)
CAPITALS = {
    "France": ("Paris", "Lyon"),
    "Germany": ("Berlin", "Munich"),
    "Italy": ("Rome", "Milan"),
    "Spain": ("Madrid", "Barcelona"),
    "Japan": ("Tokyo", "Osaka"),
    "Canada": ("Ottawa", "Toronto"),
    "Egypt": ("Cairo", "Alexandria"),
    "Russia": ("Moscow", "Saint Petersburg"),
    "Greece": ("Athens", "Thessaloniki"),
    "Norway": ("Oslo", "Bergen"),
    "Ireland": ("Dublin", "Cork"),
    "Portugal": ("Lisbon", "Porto"),
    "Austria": ("Vienna", "Salzburg"),
    "Poland": ("Warsaw", "Krakow"),
    "Sweden": ("Stockholm", "Gothenburg"),
    "Australia": ("Canberra", "Sydney"),
    "Brazil": ("Brasilia", "Rio de Janeiro"),
    "Turkey": ("Ankara", "Istanbul"),
    "Nigeria": ("Abuja", "Lagos"),
    "Kazakhstan": ("Astana", "Almaty"),
    "Myanmar": ("Naypyidaw", "Yangon"),
    "Bolivia": ("Sucre", "La Paz"),
    "Morocco": ("Rabat", "Casablanca"),
    "Switzerland": ("Bern", "Zurich"),
    "New Zealand": ("Wellington", "Auckland"),
    "Vietnam": ("Hanoi", "Ho Chi Minh City"),
    "Pakistan": ("Islamabad", "Karachi"),
    "Tanzania": ("Dodoma", "Dar es Salaam"),
    "Mongolia": ("Ulaanbaatar", "Erdenet"),
    "Slovenia": ("Ljubljana", "Maribor"),
}
WELL_KNOWN = frozenset(list(CAPITALS)[:15])
# How often a category goes wrong (small model, direct answer, temperature 0, easy question).
ERROR_RATE = {"arithmetic": 0.08, "letters": 0.35, "capitals": 0.05, "word_problem": 0.12}
REASONING_HELPS = {"arithmetic": 0.35, "letters": 0.3, "capitals": 1.0, "word_problem": 0.4}
RATE_LIMITED = 0.02  # share of requests whose first attempt gets HTTP 429


@dataclass(frozen=True)
class Profile:
    skill: float  # multiplies the error rates
    seconds: float  # latency of a request ...
    seconds_per_token: float  # ... plus this per completion token


MODELS = {
    "offline-small": Profile(skill=1.0, seconds=0.0003, seconds_per_token=0.00001),
    "offline-large": Profile(skill=0.4, seconds=0.0008, seconds_per_token=0.00002),
}
TOKEN = re.compile(r"\w+|[^\w\s]")


@dataclass(frozen=True)
class Solution:
    category: str
    hard: bool
    answer: str
    wrong: str  # the plausible mistake
    steps: tuple[str, ...]  # the reasoning a step-by-step reply shows (answer excluded)


def draw(*parts) -> float:
    """A uniform number in [0, 1), the same for the same parts anywhere."""
    digest = hashlib.sha256("\x1f".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def tokens(text: str) -> int:
    """A rough token count (words and punctuation marks)."""
    return len(TOKEN.findall(text))


def solve(question: str, seed: float) -> Solution | None:
    """Work out a question of the bundled dataset's kinds; None if it is none of them."""
    off = (-10, -2, -1, 1, 2, 10)[int(seed * 6)]
    if found := re.search(r"What is (\d+) (plus|minus|times) (\d+)\?", question):
        a, operation, b = int(found[1]), found[2], int(found[3])
        answer = {"plus": a + b, "minus": a - b, "times": a * b}[operation]
        steps = (
            f"We need {a} {operation} {b}.",
            f"Work it out digit by digit: {a} {operation} {b}.",
        )
        return Solution("arithmetic", max(a, b) > 20, str(answer), str(answer + off), steps)
    if found := re.search(r"the letter '(\w)' appear in '(\w+)'\?", question):
        letter, word = found[1], found[2]
        count = word.count(letter)
        steps = (f"Spell it out: {'-'.join(word)}.", f"Count each '{letter}'.")
        wrong = str(count - 1 if count > 1 and seed < 0.7 else count + 1)
        return Solution("letters", len(word) > 8, str(count), wrong, steps)
    if found := re.search(r"capital of ([A-Z][\w ]*?)\?", question):
        country = found[1]
        if country not in CAPITALS:
            return None
        capital, wrong = CAPITALS[country]
        steps = (f"Recall the capital of {country}.", "It is not always the largest city.")
        return Solution("capitals", country not in WELL_KNOWN, capital, wrong, steps)
    pattern = r"has (\d+) (\w+) and (buys|gives away) (\d+)(?: more)?\."
    if found := re.search(pattern, question):
        have, thing, verb, change = int(found[1]), found[2], found[3], int(found[4])
        answer = have + change if verb == "buys" else have - change
        sign = "+" if verb == "buys" else "-"
        steps = (f"Start with {have} {thing}.", f"Then {have} {sign} {change}.")
        return Solution(
            "word_problem", max(have, change) > 20, str(answer), str(answer + off), steps
        )
    return None


def reply(prompt: str, model: str, temperature: float) -> str:
    """The text the stand-in answers ``prompt`` with."""
    step_by_step = "step by step" in prompt.lower()
    question = prompt.rpartition("Question:")[2].strip() or prompt
    solution = solve(question, draw(model, prompt, temperature, "mistake"))
    if solution is None:
        return "I don't know.\nAnswer: unknown" if step_by_step else "I don't know."
    error_rate = ERROR_RATE[solution.category] * MODELS[model].skill * (2 if solution.hard else 1)
    if step_by_step:
        error_rate *= REASONING_HELPS[solution.category]
    error_rate = min(error_rate + 0.2 * temperature, 0.95)
    wrong = draw(model, prompt, temperature, "correct") < error_rate
    answer = solution.wrong if wrong else solution.answer
    style = draw(model, prompt, temperature, "style") - 0.3 * temperature
    if step_by_step:
        lines = list(solution.steps)
        if style < 0.3:  # a chatty reply: more likely to hit max_tokens
            lines.append("Let me double-check that carefully before answering, step by step.")
        return "\n".join([*lines, f"So the result is {answer}.", f"Answer: {answer}"])
    if style < 0.15:
        return f"The answer is {answer}."
    return f"{answer}." if style < 0.35 else answer


class OfflineClient:
    """Answers like an OpenAI-compatible endpoint would, locally (see the module docstring)."""

    endpoint = "offline"
    # Its simulated rate limit clears at once: retrying costs a millisecond, not seconds.
    policy = RetryPolicy(max_retries=2, backoff=0.001, max_backoff=0.01, timeout=1.0)

    def complete(self, prompt: str, params) -> Completion:
        if params.model not in MODELS:
            body = json.dumps({"error": {"message": f"model {params.model!r} not found"}})
            raise APIError(f"HTTP 404 from offline: unknown model {params.model!r}", body)
        if params.max_tokens < 1:
            raise APIError(f"HTTP 400 from offline: max_tokens={params.max_tokens} is below 1")
        attempts = []

        def send() -> Completion:
            attempts.append(1)
            if len(attempts) == 1 and draw(params.model, prompt, "429") < RATE_LIMITED:
                body = json.dumps({"error": {"message": "rate limit reached (simulated)"}})
                raise RateLimited("HTTP 429 from offline", body)
            return self.answer(prompt, params)

        completion, retries = with_retries(send, self.policy)
        return replace(completion, retries=retries)

    def answer(self, prompt: str, params) -> Completion:
        text = reply(prompt, params.model, params.temperature)
        finish_reason = "stop"
        spans = [m.end() for m in TOKEN.finditer(text)]
        if len(spans) > params.max_tokens:
            text, finish_reason = text[: spans[params.max_tokens - 1]], "length"
        prompt_tokens, completion_tokens = tokens(prompt), min(len(spans), params.max_tokens)
        profile = MODELS[params.model]
        time.sleep(profile.seconds + profile.seconds_per_token * completion_tokens)
        key = f"{params.model}|{params.temperature}|{prompt}"
        body = {
            "id": "chatcmpl-offline-" + hashlib.sha256(key.encode()).hexdigest()[:16],
            "object": "chat.completion",
            "model": params.model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text},
                    "finish_reason": finish_reason,
                }
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        }
        return Completion(
            text=text,
            finish_reason=finish_reason,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            raw_response=json.dumps(body),
            endpoint=self.endpoint,
        )
