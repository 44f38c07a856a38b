"""A site's own tests, run by test_a_sites_suite_runs_with_a_mode_on with GET_ONLY_MODE=true."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import TestCase, TransactionTestCase, override_settings

from dbtools import ReadOnlyError
from tests.testapp.models import Note


# The suite's own conftest clears the switches from the environment for each test, so the
# classes turn the mode on themselves, as a site's tests of its read-only behaviour would.
@override_settings(GET_ONLY_MODE=True)
class WithFixtures(TestCase):
    fixtures = ["notes.json"]

    def test_the_fixture_is_loaded(self) -> None:
        assert list(Note.objects.values_list("text", flat=True)) == ["from a fixture"]

    def test_the_tests_own_writes_are_refused(self) -> None:
        with pytest.raises(ReadOnlyError):
            Note.objects.create(text="written by the test")


@override_settings(GET_ONLY_MODE=True)
class Flushed(TransactionTestCase):
    fixtures = ["notes.json"]

    def test_the_fixture_is_loaded_and_the_database_flushed_after(self) -> None:
        assert Note.objects.count() == 1
        assert connection.vendor in ("sqlite", "postgresql", "mysql")

    def test_again_after_the_flush(self) -> None:
        assert Note.objects.count() == 1
        with pytest.raises(ReadOnlyError):
            Note.objects.create(text="written by the test")
