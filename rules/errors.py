"""Configuration errors that point at a file and a line."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True, order=True)
class ConfigError:
    """One problem in a rules or receivers file: where it is and what is wrong.

    `line` is 1-based; 0 means the problem concerns the whole file (it cannot be read).
    """

    file: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.reason}"


class ConfigErrors(Exception):
    """Raised by the loaders when a file has errors; carries every error, not only the first."""

    def __init__(self, errors: list[ConfigError]) -> None:
        self.errors = sorted(errors)
        super().__init__("\n".join(str(error) for error in self.errors))
