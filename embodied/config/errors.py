"""``ConfigError``: the one exception every config mistake becomes, naming file, line, key, expected, given."""

from __future__ import annotations

from dataclasses import dataclass

from embodied.errors import UserError


@dataclass(frozen=True)
class Problem:
    """One thing wrong in a config: where (file, line, dotted key), what was expected and what was given."""

    key: str
    expected: str
    given: str = ""
    file: str | None = None
    line: int | None = None

    def render(self) -> str:
        where = self.file or "<config>"
        if self.line is not None:
            where += f":{self.line}"
        text = f"{where}: {self.key or '<top level>'}: expected {self.expected}"
        if self.given:
            text += f", got {self.given}"
        return text


class ConfigError(ValueError, UserError):
    """A config file, override or value is wrong. ``problems`` lists each mistake found."""

    def __init__(self, problems: list[Problem] | Problem) -> None:
        self.problems = [problems] if isinstance(problems, Problem) else list(problems)
        lines = [p.render() for p in self.problems]
        head = "invalid config" if len(lines) == 1 else f"invalid config ({len(lines)} problems)"
        super().__init__(head + ":\n  " + "\n  ".join(lines))

    def one_line(self) -> str:
        """The message on one line, for the console script (``embodied.errors``)."""
        head = "invalid config" if len(self.problems) == 1 else f"invalid config ({len(self.problems)} problems)"
        return head + ": " + "; ".join(p.render() for p in self.problems)

    @classmethod
    def single(
        cls, key: str, expected: str, given: str = "", file: str | None = None, line: int | None = None
    ) -> ConfigError:
        return cls(Problem(key=key, expected=expected, given=given, file=file, line=line))
