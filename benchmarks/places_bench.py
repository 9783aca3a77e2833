"""Places: how many of the Kaggle ``location`` values resolve, a sample to check by hand, speed.

    .venv/bin/python -W ignore benchmarks/places_bench.py [--sample 100] [--seed 13]

Prints the share of non-empty ``location`` values (all rows of train.csv and test.csv, and the
distinct values) that :func:`tweetstream.places.resolve` resolves, the share of the remaining
tweets whose text names a place, a seeded random sample of resolved distinct values with what
they resolved to (for checking by hand, see docs/benchmarks.md), and the cost per tweet beside
a baseline measured in the same run (one dict lookup of the raw location string).
"""

from __future__ import annotations

import argparse
import random
import time

import pandas as pd

from tweetstream.places import gazetteer, resolve
from tweetstream.settings import Settings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sample", type=int, default=100, help="resolved values to list")
    parser.add_argument("--seed", type=int, default=13, help="seed of the sample")
    args = parser.parse_args()
    data = Settings().data_dir
    frame = pd.concat([pd.read_csv(data / "train.csv"), pd.read_csv(data / "test.csv")])
    locations = [v if isinstance(v, str) and v.strip() else None for v in frame["location"]]
    texts = [str(t) for t in frame["text"]]
    began = time.perf_counter()
    gazetteer().text_names  # noqa: B018 - built once per process: timed apart
    built = time.perf_counter() - began

    began = time.perf_counter()
    places = [resolve(loc, text) for loc, text in zip(locations, texts, strict=True)]
    first = (time.perf_counter() - began) / len(texts) * 1e6
    began = time.perf_counter()
    places = [resolve(loc, text) for loc, text in zip(locations, texts, strict=True)]
    again = (time.perf_counter() - began) / len(texts) * 1e6
    lookup: dict[str, int] = {}
    began = time.perf_counter()
    for loc in locations:
        lookup.get(loc or "")
    baseline = (time.perf_counter() - began) / len(texts) * 1e6

    given = [i for i, loc in enumerate(locations) if loc is not None]
    from_location = [i for i in given if places[i] is not None and places[i].source == "location"]  # type: ignore[union-attr]
    distinct = sorted({locations[i] for i in given})  # type: ignore[type-var]
    distinct_resolved = sorted({locations[i] for i in from_location})  # type: ignore[type-var]
    rest = [i for i in range(len(texts)) if i not in set(from_location)]
    from_text = [i for i in rest if places[i] is not None]
    print(f"tweets: {len(texts):,}; with a location: {len(given):,}")
    print(
        f"location resolved: {len(from_location):,} of {len(given):,} rows "
        f"({len(from_location) / len(given):.1%}); {len(distinct_resolved):,} of "
        f"{len(distinct):,} distinct values ({len(distinct_resolved) / len(distinct):.1%})"
    )
    print(
        f"otherwise a place named in the text: {len(from_text):,} of {len(rest):,} tweets "
        f"({len(from_text) / len(rest):.1%})"
    )
    kinds = pd.Series([p.kind for p in places if p is not None]).value_counts().to_dict()
    print(f"by kind: {kinds}")
    print(
        f"cost per tweet: {first:.1f} µs (first pass), {again:.1f} µs (locations seen before); "
        f"baseline dict lookup {baseline:.2f} µs; gazetteer built in {built:.2f} s"
    )
    sample = random.Random(args.seed).sample(
        distinct_resolved, min(args.sample, len(distinct_resolved))
    )
    print(f"\n{len(sample)} resolved distinct values (seed {args.seed}), to check by hand:")
    for n, value in enumerate(sample, 1):
        p = resolve(value, "")
        assert p is not None
        where = f"{p.name} ({p.kind}, {p.country}{'-' + p.region if p.region else ''})"
        print(f"{n:>3}. {value!r} → {where}")


if __name__ == "__main__":
    main()
