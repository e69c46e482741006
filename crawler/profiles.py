"""Who and where an ad says it is about: advertised name, city and country (best effort).

    profile = ad_profile(url, title, body)   # AdProfile(person_name="Anna", city="berlin", ...)

Used by the network view ("the same phone advertises 4 different women in 3 countries").
Cheap heuristics, not NER: the city comes from a small gazetteer of European cities (in local and
English spellings) looked up in the title, the URL path and the start of the body; the country
is the city's, else the URL's country-code TLD; the name is the first capitalised word of the
title that is neither a city nor a common ad word. Unknown stays None: it is never guessed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

_CITIES: dict[str, str] = {}
for _country, _names in {
    "DE": "berlin hamburg münchen muenchen munich köln koeln cologne frankfurt stuttgart "
          "düsseldorf duesseldorf dortmund essen leipzig bremen dresden hannover nürnberg "
          "nuernberg bonn mannheim",
    "AT": "wien vienna graz linz salzburg innsbruck",
    "CH": "zürich zurich genf genève geneva basel bern lausanne",
    "FR": "paris marseille lyon toulouse nice nantes strasbourg montpellier bordeaux lille",
    "BE": "bruxelles brussel brussels antwerpen anvers antwerp gent gand ghent liège liege",
    "NL": "amsterdam rotterdam den_haag utrecht eindhoven groningen",
    "ES": "madrid barcelona valencia sevilla seville zaragoza málaga malaga bilbao alicante "
          "palma marbella ibiza",
    "PT": "lisboa lisbon porto faro braga",
    "IT": "roma rome milano milan napoli naples torino turin palermo genova bologna firenze "
          "florence venezia venice verona",
    "GB": "london manchester birmingham leeds glasgow liverpool edinburgh bristol sheffield",
    "IE": "dublin cork galway",
    "RO": "bucurești bucuresti bucharest cluj timișoara timisoara iași iasi constanța constanta",
    "PL": "warszawa warsaw kraków krakow cracow łódź lodz wrocław wroclaw poznań poznan gdańsk "
          "gdansk",
    "CZ": "praha prague brno ostrava",
    "HU": "budapest debrecen",
    "BG": "sofiya varna plovdiv",  # not "sofia": a common first name
    "GR": "athens athína thessaloniki",
    "UA": "kyiv kiev київ киев kharkiv odesa odessa lviv",
    "RU": "moskva moscow москва sankt-peterburg петербург",
    "SE": "stockholm göteborg gothenburg malmö malmo",
    "DK": "københavn copenhagen aarhus",
    "NO": "oslo bergen",
    "FI": "helsinki",
}.items():
    for _n in _names.split():
        _CITIES[_n.replace("_", " ")] = _country
_CITY_ALT = "|".join(re.escape(c) for c in sorted(_CITIES, key=len, reverse=True))
_CITY_RE = re.compile(rf"(?<!\w)({_CITY_ALT})(?!\w)", re.IGNORECASE)
_NOT_NAMES = {
    "new", "neu", "neue", "nouvelle", "nueva", "nuova", "nieuw", "hot", "sexy", "vip", "top",
    "escort", "escorts", "massage", "real", "only", "nur", "hi", "hallo", "hello", "bonjour",
    "hola", "ciao", "welcome", "willkommen", "the", "die", "der", "das", "la", "le", "el", "il",
    "lady", "girl", "girls", "model", "models", "ts", "independent", "private", "privat",
    "sweet", "young", "jung", "ad", "anzeige", "annonce", "anuncio", "home", "index", "page",
    "service", "services", "studio", "agency", "agentur", "agence", "agencia", "club", "dates",
    "date", "from", "aus", "de", "in", "bei", "near", "nähe", "centre", "center", "zentrum",
}  # fmt: skip
_NAME_RE = re.compile(r"(?<!\w)([^\W\d_][^\W\d_'-]{1,19})(?!\w)")


@dataclass(frozen=True, slots=True)
class AdProfile:
    person_name: str | None = None  # as written, e.g. "Anna"
    city: str | None = None  # lower-case gazetteer spelling, e.g. "münchen"
    country: str | None = None  # ISO 3166-1 alpha-2


def _cities(text: str) -> list[re.Match[str]]:
    return list(_CITY_RE.finditer(text))


def find_city(*texts: str) -> tuple[str, str] | None:
    """(city, country) of a known city: the last one in the first text that names one.

    The last, because titles read "Name, age – City" and names can be cities too (Paris).
    """
    for text in texts:
        found = _cities(text)
        if found:
            city = found[-1].group(1).lower()
            return city, _CITIES[city]
    return None


def person_name(title: str, cities: list[re.Match[str]] | None = None) -> str | None:
    """The first capitalised word of the title that is not an ad word or the title's city
    (`cities`: `_cities(title)` when the caller has it already)."""
    if cities is None:
        cities = _cities(title)
    city_start = cities[-1].start() if cities else -1
    for m in _NAME_RE.finditer(title):
        word = m.group(1)
        if word.lower() in _NOT_NAMES or m.start() == city_start:
            continue
        if word[0].isupper() and not word.isupper():
            return word
    return None


def tld_country(url: str) -> str | None:
    host = urlsplit(url).hostname or ""
    tld = host.rsplit(".", 1)[-1] if "." in host else ""
    if len(tld) == 2 and tld.isalpha():
        return "GB" if tld.lower() == "uk" else tld.upper()
    return None


def ad_profile(url: str, title: str, body: str = "") -> AdProfile:
    """Best-effort advertised name, city and country of one page."""
    in_title = _cities(title)  # read once: for the city and to skip it as a name
    if in_title:
        city = in_title[-1].group(1).lower()
        found: tuple[str, str] | None = (city, _CITIES[city])
    else:
        path = unquote(urlsplit(url).path).replace("-", " ").replace("_", " ")
        found = find_city(path, body[:600])
    city, country = found if found else (None, None)
    return AdProfile(person_name(title, in_title), city, country or tld_country(url))
