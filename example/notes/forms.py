from django import forms

from notes.models import Note


class NoteForm(forms.ModelForm):
    class Meta:
        model = Note
        fields = ["text"]
        labels = {"text": "Your note"}
        widgets = {"text": forms.Textarea(attrs={"rows": 4, "placeholder": "What's on your mind?"})}
