"""Deterministic test data for the copy: the same rows for the same ``rows`` and ``seed``, on any
backend, with the values a copy between backends most easily gets wrong.

Every value here survives a round trip through Django on SQLite, PostgreSQL and MariaDB alike, so
a copy in any direction has one right answer. That rules some values out, each because of the
backend named:
- no NUL character in text: PostgreSQL refuses it in text and in jsonb;
- no two values of a unique column that differ only in case, accents, trailing spaces or by one
  4-byte character for another: MariaDB's utf8mb4_general_ci takes them for one value;
- decimals of at most 15 significant digits: SQLite keeps a DecimalField as a REAL when that
  loses nothing in the first 15 digits, so longer ones come back rounded;
- datetimes and dates from year 1000 to 9999: MariaDB's DATETIME and DATE range;
- integers within what every backend allows for the field (``INTEGER_LIMITS``);
- UUIDs that MariaDB's native UUID type (Django's column for a UUIDField on MariaDB 10.7+)
  accepts: it refuses a version nibble of 8 or more with a variant nibble below 8, so random
  ones are version 4.
"""

from __future__ import annotations

import random
import string
import uuid
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from importlib import import_module
from typing import Any

from django.conf import settings
from django.contrib.admin.models import ADDITION, LogEntry
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.auth.hashers import UNUSABLE_PASSWORD_PREFIX, make_password
from django.contrib.auth.models import Group, Permission, User
from django.contrib.contenttypes.models import ContentType
from django.contrib.sessions.backends.base import VALID_KEY_CHARS
from django.contrib.sessions.models import Session
from django.core.signing import TimestampSigner, b62_encode
from django.db import models
from django.db.models import Value

from tests.copyapp.models import (
    Article,
    Code,
    Comment,
    Everything,
    Left,
    Node,
    Place,
    Reading,
    Restaurant,
    Right,
    Tag,
    Token,
)

UTC = timezone.utc
BATCH = 500
USERNAME = PASSWORD = "copier"

# The widest range each integer field has on every backend: PostgreSQL's "positive" types are
# signed with a CHECK (>= 0), so they stop at the signed maximum, where MariaDB's UNSIGNED
# columns would go twice as far; SQLite stores any of them as a 64-bit signed integer.
INTEGER_LIMITS = {
    "integer": (-(2**31), 2**31 - 1),
    "big": (-(2**63), 2**63 - 1),
    "small": (-(2**15), 2**15 - 1),
    "positive": (0, 2**31 - 1),
    "positive_big": (0, 2**63 - 1),
    "positive_small": (0, 2**15 - 1),
}

