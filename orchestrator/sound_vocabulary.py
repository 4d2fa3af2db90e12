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
    SoundName("alarm", "Alarm", ("beeping", "alarm clock", "beep", "smoke detector"),
              ("alarm", "alarms", "alarm clock", "beep", "beeps", "beeping", "beeped", "buzzer", "smoke alarm", "timer", "go off", "goes off", "went off")),
    SoundName("beeping", "Beep, bleep", ("beep", "alarm"), ("beep", "beeps", "beeping", "beeped", "bleep", "bleeps", "chirp", "chirps")),
    SoundName("ringing", "Ringtone", ("telephone ringing", "ring", "phone ringing", "bell"),
              ("ring", "rings", "ringing", "rang", "phone", "phones", "telephone", "ringtone", "call", "calls", "bell", "bells", "doorbell")),
    SoundName("telephone ringing", "Telephone bell ringing", ("ringing", "phone ringing", "ringtone"),
              ("phone", "phones", "telephone", "ringtone", "ring", "rings", "ringing", "rang", "call")),
    SoundName("siren", "Siren", ("alarm", "emergency vehicle"),
              ("siren", "sirens", "ambulance", "police", "fire engine", "emergency", "wail", "wailing", "alarm", "alarms")),
    SoundName("tone", "Sine wave", ("beep", "whistle", "hum"), ("tone", "tones", "whistle", "whistling", "hum", "humming", "pitch", "test tone")),
    SoundName("bang", "Bang", ("impact", "knock", "explosion", "gunshot", "slam"),
              ("bang", "bangs", "banging", "crash", "crashes", "slam", "slams", "thud", "impact", "explosion", "explosions", "boom", "pop",
               "gunshot", "gunshots", "shot", "shots", "loud")),
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
    SoundName("human voice", "Human voice", ("shout", "scream", "voice"), ("scream", "screams", "screaming", "shout", "shouts", "shouting", "yell", "yelling", "voice", "cry")),
    SoundName("noise", "Noise", ("static",), ("noise", "noises", "noisy", "static", "hiss")),
    SoundName("animal", "Animal", ("bird", "frog", "insect"), ("bird", "birds", "birdsong", "chirping", "frog", "frogs", "insect", "insects", "animal", "animals")),
)

BY_LABEL: dict[str, SoundName] = {s.label: s for s in VOCABULARY}

# BirdNET's generic (non-species) classes, as the sound tagger reports them (lower case), to the names above
BIRDNET_NAMES: dict[str, str] = {
    "dog": "dog bark", "engine": "vehicle engine", "gun": "gunshot", "fireworks": "fireworks", "siren": "siren",
    "power tools": "power tool", "human whistle": "whistle", "human vocal": "human voice", "noise": "noise",
    "human non-vocal": "noise", "environmental": "noise",
}


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
