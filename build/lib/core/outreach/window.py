"""A daily interval of local time (quiet hours, send windows).

Its own module so that `core.settings` can validate OUTREACH_QUIET_HOURS with it without
importing the outreach rules (which are built from the settings: that would be a loop).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import time

_WINDOW_RE = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


@dataclass(frozen=True, slots=True)
class Window:
    """A daily interval of local time, [start, end); it may run over midnight (21:00-09:00)."""

    start: time
    end: time

    def __post_init__(self) -> None:
        if self.start == self.end:
            raise ValueError("a window needs a different start and end")

    @classmethod
    def parse(cls, text: str) -> Window:
        """'21:00-09:00' -> Window(21:00, 09:00); raises ValueError with a readable message."""
        m = _WINDOW_RE.match(text)
        if not m:
            raise ValueError("expected HH:MM-HH:MM, e.g. 21:00-09:00")
        h1, m1, h2, m2 = (int(g) for g in m.groups())
        if h1 > 23 or h2 > 23 or m1 > 59 or m2 > 59:
            raise ValueError("hours are 0-23 and minutes 0-59")
        return cls(time(h1, m1), time(h2, m2))

    def contains(self, t: time) -> bool:
        if self.start < self.end:
            return self.start <= t < self.end
        return t >= self.start or t < self.end

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"