UNICODE = "🦄𝄞"  # two 4-byte UTF-8 characters: utf8 (3-byte) MySQL columns would refuse them
FORTY = (UNICODE * 20)[:40]  # as long as CharField(max_length=40) allows, counted in characters
TEXTS = [
    "",
    "plain ascii",
    f"four bytes {UNICODE}",
    "é à ü ß œ — “quotes” …",
    "trailing space ",
    " leading space",
    "line\nbreak\r\nand\ttab",
    "quote ' double \" backslash \\ percent % underscore _",
    "中文字符 日本語 한국어",
    FORTY,
]
SLUGS = ["", "a-slug", "ünïcode-slug", "under_score-123"]
EMAILS = ["", "user+tag@example.com", "ünicode@exämple.org", "UPPER@EXAMPLE.COM"]
URLS = [
    "",
    "https://example.com/path?q=1&r=%C3%BC#frag",
    "http://[2001:db8::1]:8080/",
    "ftp://x.y/z",
]
FLOATS = [
    0.0,
    0.1,
    -1.5,
    1 / 3,
    1.7976931348623157e308,
    -2.2250738585072014e-308,
    123456789.123456789,
    -1e-300,
    2.0**53 + 1,
]
DECIMALS = [
    Decimal("0"),
    Decimal("0.000001"),
    Decimal("-0.000001"),
    Decimal("123456789.123456"),
    Decimal("-99999999.999999"),
    Decimal("1.100000"),
    Decimal("100"),
]
DATES = [date(1000, 1, 1), date(9999, 12, 31), date(2000, 2, 29), date(1970, 1, 1)]
# UTC instants; those of 2024 are either side of Paris's clock changes, and the two of
# 27 October are 02:30 in Paris twice (summer time, then winter time).
MOMENTS = [
    datetime(1970, 1, 1, tzinfo=UTC),
    datetime(1000, 1, 1, tzinfo=UTC),
    datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    datetime(2024, 3, 31, 0, 59, 59, 999999, tzinfo=UTC),
    datetime(2024, 3, 31, 1, 0, 0, 1, tzinfo=UTC),
    datetime(2024, 10, 27, 0, 30, 0, 500000, tzinfo=UTC),
    datetime(2024, 10, 27, 1, 30, 0, 1, tzinfo=UTC),
    datetime(2000, 2, 29, 23, 0, tzinfo=UTC),
]
TIMES = [time(0, 0), time(23, 59, 59, 999999), time(12, 0, 0, 1), time(2, 30)]
SPANS = [
    timedelta(0),
    timedelta(microseconds=1),
    timedelta(microseconds=-1),
    timedelta(days=-1, seconds=5, microseconds=7),
    timedelta(days=100000, microseconds=1),
    -timedelta(days=100000, microseconds=1),
    timedelta(hours=25, minutes=61, seconds=61),
]
UUIDS = [
    uuid.UUID(int=0),
    uuid.UUID(int=2**128 - 1),
    uuid.UUID("12345678-1234-5678-1234-567812345678"),
]
BLOBS = [b"", bytes(range(256)), b"\x00", bytes(range(255, -1, -1)), "🦄".encode()]
# Keys out of sorted order (jsonb sorts them; text keeps them as written), nesting, unicode,
# numbers JSON keeps apart from their Python look-alikes (1 / 1.0 / true).
JSONS: list[Any] = [
    {"zeta": 1, "alpha": 2.5, "mid": {"b": [1, 2, {"y": None, "x": True}], "a": "🦄"}},
    [],
    {},
    "a string",
    "",
    0,
    -1.5,
    1.0,
    True,
    False,
    [1, "two", [3, [4, [5]]], {"ü": "ß", "𝄞": [None]}],
    {"big": 2**70, "small": -(2**63), "tiny": 1e-300, "exp": 1.5e300},
    {"b": 1, "a": 2, "B": 3, "A": 4, "": 5, "aa": 6},
    "a backslash, then u0000: \\u0000",  # no NUL: copied, unlike a real \u0000
]
IPS = [
    "192.0.2.1",
    "0.0.0.0",
    "255.255.255.255",
    "2001:db8::1",
    "::1",
    "::ffff:192.0.2.1",
    "fe80::1:2:3:4",
]
FILES = ["", "uploads/a.txt", f"uploads/{UNICODE} with space.png", "uploads/" + "x" * 92]
PATHS = ["", "/srv/files/a.csv", "/srv/files/ü/ß.txt"]
CODES = ["alpha", "Beta-2", f"{UNICODE[0]}-code", "with space", "x" * 20, "00042", "ÿ-last"]


def random_uuid(rnd: random.Random) -> uuid.UUID:
    """A version 4 UUID from ``rnd``: MariaDB's UUID type refuses some other 128-bit values."""
    return uuid.UUID(int=rnd.getrandbits(128), version=4)


def pick(values: list[Any], i: int) -> Any:
    return values[i % len(values)]


def limit(rnd: random.Random, name: str, i: int) -> int:
    """The field's minimum, maximum, zero, or a value in between, in turn."""
    low, high = INTEGER_LIMITS[name]
    return [low, high, 0, rnd.randint(low, high)][i % 4]


def json_value(i: int) -> Any:
    """SQL NULL, JSON null (which a plain None would not store), then JSON documents."""
    if i % 7 == 0:
        return None
    if i % 7 == 1:
        return Value(None, models.JSONField())
    return pick(JSONS, i)


def long_text(i: int) -> str:
    """About 5 kB, different for each row."""
    return (f"row {i} {UNICODE} long text é " * 200)[:5000]


