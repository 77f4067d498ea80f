"""Prompt templates, by id and version.

A template is part of a configuration's identity through its id only (``Params.prompt``):
never edit a template that has results; add a new version (``direct-v2``) instead, or the
cache would serve answers to the old wording. Every row keeps the exact prompt it sent.
"""

from .data import Item

TEMPLATES = {
    "direct-v1": "Answer the question. Reply with the answer only.\n\nQuestion: {question}",
    "cot-v1": (
        "Answer the question. Think step by step, then give the final answer on a last line "
        "of the form 'Answer: <answer>'.\n\nQuestion: {question}"
    ),
}


def render(template_id: str, item: Item) -> str:
    """The exact prompt sent for ``item`` (a KeyError names the known templates)."""
    if template_id not in TEMPLATES:
        raise KeyError(f"unknown prompt template {template_id!r}; choose from {sorted(TEMPLATES)}")
    return TEMPLATES[template_id].format(question=item.question)
