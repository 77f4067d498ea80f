"""The kind contract (harness/kind.py): this benchmark's files give the machinery every name it
needs, in the shape it needs."""

import dataclasses
import types

from {{ cookiecutter.module_name }}.harness import kind


def test_the_files_satisfy_the_kind_contract():
    assert kind.problems() == []


def test_summarize_and_row_values_give_the_declared_names(items, configurations):
    result = kind.predict_module.predict(items[0], configurations[0])
    failed = {**result, "error": "boom", "error_type": "RuntimeError"}
    for results in ([result], [result, failed], [failed]):
        summary = kind.summarize(results)
        assert set(kind.HIGHER_IS_BETTER) <= set(summary), "summarize misses a declared metric"
        assert (summary["n"], summary["n_failed"]) == (len(results), results.count(failed))
    assert set(kind.row_values(result)) == set(kind.ROW_HIGHER_IS_BETTER)
    assert kind.row_values(failed) == dict.fromkeys(kind.ROW_HIGHER_IS_BETTER)


def test_summarize_reads_only_its_declared_fields(items, configurations):
    """SUMMARY_FIELDS (when declared): the metrics from only those fields are the metrics."""
    results = [kind.predict_module.predict(item, p) for item in items for p in configurations]
    results.append({**results[0], "error": "boom", "error_type": "RuntimeError"})
    fields = kind.SUMMARY_FIELDS or {name for result in results for name in result}
    declared = [{k: v for k, v in result.items() if k in fields} for result in results]
    expected, got = kind.summarize(results), kind.summarize(declared)
    assert got.keys() == expected.keys()
    for name, value in expected.items():
        assert got[name] == value or (got[name] != got[name] and value != value), name  # NaN


def test_grid_and_items_are_what_the_machinery_keys_on():
    configurations = kind.grid()
    assert configurations and all(isinstance(p, kind.Params) for p in configurations)
    assert len({p.config_id for p in configurations}) == len(configurations)
    items = kind.load_items()
    assert items and all(isinstance(item, kind.Item) for item in items)
    assert len({item.input_id for item in items}) == len(items), "input_id is not unique"
    assert len(kind.load_items(limit=2)) == 2


def test_problems_names_what_a_kind_gets_wrong():
    files = {name: types.SimpleNamespace(**vars(module)) for name, module in kind.FILES.items()}

    @dataclasses.dataclass
    class Loose:  # not frozen, no input_id
        text: str

    @dataclasses.dataclass(frozen=True)
    class NoId:  # frozen, but no config_id
        model: str = "m"

    files["data.py"].Item = Loose
    files["params.py"].Params = NoId
    del files["params.py"].grid
    files["predict.py"].PREDICT_VERSION = 1
    files["predict.py"].predict = lambda item: {}
    files["metrics.py"].PRIMARY = "not_a_metric"
    files["metrics.py"].HIGHER_IS_BETTER = {**kind.HIGHER_IS_BETTER, "odd": "yes"}
    files["metrics.py"].THRESHOLDS = {"unknown": 0.1}
    vars(files["metrics.py"]).pop("extra_plots", None)  # optional: not a problem
    found = "\n".join(kind.problems(files))
    for expected in (
        "data.py: Item is not frozen",
        "data.py: Item has no field input_id",
        "params.py: Params has no config_id",
        "params.py: grid is missing",
        "predict.py: PREDICT_VERSION = 1",
        "predict.py: predict(item) cannot be called",
        "metrics.py: PRIMARY = 'not_a_metric'",
        "metrics.py: HIGHER_IS_BETTER: 'odd'",
        "metrics.py: THRESHOLDS: 'unknown'",
    ):
        assert expected in found, f"{expected!r} not in:\n{found}"
    assert len(found.splitlines()) == 9, found
