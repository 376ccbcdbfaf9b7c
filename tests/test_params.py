import pytest

from shimmy_lab.engines.params import GenerationParams
from shimmy_lab.errors import InvalidParameterError


def test_defaults_are_openai_defaults():
    p = GenerationParams()
    assert (p.temperature, p.top_p, p.n, p.max_tokens, p.stop) == (1.0, 1.0, 1, None, [])


@pytest.mark.parametrize(
    "kwargs, param",
    [
        ({"temperature": 3}, "temperature"),
        ({"temperature": "hot"}, "temperature"),
        ({"top_p": 1.5}, "top_p"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"max_tokens": 2.5}, "max_tokens"),
        ({"n": 0}, "n"),
        ({"stop": ["a", "b", "c", "d", "e"]}, "stop"),
        ({"stop": 3}, "stop"),
        ({"presence_penalty": 2.5}, "presence_penalty"),
        ({"logit_bias": {"x": 1}}, "logit_bias"),
        ({"logit_bias": {"5": 101}}, "logit_bias"),
        ({"top_logprobs": 3}, "top_logprobs"),
        ({"logprobs": True, "top_logprobs": 21}, "top_logprobs"),
        ({"response_format": {"type": "yaml"}}, "response_format"),
        ({"response_format": {"type": "json_schema", "json_schema": 3}}, "response_format"),
        ({"seed": True}, "seed"),
    ],
)
def test_bad_values_name_the_parameter(kwargs, param):
    with pytest.raises(InvalidParameterError) as err:
        GenerationParams.from_kwargs(**kwargs)
    assert err.value.param == param
    body = err.value.to_openai()["error"]
    assert body["type"] == "invalid_request_error" and body["param"] == param


def test_unknown_parameter_rejected_in_python_api():
    with pytest.raises(InvalidParameterError, match="temprature"):
        GenerationParams.from_kwargs(temprature=0.5)


def test_max_completion_tokens_alias_and_normalisation():
    p = GenerationParams.from_kwargs(max_completion_tokens=7, stop="END", logit_bias={"12": -100})
    assert p.max_tokens == 7 and p.stop == ["END"] and p.logit_bias == {12: -100.0}


def test_json_schema_extraction():
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}}
    p = GenerationParams(response_format={"type": "json_schema", "json_schema": {"name": "x", "schema": schema}})
    assert p.json_schema() == schema
    assert GenerationParams(response_format={"type": "json_object"}).json_schema() == {"type": "object"}
    assert GenerationParams(response_format={"type": "text"}).json_schema() is None
