"""A synthetic ad site for network tests: 12 linked ads in 4 languages among 40 unrelated ones.

    site = build_network_site()
    site.pages["/ad/3"].html          # what a loopback server serves
    site.documents(base_url)          # the same pages as Documents (in-memory tests)
    site.expected_groups              # the networks that must be found, as sets of paths
    site.install(loopback_site)       # route every page and an index linking them

The 12 linked ads form exactly four networks of three pages each:
  phone-1   one German mobile, written three ways, behind 3 names in DE / FR / GB
  phone-2   one Spanish mobile (plain, international, emoji keycaps), 3 names in ES / GB / DE
  wallet    one Bitcoin bech32 address on 3 ads (FR / ES / DE)
  template  one German ad text reused with name, age, city, phone and handle swapped
Every other ad has its own contact (or none) and its own text. Everything is generated from a
fixed seed; nothing comes from real ads.
"""

from __future__ import annotations

import hashlib
import html
import random
from collections.abc import Iterable
from dataclasses import dataclass

import phonenumbers

from crawler.models import Document
from tests.support.server import LoopbackSite

LANGS = ("de", "en", "fr", "es")

SENTENCES: dict[str, tuple[str, ...]] = {
    "de": (
        "Ich freue mich auf einen entspannten Abend mit dir.",
        "Diskretion ist für mich selbstverständlich.",
        "Meine Wohnung ist ruhig gelegen und gut erreichbar.",
        "Termine bitte mindestens eine Stunde vorher vereinbaren.",
        "Ich spreche fließend Englisch und etwas Französisch.",
        "Besuche im Hotel sind nach Absprache möglich.",
        "Ich mag gute Gespräche und ein gemeinsames Glas Wein.",
        "Bitte keine unterdrückten Nummern.",
        "Am Wochenende habe ich auch spät abends noch Zeit.",
        "Gepflegte und höfliche Gäste sind mir sehr willkommen.",
        "Ich bin sportlich, natürlich und immer gut gelaunt.",
        "Parkplätze gibt es direkt vor dem Haus.",
        "Schreib mir gern vorher, was du dir wünschst.",
        "Kurzfristige Treffen sind leider nicht immer möglich.",
        "Ich lebe seit zwei Jahren hier und kenne mich gut aus.",
        "Fotos sind aktuell und echt.",
    ),
    "en": (
        "I look forward to a relaxed evening with you.",
        "Discretion is a matter of course for me.",
        "My flat is quiet and easy to reach by tram.",
        "Please book at least one hour in advance.",
        "I speak fluent French and a little Spanish.",
        "Hotel visits are possible on request.",
        "I enjoy good conversation and a glass of wine.",
        "No withheld numbers please.",
        "At weekends I am available until late.",
        "Polite and well groomed guests are very welcome.",
        "I am sporty, natural and always in a good mood.",
        "There is parking right in front of the building.",
        "Feel free to message me first with your wishes.",
        "Short notice meetings are not always possible.",
        "I have lived here for two years and know the area well.",
        "All photos are recent and genuine.",
    ),
    "fr": (
        "Je me réjouis de passer une soirée détendue avec toi.",
        "La discrétion va de soi pour moi.",
        "Mon appartement est calme et facile d'accès en métro.",
        "Merci de réserver au moins une heure à l'avance.",
        "Je parle couramment anglais et un peu espagnol.",
        "Les visites à l'hôtel sont possibles sur demande.",
        "J'aime les bonnes conversations et un verre de vin.",
        "Pas de numéros masqués s'il te plaît.",
        "Le week-end je suis disponible tard le soir.",
        "Les invités polis et soignés sont les bienvenus.",
        "Je suis sportive, naturelle et toujours de bonne humeur.",
        "Il y a un parking juste devant l'immeuble.",
        "N'hésite pas à m'écrire d'abord tes envies.",
        "Les rendez-vous de dernière minute ne sont pas toujours possibles.",
        "J'habite ici depuis deux ans et je connais bien le quartier.",
        "Les photos sont récentes et authentiques.",
    ),
    "es": (
        "Me encantaría pasar una tarde tranquila contigo.",
        "La discreción es algo natural para mí.",
        "Mi piso es tranquilo y está bien comunicado en metro.",
        "Por favor reserva con al menos una hora de antelación.",
        "Hablo inglés con fluidez y un poco de francés.",
        "Las visitas al hotel son posibles bajo petición.",
        "Me gustan las buenas conversaciones y una copa de vino.",
        "No acepto números ocultos.",
        "Los fines de semana estoy disponible hasta tarde.",
        "Los invitados educados y aseados son bienvenidos.",
        "Soy deportista, natural y siempre de buen humor.",
        "Hay aparcamiento justo delante del edificio.",
        "Escríbeme primero lo que deseas.",
        "Las citas de última hora no siempre son posibles.",
        "Vivo aquí desde hace dos años y conozco bien la zona.",
        "Las fotos son recientes y reales.",
    ),
}
CALL = {"de": "Ruf mich an:", "en": "Call me on", "fr": "Appelle-moi au", "es": "Llámame al"}
CITIES = {"de": ("Berlin", "Hamburg", "Köln", "Leipzig", "Dresden"),
          "en": ("London", "Manchester", "Leeds", "Bristol", "Liverpool"),
          "fr": ("Paris", "Lyon", "Nantes", "Lille", "Bordeaux"),
          "es": ("Madrid", "Barcelona", "Valencia", "Sevilla", "Bilbao")}
