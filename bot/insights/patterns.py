"""Recurring patterns: the same alert, service or kind of title at the same time of the week or of the day.

Pure functions over (kind, key, time) occurrences, tested without a database. The rule (docs/insights.md):

* occurrences are counted once per hour slot (a date and an hour, UTC): an alert that fires ten times in one night is
  one slot, so a flapping alert cannot make a pattern on its own;
* **weekly**: 3 or more slots of one key fall in the same weekday-and-hour bucket (e.g. Mondays 03:00–04:00 UTC);
* **daily**: 3 or more slots of one key fall in the same hour, on different days;
* and it is not chance: if each key's slots were spread evenly over the week (or the day), the probability that some
  bucket of some key would get that many is at most 1% (binomial tail, times the buckets, times the keys tested).
  Without this guard a key seen 20 times at random lands 3 times in one hour of the day most of the time, and a
  history of thousands of distinct titles throws up a few "patterns" by luck: the report would cry wolf.
"""
from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

MIN_HITS = 3
ALPHA = 0.01
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
KINDS = ("alert", "service", "title")
# Words that say nothing about what broke; a title cluster is the set of the remaining words.
STOPWORDS = frozenset("""a an and are at be by for from has have in is it its of on or the to was were with
    not all some users user issue issues problem problems incident error errors failing failed down""".split())
WORD = re.compile(r"[a-z][a-z0-9-]{2,}")
TITLE_WORDS = 4


@dataclass(frozen=True)
class Pattern:
    kind: str  # alert | service | title
    key: str
    shape: str  # weekly | daily
    weekday: int | None  # 0 = Monday (weekly only)
    hour: int  # UTC
    hits: int  # slots in the bucket: one per day
    out_of: int  # days of that kind (that weekday, or any day) in the window
    chance: float  # how likely so many would land in some bucket by chance

    def when(self) -> str:
        """`4 of the last 5 Mondays between 03:00 and 04:00 UTC` (plain text: no user input in it)."""
        hours = f"between {self.hour:02d}:00 and {(self.hour + 1) % 24:02d}:00 UTC"
        if self.shape == "weekly" and self.weekday is not None:
            return f"{self.hits} of the last {self.out_of} {WEEKDAYS[self.weekday]}s {hours}"
        return f"on {self.hits} of the last {self.out_of} days {hours}"

    def subject(self, key_shown: str) -> str:
        """What recurs, with the key already escaped for where it is shown."""
        if self.kind == "alert":
            return f"{key_shown} alerts"
        if self.kind == "service":
            return f"{key_shown} incidents and alerts"
        return f"incidents titled like \u201c{key_shown}\u201d"

    def sentence(self, key_shown: str | None = None) -> str:
        return f"{self.subject(self.key if key_shown is None else key_shown)}: {self.when()}"


def title_cluster(title: str) -> str | None:
    """The title's telling words, lower case, sorted, at most four: `Checkout latency HIGH!` and `High latency on
    checkout` are one cluster (`checkout high latency`). None when nothing telling is left."""
    words = sorted({w for w in WORD.findall(title.lower()) if w not in STOPWORDS and not w.isdigit()})
    return " ".join(words[:TITLE_WORDS]) or None


def binomial_tail(n: int, k: int, p: float) -> float:
    """P(X ≥ k) for X ~ Binomial(n, p), summed from the bottom (the pmf by recurrence, no huge integers)."""
    if k <= 0:
        return 1.0
    if k > n:
        return 0.0
    pmf = (1 - p) ** n
    below = 0.0
    ratio = p / (1 - p)
    for i in range(k):
        below += pmf
        pmf *= (n - i) / (i + 1) * ratio
    return max(0.0, 1.0 - below)


def _days_in(start: datetime, end: datetime, hour: int, weekday: int | None) -> int:
    """Days whose slot at `hour` (UTC) lies inside [start, end), of one weekday or of any."""
    first = start.astimezone(timezone.utc).date()
    count = 0
    day = first
    while True:
        slot = datetime(day.year, day.month, day.day, hour, tzinfo=timezone.utc)
        if slot >= end:
            break
        if slot >= start and (weekday is None or day.weekday() == weekday):
            count += 1
        day += timedelta(days=1)
    return count


def detect(occurrences: Iterable[tuple[str, str, datetime]], start: datetime, end: datetime) -> list[Pattern]:
    """Every pattern in [start, end), strongest first (most hits, then least likely by chance)."""
    # A slot is one int (the day's ordinal × 24 + the hour): a period's occurrences stay small in memory.
    slots: dict[tuple[str, str], set[int]] = defaultdict(set)
    for kind, key, at in occurrences:
        if start <= at < end and key:
            at = at.astimezone(timezone.utc)
            slots[(kind, key)].add(at.toordinal() * 24 + at.hour)
    # Every key seen MIN_HITS times is tested in every bucket: the chance is corrected for all those tests, so a
    # history with thousands of distinct titles does not throw up a few by luck.
    tested = sum(1 for taken in slots.values() if len(taken) >= MIN_HITS)
    found: list[Pattern] = []
    for (kind, key), taken in slots.items():
        n = len(taken)
        if n < MIN_HITS:
            continue
        # date.fromordinal(d).weekday() == (d - 1) % 7 (ordinal 1 is Monday 0001-01-01).
        weekly = Counter((((slot // 24) - 1) % 7, slot % 24) for slot in taken)
        weekly_hits: dict[int, int] = {}
        for (weekday, hour), hits in weekly.most_common():
            if hits < MIN_HITS:
                break
            chance = min(1.0, tested * 168 * binomial_tail(n, hits, 1 / 168))
            if chance > ALPHA:
                break  # the tail only grows as hits fall
            found.append(Pattern(kind, key, "weekly", weekday, hour, hits, _days_in(start, end, hour, weekday), chance))
            weekly_hits[hour] = max(weekly_hits.get(hour, 0), hits)
        for hour, hits in Counter(slot % 24 for slot in taken).most_common():
            if hits < MIN_HITS:
                break
            chance = min(1.0, tested * 24 * binomial_tail(n, hits, 1 / 24))
            if chance > ALPHA:
                break
            # A weekly pattern at this hour already says it, unless other days add at least MIN_HITS more.
            if hits - weekly_hits.get(hour, 0) < MIN_HITS:
                continue
            found.append(Pattern(kind, key, "daily", None, hour, hits, _days_in(start, end, hour, None), chance))
    found.sort(key=lambda p: (-p.hits, p.chance, KINDS.index(p.kind), p.key, p.weekday or 0, p.hour))
    return found
