"""Place resolution rules (tweetstream/places.py) on the real GeoNames gazetteer: qualified
cities, dominant names, areas, ambiguity left empty, text mentions; any input is safe."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tweetstream.places import DOMINANCE, gazetteer, normalize, resolve


def _where(location: str | None, text: str = "") -> tuple[str, str, str, str | None] | None:
    place = resolve(location, text)
    return None if place is None else (place.kind, place.name, place.country, place.region)


@pytest.mark.parametrize(
    ("location", "expected"),
    [
        ("Los Angeles, CA", ("city", "Los Angeles", "US", "CA")),
        ("Chicago, IL", ("city", "Chicago", "US", "IL")),
        ("Paterson, New Jersey", ("city", "Paterson", "US", "NJ")),
        ("Melbourne, Australia", ("city", "Melbourne", "AU", None)),  # not Melbourne, FL
        ("Melbourne, FL", ("city", "Melbourne", "US", "FL")),
        ("London, England", ("city", "London", "GB", None)),
        ("Washington, D.C.", ("city", "Washington", "US", "DC")),
        ("NYC", ("city", "New York City", "US", "NY")),
        ("New York", ("city", "New York City", "US", "NY")),
        ("London", ("city", "London", "GB", None)),  # dominates London, Ontario
        ("Mumbai", ("city", "Mumbai", "IN", None)),
        ("  mumbai!!! 🔥 ", ("city", "Mumbai", "IN", None)),
        ("USA", ("country", "United States", "US", None)),
        ("U.S.A.", ("country", "United States", "US", None)),
        ("United Kingdom", ("country", "United Kingdom", "GB", None)),
        ("Nigeria", ("country", "Nigeria", "NG", None)),
        ("California", ("region", "California", "US", "CA")),
        ("California, USA", ("region", "California", "US", "CA")),
        ("Georgia, USA", ("region", "Georgia", "US", "GA")),
        ("Tbilisi, Georgia", ("city", "Tbilisi", "GE", None)),
        ("Somewhere, TX", ("region", "Texas", "US", "TX")),
        ("Lagos State, Nigeria", ("country", "Nigeria", "NG", None)),
        ("Victoria, BC  Canada", ("city", "Victoria", "CA", None)),
        ("Washington, DC area", ("city", "Washington", "US", "DC")),
        ("Seattle, WA USA", ("city", "Seattle", "US", "WA")),
        # names written without their accents, and countries whose capital has them
        ("Reykjavik", ("city", "Reykjavík", "IS", None)),
        ("Sao Paulo, Brazil", ("city", "São Paulo", "BR", None)),
        ("Montreal, QC", ("city", "Montréal", "CA", None)),
        ("Brazil", ("country", "Brazil", "BR", None)),  # capital Brasília
        ("Colombia", ("country", "Colombia", "CO", None)),  # capital Bogotá
        ("Iceland", ("country", "Iceland", "IS", None)),
        # a qualifier, then more that holds the place: still one place
        ("Ottawa, ON, Canada", ("city", "Ottawa", "CA", None)),
        ("Vienna, Austria, Europe", ("city", "Vienna", "AT", None)),
        ("Nashville, Music City, USA", ("city", "Nashville", "US", "TN")),
        ("Cambridge, Massachusetts, U.S.", ("city", "Cambridge", "US", "MA")),
        ("CA, USA", ("country", "United States", "US", None)),
        ("Brooklyn, New York", ("city", "Brooklyn", "US", "NY")),  # a city in a city
        ("Ashford, Kent, United Kingdom", ("city", "Ashford", "GB", None)),  # Kent, WA: small
        # mojibake of México: its letters are not a US state's code (MI)
        ("Monterrey, MÌ©xico", ("city", "Monterrey", "MX", None)),
    ],
)
def test_locations_resolve_to_what_they_name(
    location: str, expected: tuple[str, str, str, str | None]
) -> None:
    assert _where(location) == expected


@pytest.mark.parametrize(
    "location",
    [
        "Worldwide",
        "Earth",
        "Everywhere",
        "304",
        "ss",
        "",
        "   ",
        "Georgia",  # the country or the US state: not guessed
        "Washington",  # the state or DC
        "USA - Canada - Europe - Asia",  # several places
        "San Francisco, Los Angeles",  # two cities
        "MI - CA",  # two states
        "London / Paris",
        "Cleveland, OH - San Diego, CA",
        "NY, CT & Greece",
        "Essex",  # a county of England; the city of that name is small
        "Springfield",  # many of them, none dominant
        "in your heart",
    ],
)
def test_what_names_no_single_place_stays_empty(location: str) -> None:
    assert resolve(location, "") is None


def test_an_unqualified_city_needs_a_dominant_namesake() -> None:
    g = gazetteer()
    for name, cities in g.cities.items():
        found = g.dominant_city(name)
        if len(cities) == 1 or cities[0].population >= DOMINANCE * cities[1].population:
            assert found is cities[0]
        else:
            assert found is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Forest fire near La Ronge Sask. Canada", ("country", "Canada", "CA", None)),
        ("Earthquake hits #Nepal, many dead", ("country", "Nepal", "NP", None)),
        ("Flooding in Houston tonight", ("city", "Houston", "US", "TX")),
        ("Jordan is on fire tonight lol", None),  # a first name far more often
        ("@London what a game", None),  # a mention is not a place
        ("HOUSTON FLOOD", None),  # only Title Case names count in text
        ("my phone is dead", None),
    ],
)
def test_places_named_in_the_text(
    text: str, expected: tuple[str, str, str, str | None] | None
) -> None:
    assert _where(None, text) == expected


def test_the_location_field_wins_over_the_text() -> None:
    place = resolve("Chicago, IL", "Flooding in Houston tonight")
    assert place is not None and place.name == "Chicago" and place.source == "location"
    place = resolve("Worldwide", "Flooding in Houston tonight")
    assert place is not None and place.name == "Houston" and place.source == "text"


@settings(max_examples=400, deadline=None)
@given(location=st.one_of(st.none(), st.text(max_size=60)), text=st.text(max_size=200))
def test_any_input_gives_a_valid_place_or_none(location: str | None, text: str) -> None:
    place = resolve(location, text)
    if place is not None:
        assert place.kind in {"city", "region", "country"}
        assert place.source in {"location", "text"}
        assert -90 <= place.latitude <= 90 and -180 <= place.longitude <= 180
        assert len(place.country) == 2 and place.name


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=80))
def test_normalize_is_idempotent(text: str) -> None:
    assert normalize(normalize(text)) == normalize(text)