NAMES = ("Alina", "Bianca", "Clara", "Daria", "Elena", "Fiona", "Greta", "Hanna", "Ines", "Jana",
         "Kira", "Larisa", "Marta", "Noemi", "Olga", "Paula", "Rita", "Selma", "Tanja", "Vera")
COUNTRY_CODE = {"de": "49", "en": "44", "fr": "33", "es": "34"}

PHONE_1 = "+4917612345678"
PHONE_2 = "+34612345678"
TEMPLATE_DE = (
    "Hallo ihr Lieben, ich bin {name}, {age} Jahre jung und ganz neu in {city}. "
    "Ich biete dir eine entspannte und zärtliche Zeit in meinem privaten Apartment nahe dem "
    "Bahnhof. Ich bin nur für kurze Zeit in der Stadt, also melde dich schnell bei mir. "
    "Ich spreche Englisch und ein wenig Deutsch, bin sehr offen und freue mich auf neue "
    "Bekanntschaften. Ruf mich an: {phone} oder schreib mir auf Telegram @{handle}. "
    "Termine nur nach Vereinbarung, keine SMS, keine unterdrückten Nummern bitte."
)


@dataclass(frozen=True)
class AdPage:
    path: str
    language: str
    title: str
    paragraphs: tuple[str, ...]
    contact: tuple[str, ...]  # tel:/mailto:/t.me links, as extract.py puts them in `contact`

    @property
    def html(self) -> str:
        paras = "".join(f"<p>{html.escape(p)}</p>" for p in self.paragraphs)
        links = "".join(f'<a href="{html.escape(c)}">{html.escape(c)}</a>' for c in self.contact)
        return (f'<!doctype html><html lang="{self.language}"><head><meta charset="utf-8">'
                f"<title>{html.escape(self.title)}</title></head><body>"
                f"<h1>{html.escape(self.title)}</h1>{paras}<div class=\"contact\">{links}</div>"
                "</body></html>")

    def document(self, base_url: str) -> Document:
        return Document(
            url=base_url.rstrip("/") + self.path, title=self.title,
            body="\n".join((self.title, *self.paragraphs)),
            contact="\n".join(self.contact), language=self.language,
        )


@dataclass(frozen=True)
class NetworkSite:
    pages: dict[str, AdPage]
    expected_groups: dict[str, frozenset[str]]  # group name -> paths
    wallet: str

    def documents(self, base_url: str) -> list[Document]:
        return [p.document(base_url) for p in self.pages.values()]

    def index_html(self) -> str:
        links = "".join(f'<li><a href="{p}">{p}</a></li>' for p in self.pages)
        return ("<!doctype html><html><head><title>Ads</title></head>"
                f"<body><ul>{links}</ul></body></html>")

    def install(self, site: LoopbackSite) -> None:
        """Route the index and every ad on a LoopbackSite."""
        html_type = {"Content-Type": "text/html; charset=utf-8"}
        site.route("/", body=self.index_html().encode(), headers=html_type)
        for p in self.pages.values():
            site.route(p.path, body=p.html.encode(), headers=html_type)


def bech32_address(program: bytes) -> str:
    """A valid v0 segwit (bech32, BIP173) address for a 20-byte program."""
    charset = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
    acc = bits = 0
    data = [0]
    for b in program:
        acc, bits = (acc << 8) | b, bits + 8
        while bits >= 5:
            bits -= 5
            data.append((acc >> bits) & 31)
    if bits:
        data.append((acc << (5 - bits)) & 31)
    gen = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)
    chk = 1
    for v in [3, 3, 0, 2, 3, *data, 0, 0, 0, 0, 0, 0]:  # hrp "bc" expanded, then data
        top = chk >> 25
        chk = (chk & 0x1FFFFFF) << 5 ^ v
        for i in range(5):
            chk ^= gen[i] if (top >> i) & 1 else 0
    chk ^= 1
    return "bc1" + "".join(charset[d] for d in data + [(chk >> 5 * (5 - i)) & 31 for i in range(6)])


