"""The statement check on the real database, mode on: no write lands, no read is refused."""

from __future__ import annotations

import pytest
from django.db import connection

from dbtools import ReadOnlyError
from tests.database import snapshot
from tests.statement_corpus import READ, WRITE, corpus

VENDORS = ("sqlite", "postgresql", "mysql")


def entries() -> list[tuple[str | list[str], str]]:
    from tests.settings import BACKEND

    return corpus({"mariadb": "mysql"}.get(BACKEND, BACKEND))


def test_the_corpus_is_large_enough_for_every_backend() -> None:
    for vendor in VENDORS:
        assert len(corpus(vendor)) >= 80, vendor
        verdicts = {verdict for _, verdict in corpus(vendor)}
        assert verdicts == {READ, WRITE}


@pytest.mark.usefixtures("scratch")
@pytest.mark.parametrize(("statements", "verdict"), entries(), ids=lambda v: str(v)[:70])
def test_statement_verdict(settings, statements: str | list[str], verdict: str) -> None:  # type: ignore[no-untyped-def]
    statements = [statements] if isinstance(statements, str) else statements
    before = snapshot()
    settings.GET_ONLY_MODE = True
    with connection.cursor() as cursor:
        if verdict == READ:
            for statement in statements:
                cursor.execute(statement)
        else:
            with pytest.raises(ReadOnlyError) as refused:
                for statement in statements:
                    cursor.execute(statement)
            assert refused.value.alias == "default"
    settings.GET_ONLY_MODE = False
    assert snapshot() == before
