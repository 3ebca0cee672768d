"""Vocabulary of the synthetic world: niches, their hashtags, bio and post phrases.

Plain data, no logic. Every niche hashtag belongs to exactly one niche, so a test can say
which niche a hashtag sweep should find. Non-English phrases are short and idiomatic enough
for a language detector and a keyword taxonomy to have something real to work on.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Niche:
    name: str
    hashtags: tuple[str, ...]  # lower-case, no "#"; the first is the niche's own word
    handle_words: tuple[str, ...]  # pieces of usernames
    roles: tuple[str, ...]  # English bio openers that name the niche
    topic_en: str
    topics: dict[str, str]  # language -> topic phrase ("es": "cocina vegana")
    lines: tuple[str, ...]  # English post sentences
    emoji: tuple[str, ...]
    media_rate: float  # share of posts with media attachments


NICHES: dict[str, Niche] = {
    n.name: n
    for n in (
        Niche(
            "fitness",
            ("fitness", "gym", "workout", "fitfam", "fitnessmotivation"),
            ("lifts", "fit", "strong", "gains", "reps"),
            ("Personal trainer", "Strength coach", "Certified fitness instructor"),
            "fitness and strength training",
            {
                "es": "fitness y entrenamiento de fuerza",
                "pt": "treino e musculação",
                "fr": "musculation et remise en forme",
                "de": "Fitness und Krafttraining",
            },
            (
                "Leg day done, new PR on squats today.",
                "Five rounds: 10 burpees, 15 kettlebell swings, 20 air squats.",
                "Consistency beats intensity. Showed up at the gym at 6am again.",
                "Deadlift form check, 140 kg for a clean triple.",
            ),
            ("💪", "🏋️", "🔥"),
            0.55,
        ),
        Niche(
            "health",
            ("health", "wellness", "mentalhealth", "selfcare", "nutrition"),
            ("wellness", "healthy", "mindful", "balance"),
            ("Registered dietitian", "Wellness coach", "Nurse and health educator"),
            "health, nutrition and wellbeing",
            {
                "es": "salud, nutrición y bienestar",
                "pt": "saúde, nutrição e bem-estar",
                "fr": "santé, nutrition et bien-être",
                "de": "Gesundheit, Ernährung und Wohlbefinden",
            },
            (
                "Reminder: sleep is the most underrated health habit.",
                "Three small nutrition swaps that helped my energy this week.",
                "Took a proper rest day for my mental health. No guilt.",
                "Drink some water and step outside for ten minutes.",
            ),
            ("🌿", "🧘", "💚"),
            0.35,
        ),
        Niche(
            "beauty",
            ("beauty", "makeup", "skincare", "mua", "beautytips"),
            ("glow", "beauty", "blush", "lashes"),
            ("Makeup artist", "Skincare nerd", "Licensed esthetician"),
            "makeup and skincare",
            {
                "es": "maquillaje y cuidado de la piel",
                "pt": "maquiagem e cuidados com a pele",
                "fr": "maquillage et soins de la peau",
                "de": "Make-up und Hautpflege",
            },
            (
                "My five-step skincare routine for dry winter skin.",
                "Soft glam look using only drugstore makeup.",
                "Sunscreen every day, even when it is cloudy.",
                "Testing the new serum everyone is talking about.",
            ),
            ("💄", "✨", "🌸"),
            0.75,
        ),
        Niche(
            "fashion",
            ("fashion", "ootd", "style", "streetstyle", "fashionblogger"),
            ("style", "closet", "outfits", "threads"),
            ("Fashion blogger", "Stylist", "Vintage clothing collector"),
            "fashion and personal style",
            {
                "es": "moda y estilo personal",
                "pt": "moda e estilo",
                "fr": "mode et style",
                "de": "Mode und Streetstyle",
            },
            (
                "Outfit of the day: thrifted blazer and wide-leg trousers.",
                "Capsule wardrobe update for autumn.",
                "Street style spotted downtown this afternoon.",
                "Five ways to wear the same white shirt.",
            ),
            ("👗", "👠", "🧥"),
            0.8,
        ),
        Niche(
            "food",
            ("food", "foodie", "vegan", "veganfood", "plantbased", "recipe"),
            ("eats", "kitchen", "bakes", "cooks", "plates"),
            ("Home cook", "Vegan recipe developer", "Food blogger"),
            "vegan recipes and home cooking",
            {
                "es": "recetas veganas y cocina casera",
                "pt": "receitas veganas e comida caseira",
                "fr": "recettes véganes et cuisine maison",
                "de": "vegane Rezepte und Hausmannskost",
            },
            (
                "One-pot lentil curry, ready in 30 minutes.",
                "Plant-based lasagna that even my dad loved.",
                "Sourdough attempt number twelve. Getting there!",
                "Recipe below: crispy chickpeas with smoked paprika.",
            ),
            ("🍲", "🥑", "🌱"),
            0.75,
        ),
        Niche(
            "travel",
            ("travel", "wanderlust", "travelgram", "backpacking", "roadtrip"),
            ("travels", "roams", "wanders", "abroad"),
            ("Travel writer", "Full-time backpacker", "Travel photographer"),
            "travel and slow adventures",
            {
                "es": "viajes y aventuras",
                "pt": "viagens e aventuras",
                "fr": "voyages et aventures",
                "de": "Reisen und Abenteuer",
            },
            (
                "Sunrise over the old town, worth the 5am alarm.",
                "Night train itinerary through the Alps, full guide soon.",
                "Budget backpacking tips for Southeast Asia.",
                "Road trip day three: no signal, great views.",
            ),
            ("✈️", "🌍", "🏔️"),
            0.8,
        ),
        Niche(
            "gaming",
            ("gaming", "gamer", "videogames", "indiegames", "twitch"),
            ("plays", "gamer", "pixel", "respawn"),
            ("Variety streamer", "Indie game reviewer", "Speedrunner"),
            "video games and streaming",
            {
                "es": "videojuegos y streaming",
                "pt": "videogames e streaming",
                "fr": "jeux vidéo et streaming",
                "de": "Videospiele und Streaming",
            },
            (
                "Live tonight: blind run of the new roguelike.",
                "Finally beat the final boss after 40 attempts.",
                "Hidden indie game gems you probably missed this year.",
                "New personal best in the any% speedrun.",
            ),
            ("🎮", "👾", "🕹️"),
            0.45,
        ),
        Niche(
            "tech",
            ("tech", "programming", "python", "opensource", "gadgets"),
            ("codes", "dev", "hacks", "bytes"),
            ("Software engineer", "Open source maintainer", "Tech reviewer"),
            "software, open source and gadgets",
            {
                "es": "tecnología y programación",
                "pt": "tecnologia e programação",
                "fr": "technologie et programmation",
                "de": "Technik und Programmierung",
            },
            (
                "Released a new version of my open source library today.",
                "Hot take: write the tests before the refactor.",
                "Reviewing the new mechanical keyboard, full thread below.",
                "Debugged a race condition for three hours. It was a missing lock.",
            ),
            ("💻", "🤖", "⌨️"),
            0.3,
        ),
        Niche(
            "music",
            ("music", "musician", "newmusic", "indiemusic", "guitar"),
            ("beats", "tunes", "sings", "strings"),
            ("Singer-songwriter", "Music producer", "Session guitarist"),
            "music, songwriting and gigs",
            {
                "es": "música y composición",
                "pt": "música e composição",
                "fr": "musique et composition",
                "de": "Musik und Songwriting",
            },
            (
                "New single out Friday, pre-save link in bio.",
                "Rehearsal for the acoustic set this weekend.",
                "Recorded a guitar cover in one take.",
                "Writing session turned into three new songs.",
            ),
            ("🎵", "🎸", "🎤"),
            0.5,
        ),
        Niche(
            "sports",
            ("sports", "football", "running", "basketball", "cycling"),
            ("runs", "rides", "hoops", "goals"),
            ("Marathon runner", "Football analyst", "Amateur cyclist"),
            "sports, running and cycling",
            {
                "es": "deportes, running y ciclismo",
                "pt": "esportes, corrida e ciclismo",
                "fr": "sport, course à pied et vélo",
                "de": "Sport, Laufen und Radfahren",
            },
            (
                "Half marathon done in 1:42, new personal record.",
                "What a match last night, that second half was unreal.",
                "Long ride in the hills, 120 km and two flat tyres.",
                "Tactical breakdown of the weekend's derby.",
            ),
            ("⚽", "🏃", "🚴"),
            0.45,
        ),
        Niche(
            "parenting",
            ("parenting", "momlife", "dadlife", "family", "toddlers"),
            ("mama", "papa", "family", "littles"),
            ("Mum of three", "Stay-at-home dad", "Parenting educator"),
            "parenting and family life",
            {
                "es": "crianza y vida en familia",
                "pt": "maternidade e vida em família",
                "fr": "parentalité et vie de famille",
                "de": "Elternsein und Familienleben",
            },
            (
                "Toddler refused every vegetable today. Parenting is humbling.",
                "Rainy day craft ideas for small kids.",
                "Bedtime routine that finally works for us.",
                "Family hike with two kids and zero meltdowns.",
            ),
            ("👶", "👨‍👩‍👧", "🧸"),
            0.5,
        ),
        Niche(
            "pets",
            ("pets", "dogsofmastodon", "catsofmastodon", "caturday", "dogs"),
            ("paws", "woof", "meow", "pup"),
            ("Dog trainer", "Cat rescue volunteer", "Proud pet parent"),
            "pets, dogs and cats",
            {
                "es": "mascotas, perros y gatos",
                "pt": "pets, cães e gatos",
                "fr": "animaux, chiens et chats",
                "de": "Haustiere, Hunde und Katzen",
            },
            (
                "Caturday nap supervisor reporting for duty.",
                "Training update: he finally learned to stay.",
                "Adopted this good boy from the shelter a year ago today.",
                "Meet the newest foster kitten.",
            ),
            ("🐶", "🐱", "🐾"),
            0.85,
        ),
        Niche(
            "finance",
            ("finance", "personalfinance", "investing", "money", "stocks"),
            ("money", "invests", "budget", "wealth"),
            ("Financial planner", "Personal finance writer", "Index fund enthusiast"),
            "personal finance and investing",
            {
                "es": "finanzas personales e inversión",
                "pt": "finanças pessoais e investimentos",
                "fr": "finances personnelles et investissement",
                "de": "Finanzen und Geldanlage",
            },
            (
                "How I budget with three bank accounts.",
                "Index funds are boring and that is the point.",
                "Emergency fund first, investing second.",
                "Monthly net worth update, slow and steady.",
            ),
            ("💰", "📈", "🏦"),
            0.2,
        ),
        Niche(
            "art",
            ("art", "illustration", "drawing", "painting", "mastoart"),
            ("draws", "paints", "sketches", "ink"),
            ("Illustrator", "Painter", "Comic artist"),
            "illustration and painting",
            {
                "es": "ilustración y pintura",
                "pt": "ilustração e pintura",
                "fr": "illustration et peinture",
                "de": "Illustration und Malerei",
            },
            (
                "New watercolour piece, painted over three evenings.",
                "Sketchbook page from the café this morning.",
                "Commissions are open again, details in my pinned post.",
                "Work in progress: inking the final page.",
            ),
            ("🎨", "🖌️", "✏️"),
            0.9,
        ),
        Niche(
            "photography",
            (
                "photography",
                "photooftheday",
                "landscapephotography",
                "streetphotography",
                "filmphotography",
            ),
            ("shoots", "lens", "frames", "captures"),
            ("Photographer", "Film photography nerd", "Landscape photographer"),
            "photography and film cameras",
            {
                "es": "fotografía de paisaje y calle",
                "pt": "fotografia de paisagem e de rua",
                "fr": "photographie de paysage et de rue",
                "de": "Landschafts- und Straßenfotografie",
            },
            (
                "Golden hour at the harbour, shot on 35mm film.",
                "Street photography walk through the market.",
                "Long exposure of the waterfall, 30 seconds at f/16.",
                "Developed my first roll of black and white film.",
            ),
            ("📷", "🌅", "🎞️"),
            0.95,
        ),
        Niche(
            "education",
            ("education", "teaching", "learning", "edutooters", "science"),
            ("teaches", "learns", "class", "notes"),
            ("High school teacher", "Science communicator", "University lecturer"),
            "teaching, learning and science",
            {
                "es": "educación y ciencia",
                "pt": "educação e ciência",
                "fr": "éducation et sciences",
                "de": "Bildung und Wissenschaft",
            },
            (
                "Today's lesson: why the sky is blue, explained with a torch and milk.",
                "Study tips that actually worked for my students.",
                "Grading done, coffee needed.",
                "A thread on how vaccines train the immune system.",
            ),
            ("📚", "🧪", "🎓"),
            0.3,
        ),
        Niche(
            "home",
            ("homedecor", "interiordesign", "diy", "gardening", "homeimprovement"),
            ("home", "nest", "garden", "cozy"),
            ("Interior designer", "DIY renovator", "Balcony gardener"),
            "home decor, DIY and gardening",
            {
                "es": "decoración, bricolaje y jardinería",
                "pt": "decoração, faça você mesmo e jardinagem",
                "fr": "décoration, bricolage et jardinage",
                "de": "Einrichtung, Heimwerken und Garten",
            },
            (
                "Before and after: repainted the kitchen cabinets.",
                "Tomatoes are finally ripening on the balcony.",
                "Small living room, big ideas.",
                "Built this bookshelf from reclaimed wood.",
            ),
            ("🏡", "🪴", "🛠️"),
            0.8,
        ),
        Niche(
            "sustainability",
            ("sustainability", "climate", "zerowaste", "ecofriendly", "solarpunk"),
            ("green", "eco", "earth", "solar"),
            ("Climate activist", "Zero-waste educator", "Sustainability consultant"),
            "sustainability and climate action",
            {
                "es": "sostenibilidad y acción climática",
                "pt": "sustentabilidade e ação climática",
                "fr": "durabilité et action climatique",
                "de": "Nachhaltigkeit und Klimaschutz",
            },
            (
                "One month without single-use plastic: what I learned.",
                "Repair café this Saturday, bring your broken toaster.",
                "Our community solar project is finally online.",
                "Composting basics for apartment dwellers.",
            ),
            ("🌍", "♻️", "🌱"),
            0.4,
        ),
        Niche(
            "automotive",
            ("cars", "automotive", "carsofmastodon", "electricvehicles", "classiccars"),
            ("motors", "garage", "drives", "revs"),
            ("Car reviewer", "Classic car restorer", "EV owner and blogger"),
            "cars, EVs and classic car restoration",
            {
                "es": "coches y motor",
                "pt": "carros e automobilismo",
                "fr": "voitures et automobile",
                "de": "Autos und Oldtimer",
            },
            (
                "Restoration update: the engine runs again after two years.",
                "Long-term review of my electric car after 50,000 km.",
                "Cars and coffee meetup this Sunday morning.",
                "Detailing day, the paint has never looked better.",
            ),
            ("🚗", "🏎️", "🔧"),
            0.7,
        ),
        Niche(
            "entertainment",
            ("movies", "film", "tvshows", "cinema", "entertainment"),
            ("films", "reels", "popcorn", "screen"),
            ("Film critic", "TV recap writer", "Cinema lover"),
            "movies, TV shows and pop culture",
            {
                "es": "cine, series y cultura pop",
                "pt": "cinema, séries e cultura pop",
                "fr": "cinéma, séries et culture pop",
                "de": "Kino, Serien und Popkultur",
            },
            (
                "Watched the new season in one weekend. No regrets.",
                "Ranking every film of the director from worst to best.",
                "The cinematography in this movie is unreal.",
                "Hot take: the book was better.",
            ),
            ("🎬", "🍿", "📺"),
            0.45,
        ),
    )
}

NICHE_NAMES: tuple[str, ...] = tuple(NICHES)
#: Hashtag -> the niche it belongs to.
HASHTAG_NICHE: dict[str, str] = {t: n.name for n in NICHES.values() for t in n.hashtags}

#: Tags any account may add; they belong to no niche.
GENERIC_HASHTAGS: tuple[str, ...] = (
    "introduction",
    "fediverse",
    "mondaymotivation",
    "goodmorning",
    "weekend",
    "community",
)

LANGUAGES: tuple[tuple[str, float], ...] = (
    ("en", 0.72),
    ("es", 0.10),
    ("pt", 0.08),
    ("fr", 0.05),
    ("de", 0.05),
)

#: Per-language tags; several are non-ASCII on purpose (URL-encoded in paths and links).
LANGUAGE_HASHTAGS: dict[str, tuple[str, ...]] = {
    "en": (),
    "es": ("españa", "méxico", "argentina"),
    "pt": ("brasil", "portugal", "sãopaulo"),
    "fr": ("france", "québec", "paris"),
    "de": ("deutschland", "österreich", "schweiz"),
}

PLACES: dict[str, tuple[str, ...]] = {
    "en": ("London", "Austin, TX", "Toronto", "Melbourne", "Dublin", "Seattle", "Manchester"),
    "es": ("Madrid", "CDMX", "Buenos Aires", "Bogotá", "Sevilla"),
    "pt": ("São Paulo", "Lisboa", "Rio de Janeiro", "Porto", "Belo Horizonte"),
    "fr": ("Paris", "Montréal", "Lyon", "Bruxelles", "Marseille"),
    "de": ("Berlin", "Wien", "Zürich", "Hamburg", "München"),
}

BIO_TEMPLATES: dict[str, tuple[str, ...]] = {
    "en": (
        "{role}. Sharing {topic} tips every week.",
        "{role} | all things {topic}",
        "{role} based in {place}. Here for {topic} and good vibes.",
        "{role}. Talking about {topic}, one post at a time.",
    ),
    "es": (
        "¡Hola! Comparto contenido sobre {topic}. Desde {place}.",
        "Apasionada de {topic} | {place}",
        "Hablo de {topic} todos los días. Colaboraciones por mensaje privado.",
    ),
    "pt": (
        "Olá! Aqui falo sobre {topic}. Direto de {place}.",
        "Apaixonado por {topic} | {place}",
        "Conteúdo sobre {topic} toda semana. Parcerias por DM.",
    ),
    "fr": (
        "Passionnée de {topic}. Basée à {place}.",
        "Je partage mes astuces {topic} chaque semaine.",
        "{topic} | {place} | collaborations en message privé",
    ),
    "de": (
        "Hier geht es um {topic}. Aus {place}.",
        "Ich teile Tipps rund um {topic} | {place}",
        "Alles über {topic}. Kooperationen per DM.",
    ),
}

POST_TEMPLATES: dict[str, tuple[str, ...]] = {
    "es": (
        "Hoy os traigo algo nuevo sobre {topic}.",
        "¿Qué opináis? Me encanta hablar de {topic}.",
        "Nuevo post sobre {topic}, contadme en los comentarios.",
    ),
    "pt": (
        "Hoje tem novidade sobre {topic}!",
        "Vocês também amam {topic}? Comentem aqui.",
        "Post novo sobre {topic}, espero que gostem.",
    ),
    "fr": (
        "Nouveau post sur {topic} aujourd'hui !",
        "Vous aussi vous aimez {topic} ? Dites-moi en commentaire.",
        "Petit partage du jour autour de {topic}.",
    ),
    "de": (
        "Heute gibt es etwas Neues zum Thema {topic}.",
        "Wer von euch interessiert sich auch für {topic}?",
        "Neuer Beitrag über {topic}, schreibt mir eure Meinung.",
    ),
}

FIRST_NAMES: tuple[str, ...] = (
    "lena", "maya", "sam", "alex", "jordan", "priya", "omar", "lucia", "joao", "amelie",
    "jurgen", "chloe", "mateo", "sofia", "noah", "emma", "liam", "aisha", "kenji", "yuki",
    "diego", "camila", "lucas", "ines", "felix", "hanna", "marco", "giulia", "ravi", "zoe",
    "nina", "tom", "ana", "pedro", "julie", "max", "lea", "ben", "sara", "ali",
    "mila", "leo", "ivy", "kai", "rosa", "theo", "nora", "finn", "elena", "hugo",
)  # fmt: skip

LAST_NAMES: tuple[str, ...] = (
    "Smith", "García", "Silva", "Martin", "Müller", "Nguyen", "Kowalski", "Rossi", "Dubois",
    "Okafor", "Tanaka", "Fernández", "Santos", "Schmidt", "Bernard", "Hernández", "Costa",
    "Weber", "Patel", "Kim", "Johansson", "O'Brien", "López", "Lefèvre", "Novak",
)  # fmt: skip

#: Right-to-left display names and bio lines (Arabic, Hebrew).
RTL_NAMES: tuple[str, ...] = ("ليلى", "نور الهدى", "יעל כהן", "عمر", "מאיה")
RTL_LINES: tuple[str, ...] = ("مرحبا بكم في صفحتي", "ברוכים הבאים", "شكرا للمتابعة")

#: Hostile-looking text that real profiles do contain; parsers and SQL must survive it.
HOSTILE_TEXT: tuple[str, ...] = (
    "Robert'); DROP TABLE profiles;--",
    "<script>alert('hi')</script> just kidding",
    '" OR "1"="1',
    "<b>bold</b> & <i>proud</i> of it",
    "null",
    "%s %n {0} ${HOME}",
)

PRONOUNS: tuple[str, ...] = ("she/her", "he/him", "they/them", "she/they")

APPLICATIONS: tuple[tuple[str, str | None], ...] = (
    ("Web", None),
    ("Web", None),
    ("Web", None),
    ("Tusky", "https://tusky.app"),
    ("Ivory for iOS", "https://tapbots.com/ivory/"),
    ("Elk", "https://elk.zone"),
    ("Phanpy", "https://phanpy.social"),
)

MEDIA_DESCRIPTIONS: tuple[str, ...] = (
    "A close-up photo in warm light.",
    "Photo taken outdoors on a sunny day.",
    "Screenshot with a short caption.",
    "Flat lay of several objects on a wooden table.",
)

SPOILERS: tuple[str, ...] = ("food pics", "spoilers", "eye contact", "long post", "mh")

# --- planted creator signals (see World.truth) ------------------------------------------------

#: Brands of paid partnerships, as their @handles. None can be a generated username (those
#: end in digits, hold "_", start with "the" or hold "with") nor a twin's (two "_").
BRANDS: tuple[str, ...] = (
    "glowlab", "trailforge", "brewhaven", "pixelnest", "lumaskin", "fuelbar", "oatcloud",
    "voltride", "petpalco", "inkwellpens", "greenhearth", "stridegear",
)  # fmt: skip

#: Disclosure hashtags of a sponsored post, by the account's language (lower-case, no "#").
DISCLOSURE_HASHTAGS: dict[str, tuple[str, ...]] = {
    "en": ("ad", "sponsored", "partner"),
    "es": ("publi", "publicidad"),
    "pt": ("publi", "publicidade"),
    "fr": ("partenariat", "sponsorisé"),
    "de": ("anzeige", "werbung"),
}

#: Disclosure phrases of a sponsored post, by the account's language.
DISCLOSURE_PHRASES: dict[str, tuple[str, ...]] = {
    "en": ("Paid partnership with @{brand}", "Sponsored by @{brand}",
           "In collaboration with @{brand}"),
    "es": ("En colaboración con @{brand}",),
    "pt": ("Em parceria com @{brand}",),
    "fr": ("En partenariat avec @{brand}",),
    "de": ("In Kooperation mit @{brand}", "Bezahlte Partnerschaft mit @{brand}"),
}

#: Confounders on natural (not sponsored) posts: text a naive disclosure detector misreads.
#: Hashtags that start like "#ad" (World.post_confounder says "hashtag:<tag>"):
CONFOUNDER_HASHTAGS: tuple[str, ...] = ("adventure", "adorable", "adulting")
#: Lines, by the post's language, with "sponsor", "add", "partner", "publi...", "Anzeige",
#: "Kooperation" in a sense that is no disclosure (World.post_confounder says "text:<line>"):
CONFOUNDER_LINES: dict[str, tuple[str, ...]] = {
    "en": (
        "Looking for a sponsor for my charity run next month, any tips?",
        "Had to add extra garlic, no regrets.",
        "Made this with my partner on a lazy Sunday.",
    ),
    "es": (
        "Nueva publicación cada lunes.",
        "Busco patrocinador para mi carrera solidaria.",
    ),
    "pt": (
        "Publiquei um vídeo novo ontem.",
        "Treino de hoje com meu parceiro de corrida.",
    ),
    "fr": (
        "Sortie du dimanche avec mon partenaire d'escalade.",
        "Le sponsor du club a offert les maillots aux enfants.",
    ),
    "de": (
        "Die Anzeigetafel am Bahnhof zeigt schon wieder Verspätung.",
        "Keine Kooperation, einfach meine ehrliche Meinung.",
    ),
}

#: Contact e-mail domains (reserved example domains only).
EMAIL_DOMAINS: tuple[str, ...] = ("example.com", "example.org", "mail.example.net")
#: Labels before a bio's contact e-mail: (collab label, business label) by language.
EMAIL_LABELS: dict[str, tuple[str, str]] = {
    "en": ("collabs", "Business"),
    "es": ("colaboraciones", "Contacto"),
    "pt": ("parcerias", "Contato"),
    "fr": ("collabs", "Contact pro"),
    "de": ("Kooperationen", "Kontakt"),
}

#: Confounders in natural bios: no e-mail, yet "@", "collab" or a URL with "@"
#: (World.bio_confounder returns the line).
BIO_CONFOUNDERS: dict[str, tuple[str, ...]] = {
    "en": ("@{brand} ambassador", "DM for collabs", "Shop my looks: https://example.com/@{username}"),
    "es": ("Embajadora de @{brand}", "Colaboraciones por DM", "https://example.com/@{username}"),
    "pt": ("Embaixadora @{brand}", "Parcerias por DM", "https://example.com/@{username}"),
    "fr": ("Ambassadrice @{brand}", "Collabs en DM", "https://example.com/@{username}"),
    "de": ("@{brand} Botschafterin", "Kooperationen per DM", "https://example.com/@{username}"),
}

#: A twin's bio line naming its account on another platform.
TWIN_LINK_LINES: tuple[str, ...] = (
    "YouTube: youtube.com/@{username}",
    "Find me on TikTok @{username}",
    "Also on Instagram: @{username}",
)
