"""The replay itself: plan, then send in checkpointed chunks. :func:`replay` is the library API.

Guarantees: records go to Kafka keyed by tweet id with the :data:`REPLAY_HEADER` header
(value: the reason). The checkpoint advances only after a flush, i.e. after Kafka acknowledged
every record of the chunk, so an interrupted or crashed run resumed with ``resume=True`` skips
nothing (at-least-once); what may have been delivered twice is counted as re-sent. The worker
upserts by id, so PostgreSQL keeps one row per tweet and ``classification_history`` the rest.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from producer.publish import RateLimiter
from producer.replay.checkpoint import Checkpoint, checkpoint_path, load, save
from producer.replay.sources import Candidate, Plan, Problem, Selection, build_plan, read
from producer.sender import Headers, Sender, stop_on_signals
from tweetstream.schemas import REPLAY_HEADER, RawTweet
from tweetstream.settings import Settings

#: records between two checkpoints (fewer at low rates: a checkpoint at least every second)
CHUNK = 2_000
#: records printed by a dry run
SAMPLE = 5
#: called with (stage, done, total): stage "read" counts archive objects, "send" records
OnProgress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class ReplaySummary:
    """What one replay run selected, sent and skipped."""

    name: str
    source: str
    target: str
    range_text: str
    selected: int
    sent: int
    resent: int
    already_sent: int
    duplicates: int
    malformed: tuple[Problem, ...]
    corrupt: tuple[Problem, ...]
    elapsed: float
    dry_run: bool = False
    sample: tuple[RawTweet, ...] = ()
    interrupted_by: int | None = None
    checkpoint: Path | None = None

    @property
    def skipped(self) -> int:
        """Records not sent: superseded duplicates, sent by an earlier run, malformed."""
        return self.duplicates + self.already_sent + len(self.malformed)

    @property
    def rate(self) -> float:
        return self.sent / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def to_send(self) -> int:
        """What this run had to send (the selection minus what earlier runs delivered)."""
        return self.selected - self.already_sent

    def line(self) -> str:
        """The one-line summary the CLI prints."""
        stop = " (interrupted)" if self.interrupted_by is not None else ""
        return (
            f"replayed to {self.target}: selected {self.selected:,}, sent {self.sent:,} "
            f"(re-sent after resume {self.resent:,}), skipped {self.skipped:,} "
            f"(duplicates {self.duplicates:,}, already sent {self.already_sent:,}, "
            f"malformed {len(self.malformed):,}), corrupt objects {len(self.corrupt):,}, "
            f"{self.elapsed:.2f} s, {self.rate:,.0f} tweets/s{stop}"
        )


def chunks(items: Sequence[Candidate], size: int) -> Iterator[Sequence[Candidate]]:
    """``items`` in consecutive slices of at most ``size``."""
    for i in range(0, len(items), size):
        yield items[i : i + size]


def chunk_size(rate: float | None) -> int:
    """Records per checkpoint: CHUNK, or about one second's worth at a paced rate."""
    return CHUNK if rate is None else max(1, min(CHUNK, int(rate)))


@dataclass
class _Progress:
    sent: int = 0
    resent: int = 0


def _send_all(
    sender: Sender,
    todo: Sequence[Candidate],
    state: tuple[Checkpoint, Path],
    *,
    topic: str,
    headers: Headers,
    rate: float | None,
    on_progress: OnProgress | None,
) -> _Progress:
    """Send ``todo`` chunk by chunk; the checkpoint advances after each flush."""
    checkpoint, path = state
    resend_through = checkpoint.pending if checkpoint.pending is not None else None
    stop = sender.stop
    limiter = RateLimiter(rate, sleep=stop.wait) if rate else None
    done = _Progress()
    for chunk in chunks(todo, chunk_size(rate)):
        if stop.is_set():
            break
        checkpoint.begin(chunk[-1].position)
        save(checkpoint, path)
        last: Candidate | None = None
        count = 0
        for item in chunk:
            if limiter is not None:
                limiter.wait()
            if stop.is_set():
                break
            tweet = item.tweet
            if not sender.send(topic, tweet.id.encode(), tweet.to_bytes(), headers=headers):
                break  # stopped, or failed: raised below
            last, count = item, count + 1
            if resend_through is not None and item.position <= resend_through:
                done.resent += 1
            if on_progress is not None:
                on_progress("send", done.sent + count, len(todo))
        if not sender.flush():  # every record acknowledged, or the first failure
            raise sender.failure()
        checkpoint.advance(last.position if last else None, count)
        save(checkpoint, path)
        done.sent += count
    return done


