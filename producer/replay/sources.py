"""Where a replay reads: the reader of the selected source.

* ``s3`` — :mod:`producer.replay.archive_reader`;
* ``postgres`` — :mod:`producer.replay.postgres_reader`;
* ``file`` — :mod:`producer.replay.file_reader`.

What is selected is :mod:`producer.replay.selection`; what is sent, :mod:`producer.replay.plan`.
"""

from __future__ import annotations

from collections.abc import Iterator

from producer.replay.archive_reader import OnObject, read_archive
from producer.replay.file_reader import read_file
from producer.replay.plan import Candidate, Item, Plan, Problem, build_plan
from producer.replay.postgres_reader import read_postgres
from producer.replay.selection import Selection, Source
from tweetstream.settings import Settings

# Candidate, Plan, Problem, Selection and build_plan are still imported from here by
# producer.replay.run; new code imports them from plan and selection
__all__ = ["Candidate", "Plan", "Problem", "Selection", "build_plan", "read"]


def read(
    settings: Settings, selection: Selection, on_object: OnObject | None = None
) -> Iterator[Item]:
    """The records of the selected source."""
    if selection.source is Source.S3:
        return read_archive(settings, selection, on_object)
    if selection.source is Source.POSTGRES:
        return read_postgres(settings, selection)
    return read_file(selection.file or "")
