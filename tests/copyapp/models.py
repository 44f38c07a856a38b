"""One model per shape a copy between databases can get wrong.

``Everything`` holds one column of each field type (and nullable twins, so a row can hold NULL and
another the empty string); the others are relation shapes: a self reference whose parent may come
later in key order, a cycle between two tables, both kinds of many-to-many, a generic foreign key,
multi-table inheritance, primary keys that are not integers. ``ProxyTag`` and ``Unmanaged`` have
no table of their own to copy.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey, GenericRelation
from django.contrib.contenttypes.models import ContentType
from django.db import models


# The nullable string fields are on purpose: a copy must keep NULL and "" apart.
class Everything(models.Model):
    id = models.BigAutoField(primary_key=True)
    flag = models.BooleanField(default=False)
    maybe = models.BooleanField(null=True)
    char = models.CharField(max_length=40, blank=True)
    char_null = models.CharField(max_length=40, null=True, blank=True)  # noqa: DJ001
    text = models.TextField(blank=True)
    text_null = models.TextField(null=True, blank=True)  # noqa: DJ001
    slug = models.SlugField(blank=True, allow_unicode=True)
    email = models.EmailField(blank=True)
    url = models.URLField(blank=True)
    integer = models.IntegerField()
    integer_null = models.IntegerField(null=True)
    big = models.BigIntegerField()
    small = models.SmallIntegerField()
    positive = models.PositiveIntegerField()
    positive_big = models.PositiveBigIntegerField()
    positive_small = models.PositiveSmallIntegerField()
    real = models.FloatField()
    real_null = models.FloatField(null=True)
    decimal = models.DecimalField(max_digits=20, decimal_places=6)
    decimal_null = models.DecimalField(max_digits=20, decimal_places=6, null=True)
    day = models.DateField()
    day_null = models.DateField(null=True)
    moment = models.DateTimeField()
    moment_null = models.DateTimeField(null=True)
    clock = models.TimeField()
    clock_null = models.TimeField(null=True)
    span = models.DurationField()
    span_null = models.DurationField(null=True)
    uuid = models.UUIDField()
    uuid_null = models.UUIDField(null=True)
    blob = models.BinaryField(blank=True)
    blob_null = models.BinaryField(null=True)
    data = models.JSONField(null=True)  # SQL NULL and JSON null are two different rows
    ip = models.GenericIPAddressField(null=True, blank=True)
    file = models.FileField(upload_to="uploads/", blank=True)
    path = models.FilePathField(path="/srv/files", blank=True)

    def __str__(self) -> str:
        return f"everything {self.pk}"


class Node(models.Model):
    name = models.CharField(max_length=40)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="children"
    )

    def __str__(self) -> str:
        return self.name


class Left(models.Model):
    name = models.CharField(max_length=40)
    right = models.ForeignKey(
        "Right", null=True, blank=True, on_delete=models.SET_NULL, related_name="pointing_lefts"
    )

    def __str__(self) -> str:
        return self.name


class Right(models.Model):
    name = models.CharField(max_length=40)
    left = models.ForeignKey(
        Left, null=True, blank=True, on_delete=models.SET_NULL, related_name="pointing_rights"
    )

    def __str__(self) -> str:
        return self.name


class Tag(models.Model):
    name = models.CharField(max_length=40, unique=True)

    def __str__(self) -> str:
        return self.name


class ProxyTag(Tag):
    class Meta:
        proxy = True

    def __str__(self) -> str:
        return f"proxy {self.name}"


class Article(models.Model):
    title = models.CharField(max_length=200)
    published = models.DateTimeField(null=True)
    tags = models.ManyToManyField(Tag, blank=True)
    readers = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="Reading", related_name="read_articles", blank=True
    )
    # No table: the comments are found through Comment's generic foreign key.
    comments = GenericRelation("Comment")

    def __str__(self) -> str:
        return self.title


class Reading(models.Model):
    article = models.ForeignKey(Article, on_delete=models.CASCADE)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    minutes = models.PositiveIntegerField()

    def __str__(self) -> str:
        return f"{self.user_id} read {self.article_id} for {self.minutes} min"


class Comment(models.Model):
    content_type = models.ForeignKey(ContentType, on_delete=models.CASCADE)
    object_id = models.PositiveBigIntegerField()
    content_object = GenericForeignKey("content_type", "object_id")
    body = models.TextField()

    def __str__(self) -> str:
        return self.body[:40]


class Place(models.Model):
    name = models.CharField(max_length=80)

    def __str__(self) -> str:
        return self.name


class Restaurant(Place):
    serves_pizza = models.BooleanField(default=False)

    def __str__(self) -> str:
        return f"restaurant {self.name}"


class Code(models.Model):
    code = models.CharField(primary_key=True, max_length=20)
    label = models.CharField(max_length=80, blank=True)

    def __str__(self) -> str:
        return self.code


class Token(models.Model):
    key = models.UUIDField(primary_key=True, default=uuid.uuid4)
    # A foreign key whose column holds text, not an integer.
    code = models.ForeignKey(Code, null=True, blank=True, on_delete=models.SET_NULL)
    label = models.CharField(max_length=80, blank=True)

    def __str__(self) -> str:
        return str(self.key)


class Unmanaged(models.Model):
    name = models.CharField(max_length=40)

    class Meta:
        managed = False
        db_table = "copyapp_unmanaged"

    def __str__(self) -> str:
        return self.name