def everything(rnd: random.Random, i: int) -> Everything:
    moment = (
        pick(MOMENTS, i)
        if i % 3
        else datetime(2020, 1, 1, tzinfo=UTC) + timedelta(microseconds=rnd.randint(0, 10**15))
    )
    nulls = i % 3 == 0  # the nullable twins: NULL, then the empty value, then a value
    empty = i % 3 == 1
    return Everything(
        flag=bool(i % 2),
        maybe=pick([None, True, False], i),
        char=pick(TEXTS, i)[:40],
        char_null=None if nulls else "" if empty else pick(TEXTS, i + 1)[:40],
        text=long_text(i) if i % 10 == 0 else pick(TEXTS, i),
        text_null=None if nulls else "" if empty else pick(TEXTS, i + 2),
        slug=pick(SLUGS, i),
        email=pick(EMAILS, i),
        url=pick(URLS, i),
        integer=limit(rnd, "integer", i),
        integer_null=None if nulls else limit(rnd, "integer", i + 1),
        big=limit(rnd, "big", i),
        small=limit(rnd, "small", i),
        positive=limit(rnd, "positive", i),
        positive_big=limit(rnd, "positive_big", i),
        positive_small=limit(rnd, "positive_small", i),
        real=pick(FLOATS, i) if i % 5 else rnd.uniform(-1e6, 1e6),
        real_null=None if nulls else pick(FLOATS, i + 1),
        decimal=pick(DECIMALS, i) if i % 5 else Decimal(rnd.randint(-(10**14), 10**14)) / 10**6,
        decimal_null=None if nulls else pick(DECIMALS, i + 1),
        day=pick(DATES, i) if i % 3 else date(2000, 1, 1) + timedelta(days=rnd.randint(0, 9000)),
        day_null=None if nulls else pick(DATES, i + 1),
        moment=moment,
        moment_null=None if nulls else pick(MOMENTS, i + 1),
        clock=pick(TIMES, i),
        clock_null=None if nulls else pick(TIMES, i + 1),
        span=pick(SPANS, i),
        span_null=None if nulls else pick(SPANS, i + 1),
        uuid=pick(UUIDS, i) if i % 4 == 0 else random_uuid(rnd),
        uuid_null=None if nulls else random_uuid(rnd),
        blob=pick(BLOBS, i),
        blob_null=None if nulls else b"" if empty else rnd.randbytes(16),
        data=json_value(i),
        ip=None if nulls else pick(IPS, i),
        file=pick(FILES, i),
        path=pick(PATHS, i),
    )