def _unique_phone(rng: random.Random, lang: str, used: set[str]) -> str:
    prefix = {"de": "17", "en": "7911", "fr": "6", "es": "6"}[lang]
    length = {"de": 11, "en": 10, "fr": 9, "es": 9}[lang]
    while True:
        national = prefix + "".join(rng.choice("0123456789") for _ in range(length - len(prefix)))
        e164 = f"+{COUNTRY_CODE[lang]}{national}"
        if e164 not in used and phonenumbers.is_valid_number(phonenumbers.parse(e164)):
            used.add(e164)
            return e164


def _spaced(e164: str) -> str:
    return phonenumbers.format_number(phonenumbers.parse(e164),
                                      phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def _text(rng: random.Random, lang: str, n: int = 6) -> list[str]:
    return rng.sample(SENTENCES[lang], n)


def build_network_site(seed: int = 7, unrelated: int = 40) -> NetworkSite:
    rng = random.Random(seed)
    used = {PHONE_1, PHONE_2}
    wallet = bech32_address(hashlib.sha256(b"triage-network-site").digest()[:20])
    pages: dict[str, AdPage] = {}
    groups: dict[str, set[str]] = {"phone-1": set(), "phone-2": set(), "wallet": set(),
                                   "template": set()}

    def add(group: str | None, lang: str, name: str, city: str, paragraphs: Iterable[str],
            contact: Iterable[str] = ()) -> None:
        path = f"/ad/{len(pages) + 1}"
        title = f"{name}, {rng.randint(21, 35)} – {city}"
        pages[path] = AdPage(path, lang, title, tuple(paragraphs), tuple(contact))
        if group:
            groups[group].add(path)

    # phone-1: one German mobile behind three names in three countries
    add("phone-1", "de", "Anna", "Berlin", [*_text(rng, "de"), "Ruf mich an: 0176 1234 5678"])
    add("phone-1", "fr", "Chloé", "Paris", [*_text(rng, "fr"), "Appelle-moi au +49 176 12345678"])
    add("phone-1", "en", "Emily", "London", [*_text(rng, "en"), "Text me on WhatsApp any time."],
        ["https://wa.me/4917612345678"])
    # phone-2: one Spanish mobile, plain / international / emoji keycaps
    add("phone-2", "es", "Lucía", "Madrid", [*_text(rng, "es"), "Llámame al 612 34 56 78"])
    add("phone-2", "en", "Maria", "Manchester", [*_text(rng, "en"), "Call me on +34 612 345 678"])
    add("phone-2", "de", "Sofia", "Köln",
        [*_text(rng, "de"), "Tel: 0️⃣0️⃣3️⃣4️⃣ 6️⃣1️⃣2️⃣ 3️⃣4️⃣5️⃣ 6️⃣7️⃣8️⃣"])
    # wallet: one bitcoin address, three ads with their own phones
    for lang, name, city, pay in (
        ("fr", "Julie", "Lyon", "Paiement uniquement en Bitcoin :"),
        ("es", "Carmen", "Barcelona", "Pago solo en Bitcoin:"),
        ("de", "Lena", "Hamburg", "Bezahlung nur per Bitcoin:"),
    ):
        phone = _unique_phone(rng, lang, used)
        add("wallet", lang, name, city,
            [*_text(rng, lang), f"{CALL[lang]} {_spaced(phone)}", f"{pay} {wallet}"])
    # template: one German text, names, ages, cities, phones and handles swapped
    for name, city in (("Mia", "Berlin"), ("Nina", "München"), ("Zoe", "Frankfurt")):
        phone = _unique_phone(rng, "de", used)
        handle = f"{name.lower()}_{rng.randint(100, 999)}"
        add("template", "de", name, city, [TEMPLATE_DE.format(
            name=name, age=rng.randint(21, 29), city=city, phone=_spaced(phone), handle=handle)])
    # unrelated ads: own text, own contact (a phone, an email, a handle, or nothing)
    for i in range(unrelated):
        lang = LANGS[i % 4]
        name = NAMES[i % len(NAMES)]
        city = rng.choice(CITIES[lang])
        paragraphs = _text(rng, lang, 5)
        contact: list[str] = []
        kind = i % 4
        if kind in (0, 1):
            phone = _unique_phone(rng, lang, used)
            paragraphs.append(f"{CALL[lang]} {_spaced(phone)}")
            contact.append(f"tel:{phone}")
        elif kind == 2:
            contact.append(f"mailto:{name.lower()}.{i}@mail-{i}.example")
        elif i % 8 == 3:
            contact.append(f"https://t.me/{name.lower()}_ad{i}")
        add(None, lang, name, city, paragraphs, contact)
    return NetworkSite(pages, {k: frozenset(v) for k, v in groups.items()}, wallet)