# --- the library entry point -----------------------------------------------------------------


def _checkpoint_for(
    path: Path, name: str, selection: Selection, target: str, resume: bool
) -> Checkpoint:
    fingerprint = selection.fingerprint()
    if not resume:
        return Checkpoint(name=name, selection=fingerprint, target=target)
    checkpoint = load(path)
    checkpoint.check_matches(fingerprint, target)
    return checkpoint


def replay(
    settings: Settings,
    selection: Selection,
    *,
    target: str | None = None,
    reason: str = "replay",
    rate: float | None = None,
    dry_run: bool = False,
    resume: bool = False,
    name: str | None = None,
    on_progress: OnProgress | None = None,
) -> ReplaySummary:
    """Re-publish the selected tweets to ``target`` (default: the raw topic).

    Reads the source, keeps the latest record per id, sends what the checkpoint does not cover
    yet, and returns the counts. ``dry_run`` sends nothing and writes no checkpoint. The first
    SIGINT/SIGTERM stops between records: what was sent is flushed, the checkpoint saved, and
    the summary carries ``interrupted_by``. Raises a ``TweetstreamError`` subclass for unusable
    input (missing file, unreadable source, foreign checkpoint) or a Kafka failure.
    """
    topic = target or settings.raw_topic
    name = name or selection.default_name(topic)
    path = checkpoint_path(settings, name)
    checkpoint = _checkpoint_for(path, name, selection, topic, resume)
    began = time.monotonic()

    def on_object(done: int, total: int) -> None:
        if on_progress is not None:
            on_progress("read", done, total)

    plan = build_plan(read(settings, selection, on_object), selection)
    todo = [c for c in plan.items if not checkpoint.covers(c.position)]

    def summary(sent: int = 0, resent: int = 0, signum: int | None = None) -> ReplaySummary:
        return _summary(
            plan,
            name=name,
            selection=selection,
            target=topic,
            sent=sent,
            resent=resent,
            already=len(plan.items) - len(todo),
            elapsed=time.monotonic() - began,
            dry_run=dry_run,
            sample=tuple(c.tweet for c in todo[:SAMPLE]) if dry_run else (),
            signum=signum,
            checkpoint=None if dry_run or not plan.items else path,
        )

    if dry_run or not plan.items:
        return summary()
    headers = [(REPLAY_HEADER, reason.encode("utf-8"))]
    with Sender(settings) as sender:
        sender.check_topic(topic)
        checkpoint.runs += 1
        with stop_on_signals(sender.stop) as stop:
            done = _send_all(
                sender,
                todo,
                (checkpoint, path),
                topic=topic,
                headers=headers,
                rate=rate,
                on_progress=on_progress,
            )
            checkpoint.complete = not stop.is_set()
            save(checkpoint, path)
    return summary(done.sent, done.resent, stop.signum)


def _summary(
    plan: Plan,
    *,
    name: str,
    selection: Selection,
    target: str,
    sent: int,
    resent: int,
    already: int,
    elapsed: float,
    dry_run: bool,
    sample: tuple[RawTweet, ...],
    signum: int | None,
    checkpoint: Path | None,
) -> ReplaySummary:
    return ReplaySummary(
        name=name,
        source=selection.source.value,
        target=target,
        range_text=selection.range_text(),
        selected=len(plan.items),
        sent=sent,
        resent=resent,
        already_sent=already,
        duplicates=plan.duplicates,
        malformed=tuple(plan.malformed),
        corrupt=tuple(plan.corrupt),
        elapsed=elapsed,
        dry_run=dry_run,
        sample=sample,
        interrupted_by=signum,
        checkpoint=checkpoint,
    )


def describe_source(settings: Settings, selection: Selection) -> str:
    """Where the selection reads, for messages."""
    if selection.source.value == "s3":
        return f"s3://{settings.archive_bucket}/{settings.archive_prefix}/"
    if selection.source.value == "postgres":
        return f"postgresql {settings.pg_database}.classified_tweets"
    return str(selection.file)


__all__ = ["OnProgress", "ReplaySummary", "describe_source", "replay"]
