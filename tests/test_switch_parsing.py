"""READ_ONLY_MODE and GET_ONLY_MODE are read strictly, from settings or else the environment."""

from __future__ import annotations

import pytest
from django.core.checks import run_checks

from dbtools.current import current_state
from dbtools.state import Mode
from dbtools.switches import InvalidSwitch, parse_switch

ON = ["true", "True", "TRUE", " yes ", "on", "ON", "1", "\ttrue\n", True]
OFF = ["false", "False", "FALSE", "no", "off", " Off ", "0", "", "   ", False]
INVALID = ["maybe", "enabled", "2", "-1", "t", "y", "nope", "true false", 1, 0, 1.0, ["true"]]


@pytest.mark.parametrize("value", ON)
def test_values_that_turn_a_switch_on(value: object) -> None:
    assert parse_switch("READ_ONLY_MODE", value) is True


@pytest.mark.parametrize("value", OFF)
def test_values_that_turn_a_switch_off(value: object) -> None:
    assert parse_switch("READ_ONLY_MODE", value) is False


@pytest.mark.parametrize("value", INVALID)
def test_anything_else_is_refused_with_its_name_and_value(value: object) -> None:
    with pytest.raises(InvalidSwitch) as caught:
        parse_switch("GET_ONLY_MODE", value)
    assert "GET_ONLY_MODE" in str(caught.value)
    assert repr(value) in str(caught.value)


def test_the_string_false_means_off_unlike_the_2013_original(settings) -> None:  # type: ignore[no-untyped-def]
    settings.READ_ONLY_MODE = "False"
    assert current_state().mode is Mode.OFF


@pytest.mark.parametrize("value", ["true", " YES ", "1", "on"])
def test_environment_variable_turns_the_mode_on_when_no_setting(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("GET_ONLY_MODE", value)
    assert current_state().mode is Mode.GET_ONLY


def test_setting_wins_over_environment(monkeypatch: pytest.MonkeyPatch, settings) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("READ_ONLY_MODE", "true")
    settings.READ_ONLY_MODE = False
    assert current_state().mode is Mode.OFF


def test_setting_of_none_falls_back_to_environment(monkeypatch, settings) -> None:  # type: ignore[no-untyped-def]
    settings.READ_ONLY_MODE = None
    monkeypatch.setenv("READ_ONLY_MODE", "on")
    assert current_state().mode is Mode.ANONYMOUS


def test_anonymous_mode_wins_when_both_are_on(settings) -> None:  # type: ignore[no-untyped-def]
    settings.READ_ONLY_MODE = True
    settings.GET_ONLY_MODE = True
    assert current_state().mode is Mode.ANONYMOUS


def test_an_unreadable_switch_keeps_writes_out_until_fixed(monkeypatch, caplog) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("GET_ONLY_MODE", "enabled-ish")
    assert current_state().mode is Mode.GET_ONLY
    assert "GET_ONLY_MODE" in caplog.text and "enabled-ish" in caplog.text


@pytest.mark.parametrize(
    ("name", "check_id"), [("READ_ONLY_MODE", "dbtools.E001"), ("GET_ONLY_MODE", "dbtools.E002")]
)
def test_invalid_environment_value_is_a_system_check_error(
    monkeypatch: pytest.MonkeyPatch, name: str, check_id: str
) -> None:
    monkeypatch.setenv(name, "sometimes")
    errors = [e for e in run_checks() if e.id == check_id]
    assert len(errors) == 1
    assert name in errors[0].msg and "'sometimes'" in errors[0].msg
