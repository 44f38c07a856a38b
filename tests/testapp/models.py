from django.db import models


class Note(models.Model):
    text = models.TextField()
    created = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.text


class Counter(models.Model):
    name = models.CharField(max_length=50, unique=True)
    hits = models.IntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.name}: {self.hits}"