def nodes(alias: str, rnd: random.Random, count: int) -> None:
    """A tree in which about half the nodes have a parent with a higher primary key.

    Inserted without parents, then given them: MariaDB checks a foreign key at once, so a row
    cannot name a parent not inserted yet, even inside a transaction.
    """
    created = Node.objects.using(alias).bulk_create(
        [Node(name=f"node {k} {UNICODE}") for k in range(count)], batch_size=BATCH
    )
    # Each node's parent comes earlier in a shuffled order: a tree, whatever the keys.
    order = created[:]
    rnd.shuffle(order)
    for position, node in enumerate(order):
        # Two roots: the first in the shuffled order, and one more.
        if position in (0, count // 2):
            continue
        node.parent = order[rnd.randrange(position)]
    Node.objects.using(alias).bulk_update(created, ["parent"], batch_size=BATCH)


def cycle(alias: str, count: int) -> None:
    """Pairs of Left and Right naming each other, and a few naming nothing."""
    lefts = Left.objects.using(alias).bulk_create([Left(name=f"left {k}") for k in range(count)])
    rights = Right.objects.using(alias).bulk_create(
        [Right(name=f"right {k}", left=lefts[k] if k % 4 else None) for k in range(count)]
    )
    for k, left in enumerate(lefts):
        left.right = rights[k] if k % 4 else None
    Left.objects.using(alias).bulk_update(lefts, ["right"])


def token(rnd: random.Random, length: int) -> str:
    return "".join(rnd.choice(string.ascii_letters + string.digits) for _ in range(length))


def users(alias: str, rnd: random.Random) -> list[User]:
    """``copier`` (who may log in, in a group, with permissions of its own) and a few readers
    who may not. Salts and dates are chosen here, so the same seed gives the same rows."""
    copier = User(
        username=USERNAME,
        email="copier@example.com",
        first_name=f"Cöpier {UNICODE}",
        password=make_password(PASSWORD, salt=token(rnd, 22)),
        date_joined=datetime(2024, 1, 1, 8, 0, 0, 123456, tzinfo=UTC),
        last_login=datetime(2024, 10, 27, 1, 30, tzinfo=UTC),
    )
    readers = [
        User(
            username=f"reader-{k}",
            password=UNUSABLE_PASSWORD_PREFIX + token(rnd, 40),
            date_joined=datetime(2024, 2, k + 1, tzinfo=UTC),
        )
        for k in range(4)
    ]
    people = User.objects.using(alias).bulk_create([copier, *readers])
    permissions = list(Permission.objects.using(alias).order_by("pk")[:6])
    editors = Group.objects.using(alias).create(name="editors")
    editors.permissions.set(permissions[:3])
    copier.groups.add(editors)
    copier.user_permissions.set(permissions[3:])
    return people


def articles(alias: str, rnd: random.Random, count: int, readers: list[User]) -> list[Article]:
    """Tags, and articles with some (the auto-created table) and readers (the Reading model)."""
    tags = Tag.objects.using(alias).bulk_create(
        [Tag(name=f"tag-{k} {pick(TEXTS, k)[:20]}".strip()) for k in range(12)]
    )
    created = Article.objects.using(alias).bulk_create(
        [
            Article(
                title=f"article {k} {pick(TEXTS, k)}",
                published=None if k % 5 == 0 else pick(MOMENTS, k),
            )
            for k in range(count)
        ],
        batch_size=BATCH,
    )
    Through = Article.tags.through
    Through.objects.using(alias).bulk_create(
        [
            Through(article_id=article.pk, tag_id=tag.pk)
            for article in created
            for tag in rnd.sample(tags, rnd.randint(0, 4))
        ],
        batch_size=BATCH,
    )
    Reading.objects.using(alias).bulk_create(
        [
            Reading(article=article, user=user, minutes=rnd.randint(0, 600))
            for article in created
            for user in rnd.sample(readers, rnd.randint(0, len(readers)))
        ],
        batch_size=BATCH,
    )
    return created


def places(alias: str, count: int) -> list[Restaurant]:
    """Places, every other one a restaurant (a row in two tables sharing one key)."""
    Place.objects.using(alias).bulk_create([Place(name=f"place {k}") for k in range(count // 2)])
    # bulk_create cannot insert across two tables.
    return [
        Restaurant.objects.using(alias).create(
            name=f"restaurant {k} {UNICODE}", serves_pizza=k % 2 == 0
        )
        for k in range(count - count // 2)
    ]


def comments(alias: str, rnd: random.Random, targets: list[models.Model]) -> None:
    """Comments on articles and restaurants, through the generic foreign key."""
    content_types = ContentType.objects.db_manager(alias)
    Comment.objects.using(alias).bulk_create(
        [
            Comment(
                content_type=content_types.get_for_model(target),
                object_id=target.pk,
                body=f"comment {k} on {target} {pick(TEXTS, k)}",
            )
            for target in targets
            for k in range(rnd.randint(0, 3))
        ],
        batch_size=BATCH,
    )


def codes(alias: str, rnd: random.Random, count: int) -> None:
    """Codes (text primary keys) and tokens (UUID primary keys), some tokens naming a code."""
    names = [*CODES, *(f"code-{k:04d}" for k in range(max(count - len(CODES), 0)))]
    created = Code.objects.using(alias).bulk_create(
        [Code(code=name, label=pick(TEXTS, k)) for k, name in enumerate(names)], batch_size=BATCH
    )
    Token.objects.using(alias).bulk_create(
        [
            Token(
                key=random_uuid(rnd),
                code=None if k % 3 == 0 else pick(created, k),
                label=f"token {k}",
            )
            for k in range(count)
        ],
        batch_size=BATCH,
    )


class SignedAtNoon(TimestampSigner):
    """Signs with a fixed time, so the same data gives the same session text; a session's
    signature is checked without an age (its expiry is the row's expire_date)."""

    def timestamp(self) -> str:
        return b62_encode(int(datetime(2024, 6, 1, 12, tzinfo=UTC).timestamp()))


def session(alias: str, rnd: random.Random, user: User) -> str:
    """A session in which ``user`` is logged in, stored in ``alias`` until 2099; its key."""
    key = "".join(rnd.choice(VALID_KEY_CHARS) for _ in range(32))
    store = import_module(settings.SESSION_ENGINE).SessionStore()
    data = {
        SESSION_KEY: str(user.pk),
        BACKEND_SESSION_KEY: "django.contrib.auth.backends.ModelBackend",
        HASH_SESSION_KEY: user.get_session_auth_hash(),
    }
    # What store.encode(data) returns, less the clock.
    text = SignedAtNoon(salt=store.key_salt).sign_object(
        data, serializer=store.serializer, compress=True
    )
    Session.objects.using(alias).create(
        session_key=key, session_data=text, expire_date=datetime(2099, 12, 31, tzinfo=UTC)
    )
    return key


def populate(alias: str, rows: int, seed: int = 0) -> str:
    """Fill database ``alias`` (migrated, and empty of this data) with ``rows`` Everything rows
    and related tables sized after them; the key of the session that logs ``copier`` in."""
    rnd = random.Random(seed)
    Everything.objects.using(alias).bulk_create(
        [everything(rnd, i) for i in range(rows)], batch_size=BATCH
    )
    nodes(alias, rnd, max(rows // 4, 12))
    cycle(alias, max(rows // 50, 8))
    people = users(alias, rnd)
    written = articles(alias, rnd, max(rows // 20, 6), people)
    restaurants = places(alias, max(rows // 100, 6))
    comments(alias, rnd, [*written, *restaurants])
    codes(alias, rnd, max(rows // 20, len(CODES)))
    LogEntry.objects.using(alias).create(
        user=people[0],
        content_type=ContentType.objects.db_manager(alias).get_for_model(Article),
        object_id=str(written[0].pk),
        object_repr=str(written[0])[:200],
        action_time=datetime(2024, 3, 31, 1, 0, tzinfo=UTC),
        action_flag=ADDITION,
        change_message='[{"added": {}}]',
    )
    return session(alias, rnd, people[0])
