"""The two tables the copy benchmark moves: narrow rows, and rows shaped like a Django site's."""

from __future__ import annotations

from django.db import models


class Narrow(models.Model):
    """About 40 bytes of values: an int, a short varchar, a boolean, a datetime."""

    number = models.IntegerField()
    code = models.CharField(max_length=16)
    flag = models.BooleanField()
    created = models.DateTimeField()

    def __str__(self) -> str:
        return self.code


class Wide(models.Model):
    """About 430 bytes: varchars, a text of 300 characters, JSON, a decimal, a datetime, a key."""

    title = models.CharField(max_length=200)
    slug = models.CharField(max_length=100)
    author = models.CharField(max_length=100)
    body = models.TextField()
    data = models.JSONField()
    price = models.DecimalField(max_digits=10, decimal_places=2)
    published = models.DateTimeField()
    narrow = models.ForeignKey(Narrow, on_delete=models.CASCADE)

    def __str__(self) -> str:
        return self.title
