"""PostgreSQL, read by its own parser: libpg_query, through ``pglast``.

The parser cuts a string into statements exactly where the server does (dollar quotes,
``E''`` strings, nested comments, ``$`` inside names), so what is judged is what runs. It
reads strings as the server does with ``standard_conforming_strings`` on; the guard refuses
to change that setting while a mode is on, and judges a connection where it is off as
unreadable (:func:`judge_unconforming`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from pglast.parser import ParseError, parse_sql_json

from dbtools.statements.verdicts import (
    ENDS_TRANSACTION,
    READ,
    UNREADABLE,
    WRITE,
    Unsure,
    Verdict,
    bind,
    when_unsure,
)

# Settings that would make the session or the transaction writable again, or change how
# the server reads the text that follows (and so what the check read).
GUARDED_SETTINGS = frozenset(
    {
        "default_transaction_read_only",
        "transaction_read_only",
        "standard_conforming_strings",
        "backslash_quote",
        "client_encoding",
        "session characteristics",
    }
)
# Functions that write, or reach outside the transaction, although called from a SELECT.
WRITE_FUNCTIONS = frozenset(
    {
        "nextval",
        "setval",
        "set_config",
        "pg_notify",
        "pg_file_write",
        "pg_file_rename",
        "pg_file_unlink",
        "pg_logical_emit_message",
        "pg_background_launch",
        "pg_import_system_collations",
        "pg_create_restore_point",
        "pg_switch_wal",
        "pg_reload_conf",
    }
)
WRITE_FUNCTION_PREFIXES = ("lo_", "dblink", "pg_replication_", "pg_create_", "pg_drop_")
DML = frozenset({"InsertStmt", "UpdateStmt", "DeleteStmt", "MergeStmt"})
ACCESS_SHARE = 1  # LockStmt's mode for LOCK ... IN ACCESS SHARE MODE
# Statements that only read, steer a transaction or a cursor, or set this session's own
# settings; each is looked at further below.
READ_STATEMENTS = frozenset(
    {
        "SelectStmt",
        "VariableShowStmt",
        "FetchStmt",
        "ClosePortalStmt",
        "DeallocateStmt",
        "ListenStmt",
        "UnlistenStmt",
        "ConstraintsSetStmt",
    }
)


@when_unsure(UNREADABLE)
def judge(sql: str, bound: bool) -> Verdict:
    # psycopg sends parameters apart from the text, as $1, $2…; psycopg2 inlines them as
    # literals, which parse wherever a parameter does.
    statements = _parsed(sql, bound)
    if not all(_reads(statement) for statement in statements):
        return WRITE
    if any(_ends(statement) for statement in statements):
        return ENDS_TRANSACTION
    return READ


def judge_unconforming(sql: str, bound: bool) -> Verdict:
    """The verdict where ``standard_conforming_strings`` is off: backslashes escape in '…'.

    The parser cannot read that way, and a backslash is where the two readings part.
    """
    return WRITE if "\\" in sql else judge(sql, bound)


def _reads(statement: dict[str, Any]) -> bool:
    ((kind, body),) = statement.items()
    if kind in READ_STATEMENTS:
        return _writes_nothing(statement)
    if kind == "ExplainStmt":
        analyze = any(_option(option) == ("analyze", True) for option in body.get("options", []))
        return _reads(body["query"]) if analyze else True
    if kind in ("DeclareCursorStmt", "PrepareStmt"):
        return _reads(body["query"])
    if kind == "VariableSetStmt":
        return _sets_harmlessly(body)
    if kind == "TransactionStmt":
        return _steers(body)
    if kind == "LockStmt":
        return bool(body.get("mode") == ACCESS_SHARE)
    if kind == "DiscardStmt":
        return body.get("target") in ("DISCARD_PLANS", "DISCARD_SEQUENCES")
    if kind == "CopyStmt":
        # COPY ... TO STDOUT sends rows to the client; FROM or to a file writes.
        return not body.get("is_from") and "filename" not in body and _writes_nothing(body)
    return False


def _ends(statement: dict[str, Any]) -> bool:
    body = statement.get("TransactionStmt")
    return body is not None and body.get("kind") not in (
        "TRANS_STMT_BEGIN",
        "TRANS_STMT_START",
        "TRANS_STMT_SAVEPOINT",
        "TRANS_STMT_RELEASE",
    )


def _sets_harmlessly(body: dict[str, Any]) -> bool:
    kind = body.get("kind")
    if kind == "VAR_RESET_ALL":
        return False
    name = str(body.get("name", "")).lower()
    if name in GUARDED_SETTINGS:
        return False
    if name == "transaction":  # SET TRANSACTION READ ONLY, ISOLATION LEVEL …
        return all(_option(option) != ("transaction_read_only", False) for option in body["args"])
    return True


def _steers(body: dict[str, Any]) -> bool:
    if body.get("kind") in (
        "TRANS_STMT_PREPARE",
        "TRANS_STMT_COMMIT_PREPARED",
        "TRANS_STMT_ROLLBACK_PREPARED",
    ):
        return False
    # BEGIN/START TRANSACTION READ WRITE would undo a read-only session.
    return all(
        _option(option) != ("transaction_read_only", False) for option in body.get("options", [])
    )


def _option(node: dict[str, Any]) -> tuple[str, object]:
    """A DefElem as (name, value); a bare option (EXPLAIN ANALYZE) is true."""
    element = node.get("DefElem", {})
    arg = element.get("arg")
    value: object = True
    if arg is not None:
        constant = arg.get("A_Const", {})
        if "ival" in constant:
            value = bool(constant["ival"].get("ival", 0))
        elif "boolval" in constant:
            value = bool(constant["boolval"].get("boolval", False))
        elif "sval" in constant:
            value = constant["sval"].get("sval", "").lower() not in ("false", "off", "0", "no")
        elif "String" in arg:
            value = arg["String"].get("sval", "").lower() not in ("false", "off", "0", "no")
        else:
            value = arg
    return str(element.get("defname", "")).lower(), value


def _writes_nothing(body: Any) -> bool:
    """No data-changing statement, row lock, SELECT INTO or writing function anywhere within."""
    for kind, node in _nodes(body):
        if kind in DML:
            return False
        if kind == "SelectStmt" and ("intoClause" in node or "lockingClause" in node):
            return False
        if kind == "FuncCall" and _writes(node):
            return False
    return True


def _writes(call: dict[str, Any]) -> bool:
    name = str(call["funcname"][-1]["String"]["sval"]).lower()
    return name in WRITE_FUNCTIONS or name.startswith(WRITE_FUNCTION_PREFIXES)


def _nodes(value: Any) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every node below ``value`` (itself included, when it is one), as (kind, body)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            for key, child in item.items():
                if key[:1].isupper() and isinstance(child, dict):
                    yield key, child
                stack.append(child)
        elif isinstance(item, list):
            stack.extend(item)


# Functions whose effect a rollback does not undo, or that reach outside the transaction.
LASTING_FUNCTIONS = WRITE_FUNCTIONS - {"nextval"}


@when_unsure(False)
def discardable(sql: str, bound: bool) -> bool:
    return all(_discardable(statement) for statement in _parsed(sql, bound))


@when_unsure(True)
def commits(sql: str, bound: bool) -> bool:
    return any(
        statement.get("TransactionStmt", {}).get("kind")
        in ("TRANS_STMT_COMMIT", "TRANS_STMT_PREPARE", "TRANS_STMT_COMMIT_PREPARED")
        for statement in _parsed(sql, bound)
    )


def _discardable(statement: dict[str, Any]) -> bool:
    (kind,) = statement
    if _reads(statement):
        return True
    if kind not in DML and kind != "SelectStmt":
        return False
    for inner, node in _nodes(statement):
        if inner == "SelectStmt" and "intoClause" in node:
            return False  # SELECT INTO makes a table
        if inner == "FuncCall":
            name = str(node["funcname"][-1]["String"]["sval"]).lower()
            if name in LASTING_FUNCTIONS or name.startswith(WRITE_FUNCTION_PREFIXES):
                return False
    return True


def _parsed(sql: str, bound: bool) -> list[dict[str, Any]]:
    text = bind(sql, "${n}") if bound else sql
    try:
        parsed = json.loads(parse_sql_json(text))
    except ParseError as error:
        raise Unsure(str(error)) from None
    return [entry["stmt"] for entry in parsed.get("stmts", [])]
