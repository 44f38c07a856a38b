"""The tables a copy covers: every concrete, managed model both aliases allow, in order."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any, TypeAlias

from django.apps import apps
from django.core.management.base import CommandError
from django.db import models, router
from django.db.backends.base.base import BaseDatabaseWrapper

INTEGER_KEYS = frozenset(
    {
        "AutoField",
        "BigAutoField",
        "SmallAutoField",
        "IntegerField",
        "BigIntegerField",
        "SmallIntegerField",
        "PositiveIntegerField",
        "PositiveBigIntegerField",
        "PositiveSmallIntegerField",
    }
)


Field: TypeAlias = "models.Field[Any, Any]"


def stored_kind(field: Field) -> str:
    """The field's internal type; for a foreign key or a parent link, that of what it points at."""
    while field.is_relation and getattr(field, "target_field", None) is not None:
        field = field.target_field  # type: ignore[attr-defined]
    return str(field.get_internal_type())


@dataclass(frozen=True)
class Table:
    """One model's table: its columns in the order they are read and written."""

    model: type[models.Model]
    # Only these fields (by name) and the key, for a verification that reads a few columns.
    chosen: frozenset[str] | None = None

    def only(self, names: frozenset[str]) -> Table:
        return Table(self.model, names)

    @property
    def name(self) -> str:
        return str(self.model._meta.db_table)

    @property
    def label(self) -> str:
        return str(self.model._meta.label)

    @cached_property
    def fields(self) -> tuple[Field, ...]:
        every = self.model._meta.local_concrete_fields
        if self.chosen is None:
            return tuple(every)
        return tuple(f for f in every if f.name in self.chosen or f.primary_key)

    @property
    def pk(self) -> Field:
        return self.model._meta.pk

    @cached_property
    def integer_key(self) -> bool:
        """Whether the primary key is an integer: ranges of it order alike on every database."""
        return stored_kind(self.pk) in INTEGER_KEYS

    def quoted(self, connection: BaseDatabaseWrapper) -> tuple[str, str, list[str]]:
        """The table, its key and its columns, quoted for ``connection``."""
        quote = connection.ops.quote_name
        return (
            quote(self.name),
            quote(str(self.pk.column)),
            [quote(str(f.column)) for f in self.fields],
        )

    def references(self) -> set[type[models.Model]]:
        """The models this table's foreign keys point at (itself left out)."""
        found = set()
        for field in self.fields:
            target = field.related_model if field.is_relation else None
            if isinstance(target, type) and target is not self.model:
                found.add(target._meta.concrete_model or target)
        return found


def copied_tables(
    source: str, target: str, include: Sequence[str] = (), exclude: Sequence[str] = ()
) -> list[Table]:
    """Every table the copy covers, referenced tables before the tables referring to them.

    Concrete, managed models of every installed app that the routers allow on both aliases,
    and the many-to-many tables Django creates; no proxy, unmanaged or swapped-out model and
    no ``django_migrations``. ``include`` and ``exclude`` hold ``app_label`` or
    ``app_label.ModelName`` labels; an auto-created many-to-many table goes with the model
    that declares it.
    """
    for label in (*include, *exclude):
        _check_label(label)
    chosen: dict[type[models.Model], Table] = {}
    for model in apps.get_models(include_auto_created=True):
        meta = model._meta
        if meta.proxy or not meta.managed or meta.swapped:
            continue
        if not (
            router.allow_migrate_model(source, model) and router.allow_migrate_model(target, model)
        ):
            continue
        # A many-to-many table Django made goes with the model that declares the field.
        owner: type[models.Model] = getattr(meta, "auto_created", None) or model
        if include and not _matches(owner, include):
            continue
        if _matches(owner, exclude):
            continue
        chosen[model] = Table(model)
    return _in_dependency_order(chosen)


def _check_label(label: str) -> None:
    app_label, _, model_name = label.partition(".")
    try:
        config = apps.get_app_config(app_label)
    except LookupError:
        raise CommandError(f"Unknown app label {app_label!r} in {label!r}.") from None
    if model_name:
        try:
            config.get_model(model_name)
        except LookupError:
            raise CommandError(
                f"Unknown model {label!r}: app {app_label!r} has no such model."
            ) from None


def _matches(model: type[models.Model], labels: Iterable[str]) -> bool:
    meta = model._meta
    return any(label == meta.app_label or label.lower() == meta.label_lower for label in labels)


def _in_dependency_order(chosen: dict[type[models.Model], Table]) -> list[Table]:
    """Depth first, referenced tables first; a cycle is cut where it closes.

    The copy loads with foreign keys unchecked and checks them all at the end, so the order
    only keeps the first inserts natural; cycles need nothing more.
    """
    ordered: list[Table] = []
    state: dict[type[models.Model], bool] = {}  # False: being visited; True: placed

    def visit(model: type[models.Model]) -> None:
        if model in state:
            return
        state[model] = False
        table = chosen[model]
        for target in sorted(table.references(), key=lambda m: m._meta.label):
            if target in chosen:
                visit(target)
        state[model] = True
        ordered.append(table)

    for model in sorted(chosen, key=lambda m: m._meta.label):
        visit(model)
    return ordered
