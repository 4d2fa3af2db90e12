"""The names sound events carry, and the words people use for them.

One vocabulary, shared by the sounds lane (which names what it hears with these labels) and by
question reading (which maps a question's words onto them). Names follow AudioSet's ontology
where it has one; ``accepts`` lists the other names a person would accept for the same sound
("a phone ringing" is a ``ringing`` event), and ``words`` the question words that ask for it.

    >>> name_for("dog")
    'dog bark'
    >>> sorted(labels_for_word("phone"))
    ['ringing', 'telephone ringing']
    >>> "alarm" in labels_for_word("beeping")
    True
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SoundName:
    label: str  # what the event is called
    audioset: str  # the AudioSet class it corresponds to
    accepts: tuple[str, ...] = ()  # other names a person would accept for it
    words: tuple[str, ...] = ()  # question words that ask for it (lower case, singular and plural forms)


VOCABULARY: tuple[SoundName, ...] = (
    SoundName(
        "alarm",
        "Alarm",
        ("beeping", "alarm clock", "beep", "smoke detector"),
        ("alarm", "alarms", "alarm clock", "beep", "beeps", "beeping", "beeped", "buzzer", "smoke alarm", "timer", "go off", "goes off", "went off"),
    ),
    SoundName("beeping", "Beep, bleep", ("beep", "alarm", "tone"), ("beep", "beeps", "beeping", "beeped", "bleep", "bleeps", "chirp", "chirps")),
    SoundName(
        "ringing",
        "Ringtone",
        ("telephone ringing", "ring", "phone ringing", "bell"),
        ("ring", "rings", "ringing", "rang", "phone", "phones", "telephone", "ringtone", "call", "calls", "bell", "bells", "doorbell"),
    ),
    SoundName(
        "telephone ringing",
        "Telephone bell ringing",
        ("ringing", "phone ringing", "ringtone"),
        ("phone", "phones", "telephone", "telephones", "landline", "landlines", "handset", "ringtone", "ring", "rings", "ringing", "rang", "call"),
    ),
    SoundName(
        "siren",
        "Siren",
        ("alarm", "emergency vehicle"),
        ("siren", "sirens", "ambulance", "police", "fire engine", "emergency", "wail", "wailing", "alarm", "alarms"),
    ),
    SoundName("tone", "Sine wave", ("beep", "whistle", "hum"), ("tone", "tones", "whistle", "whistling", "hum", "humming", "pitch", "test tone")),
    SoundName(
        "bang",
        "Bang",
        ("impact", "knock", "explosion", "gunshot", "slam"),
        (
            "bang",
            "bangs",
            "banging",
            "crash",
            "crashes",
            "slam",
            "slams",
            "thud",
            "impact",
            "explosion",
            "explosions",
            "boom",
            "pop",
            "gunshot",
            "gunshots",
            "shot",
            "shots",
            "loud",
        ),
    ),
    SoundName("knock", "Knock", ("bang", "tap"), ("knock", "knocks", "knocking", "knocked", "tap", "taps", "tapping", "door")),
    SoundName("music", "Music", ("song", "melody"), ("music", "musical", "song", "songs", "melody", "tune", "singing", "playing", "band")),
    SoundName("applause", "Applause", ("clapping", "crowd"), ("applause", "clap", "claps", "clapping", "cheer", "cheering", "crowd", "audience")),
    SoundName("footsteps", "Walk, footsteps", ("steps", "walking"), ("footsteps", "footstep", "steps", "walking", "walks", "running", "stomping")),
    SoundName("dog bark", "Bark", ("dog", "barking"), ("dog", "dogs", "bark", "barks", "barking", "barked", "woof")),
    SoundName("car horn", "Vehicle horn, car horn, honking", ("horn", "honk"), ("horn", "horns", "honk", "honks", "honking", "honked", "beeped")),
    SoundName("vehicle engine", "Engine", ("engine", "car", "motor"), ("engine", "engines", "motor", "motors", "car", "cars", "vehicle", "traffic", "revving")),
    SoundName("gunshot", "Gunshot, gunfire", ("bang", "gun", "shot"), ("gun", "guns", "gunshot", "gunshots", "gunfire", "shot", "shots", "shooting")),
    SoundName("fireworks", "Fireworks", ("bang", "explosion"), ("fireworks", "firework", "explosion", "explosions", "bang", "bangs")),
    SoundName("power tool", "Power tool", ("drill", "saw"), ("drill", "drilling", "saw", "sawing", "tool", "tools", "power tool", "grinder")),
    SoundName("whistle", "Whistling", ("tone",), ("whistle", "whistles", "whistling", "whistled")),
    SoundName(
        "human voice",
        "Human voice",
        ("shout", "scream", "voice"),
        ("scream", "screams", "screaming", "shout", "shouts", "shouting", "yell", "yelling", "voice", "cry"),
    ),
    SoundName("noise", "Noise", ("static",), ("noise", "noises", "noisy", "static", "hiss")),
    SoundName(
        "animal", "Animal", ("bird", "frog", "insect"), ("bird", "birds", "birdsong", "chirping", "frog", "frogs", "insect", "insects", "animal", "animals")
    ),
    SoundName("doorbell", "Doorbell", ("bell", "ringing", "ding-dong"), ("doorbell", "doorbells", "door bell", "ding-dong", "ding dong", "bell", "bells")),
    SoundName("bell", "Bell", ("ringing", "ring", "chime"), ("bell", "bells", "chime", "chimes", "chiming", "church bell", "tolling")),
    SoundName("explosion", "Explosion", ("bang", "boom", "blast"), ("explosion", "explosions", "explode", "exploded", "blast", "blasts", "boom", "detonation")),
    SoundName(
        "glass breaking", "Shatter", ("shatter", "breaking", "bang"), ("glass", "shatter", "shattering", "smash", "smashing", "breaking", "broke", "broken")
    ),
    SoundName("crowd", "Crowd", ("chatter", "applause"), ("crowd", "crowds", "chatter", "murmur", "audience", "people talking")),
    SoundName("laughter", "Laughter", ("laugh", "laughing"), ("laugh", "laughs", "laughing", "laughed", "laughter", "giggle", "giggling")),
    SoundName("screaming", "Screaming", ("scream", "human voice", "shout"), ("scream", "screams", "screaming", "screamed", "shriek", "shrieking")),
    SoundName("shouting", "Shout", ("shout", "yell", "human voice"), ("shout", "shouts", "shouting", "shouted", "yell", "yells", "yelling", "yelled")),
    SoundName("crying", "Crying, sobbing", ("cry", "sobbing", "baby cry"), ("cry", "cries", "crying", "cried", "sob", "sobbing", "baby", "wail")),
    SoundName("singing", "Singing", ("music", "song", "voice"), ("sing", "sings", "singing", "sang", "singer", "song", "songs", "choir")),
)

BY_LABEL: dict[str, SoundName] = {s.label: s for s in VOCABULARY}

# BirdNET's generic (non-species) classes, as the sound tagger reports them (lower case), to the names above
BIRDNET_NAMES: dict[str, str] = {
    "dog": "dog bark",
    "engine": "vehicle engine",
    "gun": "gunshot",
    "fireworks": "fireworks",
    "siren": "siren",
    "power tools": "power tool",
    "human whistle": "whistle",
    "human vocal": "human voice",
    "noise": "noise",
    "human non-vocal": "noise",
    "environmental": "noise",
}


def _audioset_names() -> dict[str, str]:
    """AudioSet display name -> the name a sound event carries; AudioSet classes left out name no sound a person
    would ask about (speech, which the speech lane hears; rooms, noise, silence, vague onomatopoeia)."""
    groups: dict[str, tuple[str, ...]] = {
        "human voice": ("Bellow", "Whoop", "Children shouting", "Wail, moan", "Groan"),
        "shouting": ("Shout", "Yell"),
        "screaming": ("Screaming",),
        "laughter": ("Laughter", "Baby laughter", "Giggle", "Snicker", "Belly laugh", "Chuckle, chortle"),
        "crying": ("Crying, sobbing", "Baby cry, infant cry", "Whimper"),
        "singing": ("Singing", "Choir", "Yodeling", "Chant", "Child singing", "Rapping"),
        "whistle": ("Whistling", "Whistle", "Steam whistle"),
        "footsteps": ("Walk, footsteps", "Run", "Shuffle"),
        "applause": ("Applause", "Clapping", "Cheering"),
        "crowd": ("Crowd", "Chatter", "Hubbub, speech noise, speech babble", "Children playing"),
        "dog bark": ("Dog", "Bark", "Yip", "Howl", "Bow-wow", "Growling", "Whimper (dog)", "Canidae, dogs, wolves"),
        "cat": ("Cat", "Purr", "Meow", "Caterwaul"),
        "bird": (
            "Bird",
            "Bird vocalization, bird call, bird song",
            "Chirp, tweet",
            "Squawk",
            "Pigeon, dove",
            "Coo",
            "Crow",
            "Caw",
            "Owl",
            "Hoot",
            "Fowl",
            "Chicken, rooster",
            "Cluck",
            "Crowing, cock-a-doodle-doo",
            "Duck",
            "Quack",
            "Goose",
        ),
        "animal": ("Animal", "Domestic animals, pets", "Wild animals", "Livestock, farm animals, working animals"),
        "horse": ("Horse", "Clip-clop", "Neigh, whinny"),
        "insect": ("Insect", "Cricket", "Mosquito", "Fly, housefly", "Bee, wasp, etc."),
        # "Tuning fork" is a child of AudioSet's "Bell"; a cowbell is a bell to a person (AudioSet files it under
        # percussion). "Ding" is left out: the tagger gives it to short electronic beeps too (0.82 on a 1.6 kHz beep)
        "bell": ("Bell", "Church bell", "Jingle bell", "Bicycle bell", "Chime", "Wind chime", "Change ringing (campanology)", "Tuning fork", "Cowbell"),
        "thunder": ("Thunderstorm", "Thunder"),
        "rain": ("Rain", "Raindrop", "Rain on surface"),
        "water": (
            "Water",
            "Stream",
            "Waterfall",
            "Ocean",
            "Waves, surf",
            "Splash, splatter",
            "Water tap, faucet",
            "Sink (filling or washing)",
            "Bathtub (filling or washing)",
            "Toilet flush",
            "Pour",
        ),
        "wind": ("Wind", "Rustling leaves"),
        "fire": ("Fire", "Crackle"),
        "boat": ("Boat, Water vehicle", "Motorboat, speedboat", "Ship", "Sailboat, sailing ship"),
        "vehicle engine": (
            "Vehicle",
            "Motor vehicle (road)",
            "Car",
            "Car passing by",
            "Race car, auto racing",
            "Truck",
            "Bus",
            "Motorcycle",
            "Traffic noise, roadway noise",
            "Engine",
            "Light engine (high frequency)",
            "Medium engine (mid frequency)",
            "Heavy engine (low frequency)",
            "Engine knocking",
            "Engine starting",
            "Idling",
            "Accelerating, revving, vroom",
            "Air brake",
            "Skidding",
            "Tire squeal",
        ),
        "car horn": ("Vehicle horn, car horn, honking", "Toot", "Air horn, truck horn"),
        "siren": ("Siren", "Civil defense siren", "Emergency vehicle", "Police car (siren)", "Ambulance (siren)", "Fire engine, fire truck (siren)"),
        "train": (
            "Rail transport",
            "Train",
            "Train whistle",
            "Train horn",
            "Railroad car, train wagon",
            "Train wheels squealing",
            "Subway, metro, underground",
        ),
        "aircraft": ("Aircraft", "Aircraft engine", "Jet engine", "Propeller, airscrew", "Fixed-wing aircraft, airplane"),
        "helicopter": ("Helicopter",),
        "power tool": ("Power tool", "Drill", "Jackhammer", "Sawing", "Chainsaw", "Lawn mower", "Sanding"),
        "hammer": ("Hammer",),
        "door": ("Door", "Sliding door", "Cupboard open or close", "Drawer open or close"),
        "doorbell": ("Doorbell", "Ding-dong"),
        "knock": ("Knock",),
        "bang": ("Slam", "Bang", "Thump, thud", "Smash, crash", "Burst, pop", "Whack, thwack"),
        "typing": ("Typing", "Typewriter", "Computer keyboard"),
        "vacuum cleaner": ("Vacuum cleaner",),
        "alarm": ("Alarm", "Alarm clock", "Buzzer", "Smoke detector, smoke alarm", "Fire alarm", "Car alarm"),
        "telephone ringing": ("Telephone", "Telephone bell ringing", "Ringtone"),
        "dial tone": ("Telephone dialing, DTMF", "Dial tone", "Busy signal"),
        "beeping": ("Beep, bleep", "Reversing beeps"),
        "clock ticking": ("Clock", "Tick", "Tick-tock"),
        "explosion": ("Explosion", "Eruption", "Boom"),
        "gunshot": ("Gunshot, gunfire", "Machine gun", "Fusillade", "Artillery fire", "Cap gun"),
        "fireworks": ("Fireworks", "Firecracker"),
        "glass breaking": ("Shatter", "Glass", "Breaking"),
        "tone": ("Sine wave", "Chirp tone"),
        "cough": ("Cough", "Throat clearing"),
        "sneeze": ("Sneeze",),
        "snoring": ("Snoring",),
        "heartbeat": ("Heart sounds, heartbeat",),
        "cow": ("Cattle, bovinae", "Moo"),
        "pig": ("Pig", "Oink"),
        "sheep": ("Sheep", "Goat", "Bleat"),
        "frog": ("Frog", "Croak"),
        "bicycle": ("Bicycle",),
        "microwave": ("Microwave oven",),
        "blender": ("Blender",),
        "hair dryer": ("Hair dryer", "Electric shaver, electric razor"),
        "fan": ("Mechanical fan", "Air conditioning"),
        "cash register": ("Cash register",),
        "printer": ("Printer",),
        "camera shutter": ("Camera", "Single-lens reflex camera"),
        "sewing machine": ("Sewing machine",),
        "foghorn": ("Foghorn",),
        "keys jangling": ("Keys jangling",),
        "dishes": ("Dishes, pots, and pans", "Cutlery, silverware"),
        "frying": ("Frying (food)", "Sizzle"),
        "television": ("Television",),
        "radio": ("Radio",),
    }
    music = ("Music", "Musical instrument") + tuple(_AUDIOSET_MUSIC)
    out = {name: label for label, names in groups.items() for name in names}
    out.update({name: "music" for name in music if name not in out})
    return out


# AudioSet's music branch (instruments and genres): every one of them is "music" to a person asking
_AUDIOSET_MUSIC = """Plucked string instrument|Guitar|Electric guitar|Bass guitar|Acoustic guitar|Steel guitar, slide guitar|
Tapping (guitar technique)|Strum|Banjo|Sitar|Mandolin|Zither|Ukulele|Keyboard (musical)|Piano|Electric piano|Organ|Electronic organ|
Hammond organ|Synthesizer|Sampler|Harpsichord|Percussion|Drum kit|Drum machine|Drum|Snare drum|Rimshot|Drum roll|Bass drum|Timpani|
Tabla|Cymbal|Hi-hat|Wood block|Tambourine|Rattle (instrument)|Maraca|Gong|Tubular bells|Mallet percussion|Marimba, xylophone|
Glockenspiel|Vibraphone|Steelpan|Orchestra|Brass instrument|French horn|Trumpet|Trombone|Bowed string instrument|String section|
Violin, fiddle|Pizzicato|Cello|Double bass|Wind instrument, woodwind instrument|Flute|Saxophone|Clarinet|Harp|Harmonica|Accordion|
Bagpipes|Didgeridoo|Theremin|Singing bowl|Scratching (performance technique)|Pop music|Hip hop music|Beatboxing|Rock music|
Heavy metal|Punk rock|Grunge|Progressive rock|Rock and roll|Psychedelic rock|Rhythm and blues|Soul music|Reggae|Country|
Swing music|Bluegrass|Funk|Folk music|Middle Eastern music|Jazz|Disco|Classical music|Opera|Electronic music|House music|Techno|
Dubstep|Drum and bass|Electronica|Electronic dance music|Ambient music|Trance music|Music of Latin America|Salsa music|Flamenco|
Blues|Music for children|New-age music|Vocal music|A capella|Music of Africa|Afrobeat|Christian music|Gospel music|Music of Asia|
Carnatic music|Music of Bollywood|Ska|Traditional music|Independent music|Song|Background music|Theme music|Jingle (music)|
Soundtrack music|Lullaby|Video game music|Christmas music|Dance music|Wedding music|Happy music|Sad music|Tender music|
Exciting music|Angry music|Scary music""".replace("\n", "").split("|")

AUDIOSET_NAMES: dict[str, str] = _audioset_names()

# generic names whose AudioSet class is the parent of more specific ones (the ontology's "Animal" holds dogs, cats,
# birds ...): where the tagger is sure of the parent and some child is the likeliest of its siblings, the child names it
REFINES: dict[str, tuple[str, ...]] = {
    "animal": ("dog bark", "cat", "bird", "horse", "cow", "pig", "sheep", "frog", "insect"),
}

# names and the broader ones AudioSet's ontology puts above them ("Alarm" holds "Siren", "Telephone", "Doorbell"; a
# doorbell is a bell): a broader name does not replace a specific one the signal or the tagger already gave a sound
# (a siren the tagger also scores as "Alarm" is a siren), and a specific one refines a broader one heard at the same time
BROADER: dict[str, tuple[str, ...]] = {
    "siren": ("alarm",),
    "telephone ringing": ("alarm", "ringing"),
    "doorbell": ("alarm", "bell", "ringing"),
    "alarm": ("beeping",),
}


def broader_than(general: str, specific: str) -> bool:
    """Whether ``general`` is a broader name of ``specific`` (AudioSet's parent of it).

    >>> broader_than("alarm", "siren"), broader_than("siren", "alarm")
    (True, False)
    """
    return general in BROADER.get(specific, ())


# per-name probabilities from which the tagger's name is believed, where it differs from the global one
# (``AudioConfig.audioset_threshold``), chosen on the audio bench's dev split only (scripts/bench_audio.py): each
# lowered where that named more dev sounds and lost none, the rest left at the global value. The CPU tagger's scores
# come in steps (its output is quantised: ... 0.32, 0.5, 0.68, 0.82 ...), so 0.45 believes a tagger's even odds.
AUDIOSET_THRESHOLDS: dict[str, float] = {"dog bark": 0.45, "applause": 0.45, "explosion": 0.45}


def audioset_name_for(display_name: str) -> str | None:
    """The name a sound event carries for an AudioSet class, or None for a class that names no sound to report.

    >>> audioset_name_for("Telephone bell ringing"), audioset_name_for("Jazz"), audioset_name_for("Speech")
    ('telephone ringing', 'music', None)
    """
    return AUDIOSET_NAMES.get(display_name.strip())


def name_for(tag: str) -> str:
    """The vocabulary's name for a tagger's label ("dog" → "dog bark"); species "(animal)" tags become "animal"."""
    key = tag.strip().lower()
    if key.endswith("(animal)"):
        return "animal"
    return BIRDNET_NAMES.get(key, key)


def labels_for_word(word: str) -> set[str]:
    """The sound labels a question word asks for ("phone" → ringing, telephone ringing)."""
    w = word.strip().lower()
    return {s.label for s in VOCABULARY if w in s.words}


def accepted_names(label: str) -> tuple[str, ...]:
    """The label and every other name a person would accept for it."""
    s = BY_LABEL.get(label)
    return (label, *s.accepts) if s else (label,)
