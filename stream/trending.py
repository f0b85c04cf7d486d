"""Trending: item popularity decayed by event time with forward decay (pure, no I/O).

An event of weight w at event time t adds ``w * 2**((t - landmark) / half_life)`` to its item's
score, where the landmark is a fixed time (the first trending event's). Scores then never need
rewriting as time passes; only before the exponent grows large (float overflow) are all scores
multiplied by ``2**-shift`` and the landmark moved forward ("rebase"). Read back, scores are
normalised to the newest event time seen: an event of weight w at that time counts w, one a
half-life older w / 2. Both stores follow these functions; the Redis one mirrors them in Lua.
"""

from __future__ import annotations

from dataclasses import dataclass

# Move the landmark once an event is this many half-lives past it: 2**32 is far from overflow.
REBASE_AFTER_HALF_LIVES = 32.0
# At a rebase, items whose score (as of the new landmark) fell below this are dropped.
PRUNE_BELOW = 1e-6
# Event times later than the worker's clock plus this count as that time for trending, so that
# one event stamped in a far future cannot make every real event look ancient.
MAX_FUTURE_MS = 5 * 60 * 1000


def trending_time_ms(timestamp_ms: int, now_ms: int) -> int:
    """Return the event time used for decay: the event's own, capped slightly past now."""
    return min(timestamp_ms, now_ms + MAX_FUTURE_MS)


def forward_weight(weight: float, t_ms: int, landmark_ms: int, half_life_ms: float) -> float:
    """Return what an event adds to its item's stored (landmark-relative) score."""
    return weight * 2.0 ** ((t_ms - landmark_ms) / half_life_ms)


def needs_rebase(t_ms: int, landmark_ms: int, half_life_ms: float) -> bool:
    """Return whether an event is so far past the landmark that scores must be rebased first."""
    return (t_ms - landmark_ms) / half_life_ms > REBASE_AFTER_HALF_LIVES


def rebase_factor(old_landmark_ms: int, new_landmark_ms: int, half_life_ms: float) -> float:
    """Return the factor that moves every stored score from one landmark to a later one."""
    return 2.0 ** ((old_landmark_ms - new_landmark_ms) / half_life_ms)


def normalised(score: float, landmark_ms: int, newest_ms: int, half_life_ms: float) -> float:
    """Return a stored score as the decayed weight at the newest event time seen."""
    return score * 2.0 ** ((landmark_ms - newest_ms) / half_life_ms)


@dataclass
class TrendingScores:
    """Forward-decayed item scores with their landmark, kept in memory."""

    half_life_ms: float
    landmark_ms: int | None = None
    newest_ms: int | None = None

    def __post_init__(self) -> None:
        self.scores: dict[str, float] = {}

    def add(self, item_id: str, weight: float, t_ms: int) -> None:
        """Count one event of positive weight at (trending) time t_ms."""
        self.newest_ms = t_ms if self.newest_ms is None else max(self.newest_ms, t_ms)
        if weight <= 0:
            return
        if self.landmark_ms is None:
            self.landmark_ms = t_ms
        elif needs_rebase(t_ms, self.landmark_ms, self.half_life_ms):
            self._rebase(t_ms)
        increment = forward_weight(weight, t_ms, self.landmark_ms, self.half_life_ms)
        if increment > 0:
            self.scores[item_id] = self.scores.get(item_id, 0.0) + increment

    def _rebase(self, new_landmark_ms: int) -> None:
        assert self.landmark_ms is not None
        factor = rebase_factor(self.landmark_ms, new_landmark_ms, self.half_life_ms)
        rebased = {item: score * factor for item, score in self.scores.items()}
        self.scores = {item: score for item, score in rebased.items() if score >= PRUNE_BELOW}
        self.landmark_ms = new_landmark_ms

    def top(self, k: int) -> list[tuple[str, float]]:
        """Return the k highest items with scores normalised to the newest event time."""
        if self.landmark_ms is None or self.newest_ms is None:
            return []
        ranked = sorted(self.scores.items(), key=lambda kv: (-kv[1], kv[0]))[:k]
        landmark, newest = self.landmark_ms, self.newest_ms
        return [(item, normalised(s, landmark, newest, self.half_life_ms)) for item, s in ranked]
