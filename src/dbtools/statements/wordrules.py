"""Rules on lexed statements that MySQL/MariaDB and SQLite share."""

from __future__ import annotations

from collections.abc import Callable

from dbtools.statements.lexing import Token
from dbtools.statements.verdicts import WRITE, Verdict

# Statements that only steer a transaction.
TRANSACTION_STARTS = frozenset(
    {"BEGIN", "START", "COMMIT", "END", "ROLLBACK", "SAVEPOINT", "RELEASE"}
)
# Words that make a read statement write or lock rows for writing. (INSERT always comes
# with INTO there; REPLACE and INSERT alone are also the names of string functions.)
WRITE_WORDS = frozenset({"INTO", "UPDATE", "DELETE", "OUTFILE", "DUMPFILE", "LOCK"})
SELECT_STARTS = frozenset({"SELECT", "WITH", "VALUES", "TABLE"})


def words(tokens: list[Token]) -> list[str]:
    return [token.text for token in tokens if token.kind == "word"]


def has_sequence(found: list[str], sequence: tuple[str, ...]) -> bool:
    size = len(sequence)
    return any(tuple(found[i : i + size]) == sequence for i in range(len(found) - size + 1))


def locks_or_writes(found: list[str]) -> bool:
    """Whether a SELECT's words write, lock rows (FOR UPDATE/SHARE…) or move a sequence."""
    if any(word in WRITE_WORDS for word in found):
        return True
    return any(
        has_sequence(found, sequence)
        for sequence in (("FOR", "SHARE"), ("FOR", "NO"), ("FOR", "KEY"), ("NEXT", "VALUE"))
    )


def calls(tokens: list[Token]) -> list[tuple[str, bool]]:
    """The functions called, as (upper-case name, whether it is quoted or qualified)."""
    found: list[tuple[str, bool]] = []
    for index, token in enumerate(tokens[:-1]):
        following = tokens[index + 1]
        if following != Token("op", "(") or token.kind not in ("word", "name"):
            continue
        qualified = index > 0 and tokens[index - 1] == Token("op", ".")
        found.append((token.text.upper(), token.kind == "name" or qualified))
    return found


def steers(found: list[str]) -> bool:
    """A transaction statement that does not ask for a read-write transaction."""
    return not has_sequence(found, ("READ", "WRITE"))


def opens_with_word(tokens: list[Token]) -> bool:
    """Whether the statement begins with a word, after any opening parentheses."""
    for token in tokens:
        if token != Token("op", "("):
            return token.kind == "word"
    return False


# Statements that write rows, and nothing else, when they run in a transaction.
ROW_WRITES = frozenset({"INSERT", "UPDATE", "DELETE", "REPLACE"})
# Words in a row write that reach beyond the rows: a file, a table made or dropped.
LASTING_WORDS = frozenset({"OUTFILE", "DUMPFILE", "CREATE", "DROP", "ALTER", "TRUNCATE"})


def first_word(tokens: list[Token]) -> str:
    found = words(tokens)
    return found[0] if found else ""


def writes_rows_only(tokens: list[Token]) -> bool:
    """An INSERT, UPDATE, DELETE or REPLACE (or a SELECT locking rows), nothing lasting."""
    found = words(tokens)
    if not found or not opens_with_word(tokens) or LASTING_WORDS & set(found):
        return False
    return found[0] in ROW_WRITES or found[0] in SELECT_STARTS


def rows_only(statements: list[list[Token]], judge: Callable[[list[Token]], Verdict]) -> bool:
    """Whether each statement reads (by ``judge``) or writes rows only: what a rollback undoes."""
    return all(
        not statement or judge(statement) != WRITE or writes_rows_only(statement)
        for statement in statements
    )
