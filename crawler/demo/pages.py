"""The demo's pages: invented ads, job offers and hard negatives in ten languages.

All text is fiction written for triage. `families` names the indicator families a page is meant
to show (empty for hard negatives), so the demo and its tests can say what should rank high.
"""

from __future__ import annotations

from dataclasses import dataclass

# Shared by several pages: the small "network" the demo shows.
NETWORK_PHONE = "+61 491 570 156"  # AU range reserved for fiction
NETWORK_WALLET = (
    "TX2r4rsckx4PKcLop6JMzCTH5qxNxo1XHe"  # Tron base58check of a hash of a made-up string
)


@dataclass(frozen=True, slots=True)
class Page:
    path: str
    title: str
    lang: str
    layout: str  # "card", "board", "forum", "plain", "news", "shop"
    html: str  # body fragment
    families: tuple[str, ...] = ()
    charset: str = "utf-8"
    site: str = "Sunny Listings"


PAGES: tuple[Page, ...] = (
    Page(
        "/ads/leeds-sophie.html",
        "Sophie, new girl in Leeds",
        "en",
        "card",
        """<h1>Sophie &ndash; sweet new girl, just arrived in Leeds</h1>
<p>Hello gentlemen! I am new in town, only this week. Friendly companion for hotel visits.</p>
<p>Please text my driver to book, she doesn't speak English. He will send you the address.</p>
<div class="contact-box"><a href="tel:+61491570156">Call or text +61 491 570 156</a>
<a href="https://wa.me/61491570156">WhatsApp</a></div>""",
        ("handler", "movement"),
    ),
    Page(
        "/ads/berlin-mila.html",
        "Mila – neu in Berlin",
        "de",
        "card",
        f"""<h1>Mila, neu in Berlin &ndash; nur für kurze Zeit</h1>
<p>Charmante Begleitung für Hotelbesuche. Termine nur über meinen Fahrer.</p>
<p>Zahlung nur in USDT (TRC20), kein Bargeld. Anzahlung vorab an die Wallet:</p>
<p class="wallet">{NETWORK_WALLET}</p>
<div id="kontakt">Kontakt: <a href="tel:+61491570156">+61 491 570 156</a></div>""",
        ("handler", "crypto_only", "movement"),
    ),
    Page(
        "/ads/lyon-agence.html",
        "Nouvelles filles à Lyon",
        "fr",
        "board",
        """<h2>Agence Étoile &ndash; nouvelles filles chaque semaine</h2>
<p>Nos filles sont disponibles 24h/24 et 7j/7, sans jours de repos. Elles logent sur place,
dans l'appartement de l'agence. Leurs passeports sont gardés par l'agence.</p>
<p>Réservation uniquement par notre manager : 0061 491 570 156.</p>
<p class="phone">Tél. 01 99 00 42 17</p>""",
        ("restricted_freedom", "handler"),
    ),
    Page(
        "/ads/madrid-ai.html",
        "Chica nueva en {city}",
        "es",
        "card",
        f"""<h1>Chica nueva en {{city}}</h1>
<p>¡Claro! Aquí tienes un anuncio para tu servicio de acompañantes:</p>
<p>Hola, soy [Tu Nombre], una acompañante elegante recién llegada a {{city}}. Citas en tu
hotel. Pago solo en USDT, sin efectivo, depósito por adelantado: {NETWORK_WALLET}</p>""",
        ("ai_generated", "crypto_only", "movement"),
    ),
    Page(
        "/ads/city-ai-en.html",
        "Your new companion",
        "en",
        "card",
        """<p>Certainly! Here is an ad for your escort service:</p>
<h1>Hi, I'm [Your Name] &ndash; just arrived, new in town ({city})</h1>
<p>Discreet companion for hotel visits, available [days]. Contact me at [phone number].</p>
<p>Feel free to adjust the tone and details to fit your needs.</p>""",
        ("ai_generated", "movement"),
    ),
    Page(
        "/jobs/anglia-magazyn.html",
        "Praca w Anglii – magazyn",
        "pl",
        "board",
        """<h1>Praca w Anglii na magazynie &ndash; od zaraz!</h1>
<ul><li>Bez doświadczenia, bez języka</li><li>Zarobki 5000 EUR miesięcznie</li>
<li>Wiza i lot opłacone przez nas, potem potrącane z pensji</li>
<li>Opłata rekrutacyjna 300 EUR płatna przed wyjazdem</li>
<li>Zakwaterowanie zapewnione, czynsz potrącany z wypłaty</li>
<li>Paszport przechowuje pracodawca</li></ul>
<p class="contact">Kontakt: rekrutacja@eurojobs-demo.example</p>""",
        ("labour_exploitation", "restricted_freedom"),
        site="EuroJobs Board",
    ),
    Page(
        "/jobs/rotterdam-warehouse.html",
        "Warehouse staff Rotterdam – no experience",
        "en",
        "board",
        """<h1>Warehouse staff wanted in Rotterdam &ndash; start next week</h1>
<p>No experience needed! Earn 5000 EUR/month. Visa and flight paid by us (deducted from your
first salaries). Registration fee of 250 EUR to be paid before departure.</p>
<p>Accommodation provided, rent taken from wages. The employer keeps your passport for
safekeeping during the contract.</p>
<p class="contact">Apply on Telegram: @fastjobs_demo_recruiter</p>""",
        ("labour_exploitation", "restricted_freedom"),
        site="EuroJobs Board",
    ),
    Page(
        "/jobs/germania-ro.html",
        "Locuri de muncă în Germania",
        "ro",
        "board",
        """<h1>Locuri de muncă în Germania, plecare imediată</h1>
<p>Fără experiență, salariu 5000 euro pe lună. Taxă de recrutare 200 euro înainte de plecare.
Transportul și cazarea se rețin din salariu. Fără contract, plata la negru.</p>
<p class="telefon">Telefon: +61 491 570 157</p>""",
        ("labour_exploitation",),
        site="EuroJobs Board",
    ),
    Page(
        "/ads/milano-giulia.html",
        "Giulia, appena arrivata",
        "it",
        "card",
        """<h1>Giulia, ragazzina dolce, appena maggiorenne</h1>
<p>Aspetto da studentessa, nuova in città solo per pochi giorni.
Accompagnatrice per incontri in hotel. Prenota con il mio autista, lei non parla italiano.</p>
<div class="contatto">Chiama: +61 491 570 158</div>""",
        ("youth", "movement", "handler"),
    ),
    Page(
        "/ads/amsterdam-tour.html",
        "Nieuw in Amsterdam",
        "nl",
        "card",
        """<h1>Nieuw in Amsterdam! Alleen deze week</h1>
<p>Sexy dame op tour door Europa: deze week in Amsterdam, volgende week Brussel, daarna Parijs.
Escort voor hotelbezoek. Afspraken via mijn chauffeur, hij regelt alles.</p>
<p class="contact">Bel of app: +61 491 570 159</p>""",
        ("movement", "handler"),
    ),
    Page(
        "/ads/lisboa-ana.html",
        "Ana – Lisboa",
        "pt",
        "card",
        f"""<h1>Ana e as meninas, acompanhantes em Lisboa</h1>
<p>Disponíveis dia e noite, sem folgas, vivem no apartamento. Marcações com o motorista.</p>
<p>Pagamento só em USDT, sem dinheiro. Depósito antecipado: {NETWORK_WALLET}</p>""",
        ("restricted_freedom", "crypto_only", "handler"),
    ),
    Page(
        "/ads/kyiv-salon.html",
        "Новенькие девушки",
        "ru",
        "forum",
        """<h1>Новенькие девушки, только приехали!</h1>
<p>Работаем круглосуточно, без выходных. Девушки живут в квартире. Запись через
администратора: +61 491 570 156. Дзвоніть, пишіть у Телеграм.</p>""",
        ("handler", "restricted_freedom", "movement"),
        charset="windows-1251",
        site="Форум знакомств",
    ),
    Page(
        "/ads/london-vip.html",
        "VIP girls London – new arrivals",
        "en",
        "card",
        f"""<h1>New girls just arrived &ndash; VIP girls in London this week</h1>
<p>Our girls are available 24/7, no days off, they live at the flat. Bookings only through
our manager, the girls do not speak English.</p>
<p>USDT only, no cash, deposit first: {NETWORK_WALLET}</p>
<table class="rates"><tr><td>1 hour</td><td>see manager</td></tr></table>
<div class="contact"><a href="https://t.me/vip_demo_manager">Telegram</a>
<a href="tel:+61491570156">+61 491 570 156</a></div>""",
        ("handler", "crypto_only", "restricted_freedom", "movement"),
    ),
    # ------------------------------------------------------------------ hard negatives
    Page(
        "/jobs/retail-assistant.html",
        "Retail assistant – Sheffield",
        "en",
        "board",
        """<h1>Retail assistant (part time)</h1>
<p>Our garden centre is looking for a friendly retail assistant. You will report to the store
manager and work 24 hours a week on a permanent contract, with paid holidays and training.
Previous experience is welcome but not required.</p>
<p class="contact">Apply: jobs@gardencentre.example</p>""",
        site="EuroJobs Board",
    ),
    Page(
        "/shop/fahrradladen.html",
        "Fahrradladen Kiel – Zahlungsarten",
        "de",
        "shop",
        """<h1>Radhaus Kiel</h1>
<p>Wir akzeptieren Bargeld, EC-Karte, Kreditkarte und seit diesem Jahr auch Bitcoin.
Reparaturen meist am selben Tag.</p><p id="kontakt">Telefon 0431 000000</p>""",
        site="Radhaus Kiel",
    ),
    Page(
        "/services/cleaning.html",
        "Spotless – emergency cleaning 24/7",
        "en",
        "shop",
        """<h1>Spotless Cleaning Ltd</h1>
<p>Our team is available 24/7 for emergency cleaning after floods and fires. Fully insured,
all staff employed on contracts. No deposit required, pay by card or bank transfer.</p>""",
        site="Spotless Cleaning",
    ),
    Page(
        "/news/police-action.html",
        "Police break up trafficking ring",
        "en",
        "news",
        """<h1>Police break up trafficking ring in coordinated raids</h1>
<p>Police said on Tuesday that victims had answered job ads promising 5000 EUR a month with no
experience needed. Investigators said their passports were held and that the women were kept
available 24/7 with no days off. A spokesperson urged anyone with information to call the
hotline.</p>""",
        site="City Herald",
    ),
    Page(
        "/news/visit-museum.html",
        "Nuevo en la ciudad: guía de museos",
        "es",
        "news",
        """<h1>¿Nuevo en la ciudad? Cinco museos que no te puedes perder</h1>
<p>Si acabas de llegar, el museo de historia abre todos los días. La entrada es gratuita los
domingos y se puede pagar con tarjeta o en efectivo.</p>""",
        site="City Herald",
    ),
    Page(
        "/ads/institut-beaute.html",
        "Institut de beauté Clair",
        "fr",
        "shop",
        """<h1>Institut Clair &ndash; soins du visage</h1>
<p>Prenez rendez-vous en ligne ou par téléphone. Paiement par carte ou en espèces.
Fermé le dimanche.</p><p class="telephone">Tél. 01 99 00 11 22</p>""",
        site="Institut Clair",
    ),
    Page(
        "/blog/road-trip.html",
        "Our road trip through Poland",
        "en",
        "forum",
        """<h1>Two weeks on the road</h1>
<p>We drove from Gdańsk to Kraków and stayed in small guest houses. The owners were lovely and
the trains are cheap. Next year: Romania.</p>""",
        site="Travel Notes",
    ),
)

# Under /private/, which robots.txt disallows: it must never be fetched.
PRIVATE_PAGE = Page(
    "/private/hidden-ad.html",
    "Private listing",
    "en",
    "card",
    f"""<h1>Private: new girls, no days off, passports kept by the manager</h1>
<p>USDT only, no cash: {NETWORK_WALLET}. Text my driver.</p>""",
    ("handler", "crypto_only", "restricted_freedom"),
)

IMAGE_PATH = "/img/photo-1.jpg"
REDIRECT_PATH = "/go/amsterdam"  # 301 -> /ads/amsterdam-tour.html
REDIRECT_TARGET = "/ads/amsterdam-tour.html"

# A tiny stand-in for a photo: JPEG markers around a few bytes, not a real picture.
FAKE_JPEG = (
    b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    b"triage demo: not a real image" + b"\xff\xd9"
)
