"""Node action conditions, read by leval (Valohai's safe evaluator): what holds, what does not, why, and
that nothing but values and operators is evaluated."""

from __future__ import annotations

import pytest

from airflow_datastores.pipelines.actions import conditions_hold


@pytest.mark.parametrize(("conditions", "holds"), [
    (["metadata.accuracy >= 0.9"], True),
    (["metadata.accuracy >= 0.9", "metadata.loss < 0.1"], False),
    (["metadata.accuracy > 0.5 and not metadata.loss > 1"], True),
    (["parameter.epochs * 2 == 20"], True),
    (["metadata.name == 'resnet'"], True),
    ([], True),
])
def test_conditions_over_the_last_values(conditions, holds):
    result, why = conditions_hold(conditions, metadata={"accuracy": 0.93, "loss": 0.2, "name": "resnet"},
                                  parameters={"epochs": 10})
    assert result is holds
    assert ("holds" in why) is holds and ("is false" in why) is (not holds)


def test_a_key_never_printed_makes_the_condition_false_and_says_which():
    result, why = conditions_hold(["metadata.f1 > 0.5"], metadata={"accuracy": 0.9}, parameters={})
    assert result is False and "printed no value for metadata.f1" in why


def test_a_dotted_name_is_looked_up_whole_never_as_an_attribute_of_a_value():
    result, why = conditions_hold(["metadata.x.__class__ == 1"], metadata={"x": 1}, parameters={})
    assert result is False and "no value for metadata.x.__class__" in why


@pytest.mark.parametrize("condition", ["__import__('os').system('true')", "open('/etc/passwd')", "[1, 2][0]"])
def test_calls_and_other_code_are_refused(condition):
    from leval.excs import EvaluatorError

    with pytest.raises(EvaluatorError):
        conditions_hold([condition], metadata={"x": 1}, parameters={})
