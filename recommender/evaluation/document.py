"""Assemble the markdown report from its sections (pure: returns text)."""

from __future__ import annotations

from recommender.evaluation.report import (
    LIMITS_OF_REPLICATION,
    PrequentialSection,
    RunInfo,
    StaticSection,
    failures_note,
    goal_verdict,
    prequential_table,
    static_table,
    trials_table,
)

# How the grid's ranges were set (a fact about its development, kept with every report).
GRID_PROVENANCE = (
    "The grid's ranges come from exploration on this validation split only. Disclosure: while "
    "the protocol was being built, before the validation split existed, about a dozen untuned "
    "configurations (λ ≤ 1) were scored on the test split, and one configuration near the "
    "eventual winner (binary, 64 factors, λ 80, α 15) was scored on test once to check the "
    "pipeline end to end; no choice below was made on test numbers."
)
STATIC_PNG = "static_metrics.png"
PREQUENTIAL_PNG = "prequential_hit_rate.png"
VARIANT_NOTES = {
    "fold-in every event": "`RecommendationService` over the live feature store with the model "
    "trained at the cut — the API as it runs: every request folds in the user's current history.",
    "static model": "the model trained at the cut with each user's history as it was then, never "
    "updated; users unknown at the cut (or short lists) get the most popular items at the cut. "
    "Items seen since are still excluded.",
    "retrain every": "as fold-in, plus `train_model` on the whole store after every N replayed "
    "events (grey dotted lines); the trainer's lock and held-out gate are not part of this loop.",
    "trending only": "`RecommendationService` without a model: the store's trending items "
    "(time-decayed popularity by event time), then all-time popularity, seen items excluded.",
}


def variant_note(name: str) -> str:
    """Return what a variant does, by the start of its name."""
    return next((note for key, note in VARIANT_NOTES.items() if name.startswith(key)), "")


def header(info: RunInfo) -> str:
    """Render the title and what ran where."""
    mode = " (quick mode: smaller grid, shorter replay)" if info.quick else ""
    return (
        f"# Offline evaluation on MovieLens 100K{mode}\n\n"
        f"Written by `{info.command}` on {info.finished_at} at `{info.revision}`, in "
        f"{info.total_seconds / 60:.1f} min on: {info.machine} (shared; 1/5/15-minute load "
        f"average at the end: {info.load_average}).\n\n"
        f"Data: `{info.data_path}` (sha256 `{info.data_sha256[:16]}…`). Every list comes from the "
        "code the API runs: events become features with `stream.features.feature_update` and "
        "`InMemoryFeatureStore.apply`, models come from `recommender.train.train_model`, and "
        "users are served by `RecommendationService` (fold-in of their history at request time).\n"
    )


def static_part(section: StaticSection) -> str:
    """Render the static protocol: verdict, table, plot, tuning and caveats."""
    s = section.sizes
    chosen = "; ".join(f"{k}: `{t.candidate.describe()}`" for k, t in section.chosen.items())
    return (
        "## Static protocol: Microsoft Recommenders' MovieLens benchmark\n\n"
        "Every rating is a positive; each item's ratings are split 75/25 at random "
        f'(`python_stratified_split(ratio=0.75, filter_by="item", seed=42)`): {s["train"]:,} '
        f"training and {s['test']:,} test ratings, {s['test_users']:,} test users. Each user gets "
        "a top-10 from `RecommendationService.recommend` with their training items excluded.\n\n"
        f"{goal_verdict(section.results)}\n\n{static_table(section.results)}\n\n"
        'The tuned ALS is the best candidate by validation nDCG@10; "tuned, events weighting" '
        "is the best candidate by validation among those with production's event weights "
        "(deployable by settings alone); both rules are fixed in the code, not picked on test.\n\n"
        f"![P@10, R@10, nDCG@10 and MAP per model]({STATIC_PNG})\n\n"
        "### Tuning (validation split of the training part only)\n\n"
        f"The training part was split again per item 75/25 (seed 42): {s['fit']:,} ratings to "
        f"fit, {s['validation']:,} to validate. The test split chose nothing: each candidate was "
        f"scored on validation only, the best by validation nDCG@10 was retrained on the whole "
        f"training part and scored once on test. {len(section.trials)} candidates in "
        f"{section.seconds / 60:.1f} min (whole static protocol). Chosen — {chosen}.\n\n"
        f"{GRID_PROVENANCE}\n\n"
        "`binary`: every positive event weighs 1 (the benchmark's \"every rating is a "
        "positive\"); `events`: the stream worker's weights (view 1, watch 2, like 4 — MovieLens "
        "1-3 stars view, 4 watch, 5 like). The best ten:\n\n"
        f"{trials_table(section.trials, 10)}\n\n{LIMITS_OF_REPLICATION}"
    )


def prequential_part(section: PrequentialSection) -> str:
    """Render the streaming protocol: set-up, table and plot."""
    s, p = section.sizes, section.period
    notes = "\n".join(
        f"- **{name}**: {variant_note(name)}".replace(" N ", f" {section.retrain_every:,} ")
        for name in section.result.hits
    )
    return (
        "## Streaming (prequential) protocol\n\n"
        f"All ratings sorted by time. The first {s['train']:,} ({p['train']}) are applied to the "
        f"feature store and train the model; the next {s['replayed']:,} ({p['replayed']}) are "
        "replayed in order: before each event the user's top-10 is asked for, a hit counted when "
        "the event's item is in it, then the event is applied with `feature_update` + "
        "`InMemoryFeatureStore.apply` as the stream worker does.\n\n"
        f"Model: `{section.params}` ({section.params_source}).\n\n{notes}\n\n"
        f"{prequential_table(section)}\n\n{failures_note(section.result)}\n"
        f"![hit-rate@10 over the replay, per variant]({PREQUENTIAL_PNG})\n\n"
        f"Replay time: {section.seconds / 60:.1f} min. Each point of the plot is the hit-rate of "
        f"the preceding {section.window:,} events.\n"
    )


def render(
    info: RunInfo, static: StaticSection | None, prequential: PrequentialSection | None
) -> str:
    """Return the whole report as markdown."""
    parts = [header(info)]
    if static is not None:
        parts.append(static_part(static))
    if prequential is not None:
        parts.append(prequential_part(prequential))
    return "\n".join(parts)
