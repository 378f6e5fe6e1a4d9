"""A one-line progress bar for management commands, shown only on a terminal."""

from __future__ import annotations

from typing import Any

from django.core.management.base import OutputWrapper


class ProgressBar:
    def __init__(self, stream: Any, label: str, width: int = 30) -> None:
        self.stream = stream
        self.label = label
        self.width = width
        isatty = getattr(stream, "isatty", None)
        self.enabled = bool(isatty and isatty())

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled or total <= 0:
            return
        filled = int(self.width * done / total)
        bar = "#" * filled + "-" * (self.width - filled)
        self._write(f"\r{self.label} [{bar}] {done}/{total}" + ("\n" if done >= total else ""))

    def _write(self, text: str) -> None:
        if isinstance(self.stream, OutputWrapper):
            self.stream.write(text, ending="")
        else:
            self.stream.write(text)
        self.stream.flush()
