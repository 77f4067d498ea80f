"""The parameters of one configuration, and the grid of configurations to run.

Every field that can change a result belongs here. Field types must be immutable (tuples,
not lists); floats are quantized, so 0.7 and 0.7000000001 are the same configuration.

Which client answers is part of the configuration (``provider``), so results of the offline
stand-in and of a real model never share a cache entry. The grid reads two environment
variables, so switching to a real endpoint needs no code change:

    LLM_PROVIDER=openai LLM_MODELS=gpt-4o-mini,gpt-4o make run

(``LLM_BASE_URL`` and ``LLM_API_KEY`` say where and how: see client.py.)
"""

import itertools
import os
from dataclasses import dataclass

from .harness.identity import Configuration

# Recorded on every row: bump it when you start a new experiment on purpose.
EXPERIMENT = "baseline"

PROVIDERS = ("offline", "openai")
OFFLINE_MODELS = ("offline-small", "offline-large")


@dataclass(frozen=True, slots=True)
class Params(Configuration):  # Configuration: checked fields and config_id
    provider: str = "offline"  # "offline" (local stand-in, no network) or "openai" (HTTP)
    model: str = "offline-small"  # the model name sent to the provider
    prompt: str = "direct-v1"  # prompt template id and version (prompts.py); never edit one
    temperature: float = 0.0
    max_tokens: int = 48  # completion budget: longer answers are cut (finish_reason=length)


def grid() -> list[Params]:
    """The sweep: every configuration the benchmark runs."""
    provider = os.environ.get("LLM_PROVIDER", "offline")
    if provider not in PROVIDERS:
        raise ValueError(f"LLM_PROVIDER={provider!r}: choose one of {', '.join(PROVIDERS)}")
    models = OFFLINE_MODELS
    if provider != "offline":
        models = tuple(m.strip() for m in os.environ.get("LLM_MODELS", "gpt-4o-mini").split(","))
    return [
        Params(provider=provider, model=model, prompt=prompt, temperature=temperature)
        for model, prompt, temperature in itertools.product(
            models, ("direct-v1", "cot-v1"), (0.0, 0.7)
        )
    ]
