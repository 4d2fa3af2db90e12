"""Question planner: a question becomes a typed plan — what is asked, about which entities, when.

    >>> p = plan_question("How many cars pass in the last twenty seconds?", 80.0)
    >>> p.intent, p.object_labels, p.scope, p.time_range
    ('count', ['car'], 'relative', (60.0, 80.0))

Rules are used only where they are exact: clock times ("1:12:30"), amounts ("2 hours 5 minutes",
"twenty seconds"), ordinals ("the second", "the final") and relation words ("after", "between").
Everything else is read by meaning when an ``embed`` callable (the text embedder the product
serves) is given: the question is matched against intent exemplars, and its words against the
graph's own vocabulary (the object classes, sound names and on-screen texts this video has), so
a word means what the graph has, per lane ("phone" in a question about hearing is a ringing sound,
not a cell-phone object). Without an embedder the cue words alone decide, which is what the fast
tests exercise.
"""

from __future__ import annotations

import re
import threading
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from typing import Callable

import numpy as np

from . import sound_vocabulary as sv

INTENTS = ("count", "when", "duration", "said", "heard", "seen", "colour", "text", "yesno", "summary", "compare")
SCOPES = ("none", "absolute", "relative", "anchored", "ordinal")

COCO_LABELS = [
    w.replace("_", " ")
    for w in (
        "person bicycle car motorcycle airplane bus train truck boat traffic_light fire_hydrant stop_sign parking_meter bench bird cat dog "
        "horse sheep cow elephant bear zebra giraffe backpack umbrella handbag tie suitcase frisbee skis snowboard sports_ball kite "
        "baseball_bat baseball_glove skateboard surfboard tennis_racket bottle wine_glass cup fork knife spoon bowl banana apple sandwich "
        "orange broccoli carrot hot_dog pizza donut cake chair couch potted_plant bed dining_table toilet tv laptop mouse remote keyboard "
        "cell_phone microwave oven toaster sink refrigerator book clock vase scissors teddy_bear hair_drier toothbrush"
    ).split()
]

VEHICLES = ["car", "truck", "bus", "motorcycle"]
ANIMALS = ["bird", "cat", "dog", "horse", "sheep", "cow", "elephant", "bear", "zebra", "giraffe"]
PERSON_WORDS = (
    "people persons person man men woman women someone somebody anyone anybody pedestrian pedestrians guy guys kid kids child "
    "children human humans lady ladies boy boys girl girls walker walkers individual individuals figure figures "
    "player players passer-by passers-by folks folk ppl peeps visitor visitors stranger strangers customer customers worker workers "
    "intruder intruders guest guests courier couriers guard guards employee employees shopper shoppers student students postman "
    "lecturer lecturers teacher teachers presenter manager managers neighbour neighbours neighbor neighbors nurse doctor officer officers "
    "policeman policewoman cashier clerk"
).split()
OBJECT_SYNONYMS: dict[str, list[str]] = {
    "vehicle": VEHICLES,
    "vehicles": VEHICLES,
    "traffic": VEHICLES + ["bicycle"],
    **{w: ["person"] for w in PERSON_WORDS},
    "bike": ["bicycle"],
    "bikes": ["bicycle"],
    "cyclist": ["bicycle", "person"],
    "cyclists": ["bicycle", "person"],
    "bicycles": ["bicycle"],
    "motorbike": ["motorcycle"],
    "motorbikes": ["motorcycle"],
    "scooter": ["motorcycle"],
    "lorry": ["truck"],
    "lorries": ["truck"],
    "van": ["truck", "car"],
    "vans": ["truck", "car"],
    "automobile": ["car"],
    "automobiles": ["car"],
    "suv": ["car", "truck"],
    "animal": ANIMALS,
    "animals": ANIMALS,
    "pet": ["dog", "cat"],
    "pets": ["dog", "cat"],
    "phone": ["cell phone"],
    "phones": ["cell phone"],
    "mobile": ["cell phone"],
    "smartphone": ["cell phone"],
    "cellphone": ["cell phone"],
    "television": ["tv"],
    "screen": ["tv", "laptop"],
    "monitor": ["tv"],
    "computer": ["laptop"],
    "bag": ["backpack", "handbag", "suitcase"],
    "bags": ["backpack", "handbag", "suitcase"],
    "luggage": ["suitcase"],
    "table": ["dining table"],
    "sofa": ["couch"],
    "plant": ["potted plant"],
    "ball": ["sports ball"],
    "plane": ["airplane"],
    "aircraft": ["airplane"],
    "ship": ["boat"],
    "puppy": ["dog"],
    "kitten": ["cat"],
    "coach": ["bus"],
    "aeroplane": ["airplane"],
    "aeroplanes": ["airplane"],
    "jet": ["airplane"],
    "taxi": ["car"],
    "taxis": ["car"],
    "cab": ["car"],
    "cabs": ["car"],
    "hatchback": ["car"],
    "pickup": ["truck"],
    "motorcyclist": ["motorcycle", "person"],
    "rider": ["person"],
    "riders": ["person"],
    "driver": ["person"],
    "drivers": ["person"],
    "puppies": ["dog"],
    "kitty": ["cat"],
    # vehicles people name by what they do; what is seen of them is a car or truck (a siren is what is heard)
    "ambulance": ["truck", "car"],
    "ambulances": ["truck", "car"],
    "fire engine": ["truck"],
    "fire truck": ["truck"],
    "police car": ["car"],
    "emergency vehicle": ["car", "truck"],
}
for _label in COCO_LABELS:
    OBJECT_SYNONYMS.setdefault(_label, [_label])
    OBJECT_SYNONYMS.setdefault(_label + ("es" if _label.endswith(("s", "sh", "ch")) else "s"), [_label])

# labels older sound lanes wrote, and the vocabulary names they stand for (old databases keep answering)
LEGACY_SOUNDS: dict[str, set[str]] = {
    "tone": {"alarm", "beeping", "ringing", "telephone ringing", "tone", "whistle"},
    "loud onset": {"bang", "knock", "gunshot", "fireworks"},
    "gun": {"gunshot"},
    "dog": {"dog bark"},
    "engine": {"vehicle engine"},
    "power tools": {"power tool"},
    "human vocal": {"human voice"},
    "human whistle": {"whistle"},
}
SOUND_PHRASES = ("go off", "goes off", "went off", "going off", "alarm clock", "smoke alarm", "power tool", "test tone", "fire engine")

COLOURS = {"white", "black", "red", "blue", "green", "yellow", "grey", "gray", "silver", "orange", "brown", "purple", "pink", "beige", "gold"}
NUMBER_WORDS = {
    "zero": 0,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "thirteen": 13,
    "fourteen": 14,
    "fifteen": 15,
    "sixteen": 16,
    "seventeen": 17,
    "eighteen": 18,
    "nineteen": 19,
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "sixty": 60,
    "seventy": 70,
    "eighty": 80,
    "ninety": 90,
    "a": 1,
    "an": 1,
    "a couple of": 2,
    "couple of": 2,
    "a few": 3,
    "few": 3,
}
ORDINAL_WORDS = {
    "first": 1,
    "second": 2,
    "third": 3,
    "fourth": 4,
    "fifth": 5,
    "sixth": 6,
    "seventh": 7,
    "eighth": 8,
    "ninth": 9,
    "tenth": 10,
    "last": -1,
    "final": -1,
    "1st": 1,
    "2nd": 2,
    "3rd": 3,
    "4th": 4,
    "5th": 5,
    "6th": 6,
    "7th": 7,
    "8th": 8,
    "9th": 9,
    "10th": 10,
}
UNIT_S = {
    "h": 3600,
    "hr": 3600,
    "hrs": 3600,
    "hour": 3600,
    "hours": 3600,
    "m": 60,
    "min": 60,
    "mins": 60,
    "minute": 60,
    "minutes": 60,
    "s": 1,
    "sec": 1,
    "secs": 1,
    "second": 1,
    "seconds": 1,
}
UNIT_RX = r"(?:hours?|hrs?|h|minutes?|mins?|m|seconds?|secs?|s)"
AMOUNT_RX = rf"(?:\d+(?:\.\d+)? ?{UNIT_RX}\b(?:,? (?:and )?\d+(?:\.\d+)? ?{UNIT_RX}\b)*)"
CLOCK_RX = r"\d{1,2}:\d{2}(?::\d{2})?(?:\.\d+)?"
POINT_RX = rf"(?:{CLOCK_RX}|{AMOUNT_RX})"
TIME_RE = r"(\d{1,2}):(\d{2})(?::(\d{2}))?"

STOP = set(
    """a an the of to in on at by for with from and or but is are was were be been being do does did what when where who whom which why how
many much that this those these there here it its they them their he she his her i you we me my our your about after before during
between into out up down over under again then than so if not no any some all each every can could should would will just only very video
clip film footage scene see seen saw show shows shown appear appears appeared happen happens happened time times first last minute minutes
second seconds hour hours end beginning start middle near tell say said says talk mention anything something people person
summarize summarise summary describe overview happening going visible view hear heard sound sounds noise noises word words spoken speak
speaks spoke thing things ever once right just immediately shortly soon long often there's what's whats does doing get gets got kind type
colour color colours colors written write read text sign signs more most less fewer other another same also please give list name names else
number count total occur occurs occurred heard audible camera frame frames point moment moments mark recording speaker narrator
past roughly approximately idea anywhere somewhere have has bit part miss missed important interesting notable unusual footage clip
folks ever actually really exactly basically like okay ok hey please change changes changed changing
different distinct separate various unique total overall around both him us himself herself themselves told tells telling tape true
she'd he'd they'd i'd we'd you'd she'll he'll they'll i'll we'll you'll she's he's they're we're you're i've we've they've""".split()
)

VERBS = set(
    """mentioned mention mentions pass passes passed passing walk walks walked walking drive drives driven driving enter enters entered
leave leaves left cross crosses crossed go goes went gone come comes came arrive arrives arrived stay stays stayed ring rings rang ringing
beep beeps beeped sound sounds sounded hear hears heard talk talks talked talking speak speaks spoke name names named call calls called
present occur occurs occurred take takes took make makes made let lets look looks looked notice noticed spotted spot exist exists""".split()
)

HEAR_CUES = re.compile(
    r"\b(hear|heard|hearing|sound|sounds|sounded|sounding|noise|noises|audio|audible|ring|rings|ringing|rang|beep|beeps|"
    r"beeping|beeped|bark|barks|barking|go(?:es)? off|went off|going off|buzz|buzzing|loud|louder|noisy|noisier|listen|siren|alarm)\b"
)
SEE_CUES = re.compile(
    r"\b(see|seen|saw|visible|view|appear|appears|appeared|shown|show|shows|on screen|on camera|in frame|look|looks|"
    r"watch|spot|spotted|walk|walks|walking|drive|drives|driving|pass|passes|passing|enter|enters|leave|leaves|cross|"
    r"crosses|park|parked|ride|rides|riding|hold|holds|holding|carry|carries|carrying|wear|wearing)\b"
)
TEXT_CUES = re.compile(
    r"\b(sign|signs|written|writing|caption|captions|subtitle|subtitles|banner|label|labels|text|"
    r"on screen text|poster|plate|headline|title|titles|lettering|read|reads|slide|slides|whiteboard|noticeboard|board(?! (?:the|a|an|his|her|their|it)\b)|boards|placard|billboard)\b"
)
SAID_CUES = re.compile(
    r"\b(say|says|said|saying|talk|talks|talked|talking|speak|speaks|spoke|speaking|spoken|speech|mention|mentions|mentioned|"
    r"words?|transcri\w*|conversation|discuss\w*|quote|tell|tells|told|utter\w*|announce\w*|ask|asks|asked|"
    r"sentence|line|lines|narrat\w*|speaker|voice|call out|calls out|shout|shouts|names?|named|recite\w*|pronounce\w*|remarks?|comments?|statements?)\b"
)

# "the second speaker", "the first voice": a voice told apart by the speech lane
SPEAKER_ORDINAL_RX = re.compile(r"\b(first|second|third|fourth|1st|2nd|3rd|4th) (?:speaker|voice|person to (?:speak|talk))\b")
# roles whose lines are the main voice's (the one with the most lines): "what did the lecturer say about the exam?"
SPEAKING_ROLES = ("lecturer", "presenter", "reporter", "announcer", "narrator", "host", "teacher", "professor", "newsreader", "commentator", "instructor")
# "how many times does the lecturer speak?": a role that speaks is the main voice
ROLE_SPEAKS_RX = re.compile(
    r"\bhow (?:many times|often) (?:does|did|do|is|was) (?:the |that |this |our )?((?:male |female |main )?(?:"
    + "|".join((*SPEAKING_ROLES, "speaker", "caller", "anchor", "tour guide", "guide"))
    + r"))\b(?:'s)? (?:speak|talk|say something|heard|chime in|speaking|talking)"
)
# "how many times does Paul speak?", "what did Sam say?", "Lucy's last words": a speaker asked by name (the name a voice
# gives itself, resolved on the graph; unresolved, the name stays a word to find)
NAMED_SPEAKER_RX = re.compile(
    r"\b(?:does|did|do|is|was|has|had|will|would|can|could) ([a-z]+) (?:speak|talk|say|said|ask|tell|report|announce|radio|reply|answer|mention)\w*\b|"
    r"\b([a-z]+)'s (?:first |last |final |second )?(?:words|lines?|messages?|reports?|repl(?:y|ies)|answers?|updates?)\b|"
    r"\b(?:said|spoken|asked|told|reported|announced) by ([a-z]+)\b|"
    r"\bthe ([a-z]+)(?: room| desk)? (?:says|said|asks|asked|tells|told|announces|announced)\b|"
    r"\b(?:is it true that|so) ([a-z]+) (?:said|says|told|mentioned)\b|"
    r"\b(?:hear|heard|hearing) from ([a-z]+)\b"
)
NOT_SPEAKER_NAMES = frozenset(
    "he she they it i you we anyone anybody someone somebody everyone everybody nobody noone people person man woman men women guy lady "
    "boy girl this that there what who which one he's she's anything something nothing the a an any somebody's everyone's "
    "was were is are be been being has had have do does did thing things line lines words sign signs screen slide video clip it's".split()
)
# "what did the lecturer say about the exam?", "the presenter's final remark": a role that speaks is the main voice too
_ROLE = r"((?:male |female |main )?(?:" + "|".join(SPEAKING_ROLES) + "))"
ROLE_SAYS_RX = re.compile(
    rf"\b(?:did|does|do|is|was) (?:the |that |this |our ){_ROLE} (?:say|saying|mention|tell|announce|ask|answer|reply|respond|speak|talk)\w*\b|"
    rf"\bthe {_ROLE}'s (?:(?:first|last|final|second|third|opening|closing) )?(?:remarks?|words?|lines?|comments?|statements?|sentences?|announcements?|questions?|answers?|replies|reply)\b|"
    rf"\bthe {_ROLE} (?:says|said|mentions|mentioned|asks|asked|announces|announced|answers|answered|tells|told)\b"
)
HOW_MANY_SPEAKERS_RX = re.compile(
    r"\bhow many (?:different |distinct |separate )?(?:speakers|voices|people|persons|ppl|men|women|guys|folks|callers|participants)\b"
    r"(?:.*\b(?:talk\w*|speak\w*|say|said|chat\w*|conversation|call|voices?|heard)\b)|\bhow many (?:different |distinct )?(?:speakers|voices)\b"
)

# speech acts: a question names what someone does by speaking ("does anyone apologise?", "before she introduces
# herself", "when she picks up"); these are the words that do it, matched in what was said
SPEECH_ACTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (r"apologi[sz]\w*|apolog\w*|(?:say|says|said|saying) sorry", ("sorry", "apolog", "excuse me", "pardon", "forgive")),
    (r"thank\w*|gratitude|grateful", ("thank", "grateful", "appreciate", "cheers")),
    (
        r"pick(?:s|ed|ing)? up|answer(?:s|ed|ing)? (?:the |a )?(?:phone|call|telephone)|(?:she|he|they|someone|somebody) answer(?:s|ed)?",
        ("hello", "speaking"),
    ),
    (r"greet\w*|(?:say|says|said|saying) (?:hello|hi)", ("hello", "good morning", "good afternoon", "good evening", "welcome")),
    (r"introduc\w*|(?:give|gives|gave|say|says|said) (?:his|her|their) name", ("my name", "name is", "this is", "call me")),
    (r"(?:say|says|said|saying) (?:goodbye|bye)|farewell|sign(?:s|ed)? off", ("goodbye", "bye", "see you", "that is all", "that's all")),
    (r"warn\w*|caution\w*", ("careful", "watch out", "warning", "danger", "attention", "look out", "do not", "don't")),
    (r"invit\w*", ("come in", "welcome", "join", "please come")),
    (r"(?:ask|asks|asked|call|calls|called|cry|cries|cried|shout\w*) for help", ("help",)),
    (r"promis\w*", ("promise", "i will", "i'll")),
)
SPEECH_ACT_RX = re.compile(r"\b(?:" + "|".join(rx for rx, _ in SPEECH_ACTS) + r")\b")


def speech_act_cues(text: str) -> list[str]:
    """The words that perform the speech acts a phrase names.

    >>> speech_act_cues("does somebody apologise for something")[:2], speech_act_cues("what did she say when she picked up")[:1]
    (['sorry', 'apolog'], ['hello'])
    """
    out: list[str] = []
    for rx, cues in SPEECH_ACTS:
        if re.search(rf"\b(?:{rx})\b", text):
            out += [c for c in cues if c not in out]
    return out


# "which way does he walk", "what direction did the car go", "is it heading left or right": where a thing seen went
DIRECTION_RX = re.compile(
    r"\b(?:which way|what way|which direction|what direction|in which direction|left or right|right or left|left to right|right to left)\b"
)

# "did the visitor bring a spare tyre?", "was she carrying an umbrella?": a thing someone has with them
CARRY_RX = re.compile(
    r"\b(bring|brings|brought|bringing|carry|carries|carried|carrying|hold|holds|holding|held|deliver|delivers|delivered|delivering)"
    r" (?:(?:a|an|the|any|some|his|her|their|in|along) )*([a-z][a-z\- ]*?)(?=\?|$|,|\.| to\b| into\b| with\b| when\b| while\b| at\b| for\b| and\b)"
)

# what people wear: asked with a colour, a garment stands for the person wearing it
GARMENTS = frozenset(
    "shirt shirts t-shirt top tops jacket jackets coat coats trousers pants jeans shorts dress skirt hoodie sweater jumper hat cap shoes "
    "clothes clothing outfit uniform suit vest".split()
)

# "the guy walking right to left", "the car heading left": a thing named by the way it moves (not "which way does it go?")
HEADING_RX = re.compile(
    r"\b(?:walk|walks|walked|walking|go|goes|going|went|move|moves|moving|moved|head|heads|heading|headed|cross|crosses|crossing|crossed|run|runs|running|"
    r"drive|drives|driving|drove|ride|rides|riding|cycling|pass|passes|passing|passed)\s+(?:from\s+)?(?:the\s+)?"
    r"(right to left|left to right|(?:to|towards|toward) the (?:left|right)|leftwards?|rightwards?|left|right)\b"
)


def heading_of(q: str) -> str:
    """The way a thing is said to move, as ``appearance_direction`` names it.

    >>> heading_of("colour of the trousers on the guy walking right to left?"), heading_of("the car heading towards the left"), heading_of("which way does he go")
    ('left', 'left', '')
    """
    if re.search(r"\b(?:which|what) (?:way|direction)\b|\bleft or right\b|\bright or left\b", q):
        return ""
    m = HEADING_RX.search(q)
    if not m:
        return ""
    way = m.group(1)
    if " to " in way and not way.startswith(("to ", "towards", "toward")):  # "right to left": where it goes is the second word
        way = way.split(" to ")[1]
    return "left" if "left" in way else "right"


# "(not talking)", "other than the speech", "apart from the voices": what the question leaves out
NOT_SPEECH_RX = re.compile(
    r"\(\s*(?:not|no|excluding|except|other than|besides|apart from)\b[^)]*\)|\b(?:other than|besides|apart from|except(?: for)?|excluding|not counting|ignoring)"
    r" (?:the |any )?(?:talking|speech|speaking|voices?|(?:people|anyone|anybody|someone|somebody|the people) (?:talking|speaking)|conversation|words|announcements?|remarks?|commentary|narration|narrator)\b"
    r"|\bnon-?speech\b|\bnon-?verbal\b|\bother than (?:the )?(?:talking|speech|voices?)\b"
    r"|\b(?:leave|leaving|leaves|left|keep|keeping) (?:out )?(?:the |any )?(?:talking|speech|speaking|voices?|people talking|conversation|chat\w*) out\b"
    r"|\b(?:leave|leaving|leaves|left) out (?:the |any )?(?:talking|speech|speaking|voices?|people talking|conversation|chat\w*)\b"
    r"|\b(?:without|no|skip|skipping|minus) (?:the |any )?(?:talking|speech|speaking|people talking|chat\w*)\b"
    r"|\b(?:that|which) (?:isn't|is not|wasn't|was not|aren't|are not) (?:a |an |the )?(?:voice|voices|speech|talking|someone talking|people talking)\b"
)

# "apart from the phone, what sounds were there?", "besides the people, what else is seen?": what is left out (speech
# left out is NOT_SPEECH_RX's, read first)
EXCLUDE_RX = re.compile(
    r"\b(?:apart from|aside from|other than|besides|beside|except(?: for)?|excluding|not counting|ignoring|leaving out|not including)"
    r" (?:the |a |an |any |that |those |these |all the )?([a-z][a-z'\- ]*?)(?=\?|$|,|\.|;| (?:what|which|was|were|is|are|did|do|does|how|who|when|"
    r"can|could|would|any|anything|something|there|else|did|were|you|i|we)\b)"
)

# a speaker named by sex: asked ("a man or a woman?") or used to pick the lines ("what did the woman say?")
VOICE_ASKED_RX = re.compile(
    r"\b(?:(?:a|an) )?(?:man|male|guy|gentleman|boy) or (?:(?:a|an) )?(?:woman|female|lady|girl)\b|"
    r"\b(?:(?:a|an) )?(?:woman|female|lady|girl) or (?:(?:a|an) )?(?:man|male|guy|gentleman|boy)\b|\b(?:what|which) (?:sex|gender)\b|\bgender of\b"
)
# "was it a woman giving the updates?", "is the narrator a man?": a speaker's sex put as yes or no
SEX_CLAIM_RX = re.compile(r"^(?:was|is|were|are) (it|that|this|the [a-z]+(?: [a-z]+)?) (?:a |an )?(woman|lady|girl|female|man|guy|gentleman|boy|male)\b(.*)$")
# who speaks, by role ("the narrator", "the caller", "the person talking"): a speaker, not a thing asked about
SPEAKER_ROLE_RX = re.compile(r"\b(?:" + "|".join((*SPEAKING_ROLES, "speaker", "voice", "caller")) + r"|person (?:talking|speaking))\b")
SPEECH_ACTIVITY_RX = re.compile(
    r"\b(?:giving|making|doing|updates?|lectures?|talks?|speech(?:es)?|presentations?|briefings?|interviews?|instructions|announc\w*|reports?|reporting|narrat\w*|commentary|calling|talking|speaking|on the (?:phone|radio))\b"
)
HIGH_VOICE_RX = re.compile(r"\b(?:woman|women|lady|ladies|girl|female|she|her|herself)\b")
LOW_VOICE_RX = re.compile(r"\b(?:man|men|guy|gentleman|boy|male|he|his|him|himself)\b")
WHO_RX = re.compile(
    r"(?:^|, )(?:who|whom|whose|which (?:person|speaker|voice|one of them|of them))\b|\bwho (?:is|was) (?:talking|speaking|on the (?:phone|radio|call))\b"
)

# a question about the file itself: does it have a picture ("is this only an audio recording?", "any video in this file?")
MEDIUM_PICTURE_RX = re.compile(
    r"\b(?:just|only|purely|merely) (?:an? )?(?:audio|sound|voice|voices)(?: recording| file| track| clip| with no picture)?\b|"
    r"\bno (?:picture|video|image|images|visuals?)\b|\baudio[- ]only\b|\bsound[- ]only\b|"
    r"\b(?:any|a) (?:video|picture|image|images|visuals?) (?:in|on|to|with) (?:this|the|it)\b(?: (?:file|recording|clip|audio))?|"
    r"\bis (?:this|it) (?:a )?(?:video|audio)(?: (?:file|recording|clip))?(?: or (?:an? )?(?:audio|video|just audio|only audio)(?: (?:file|recording|clip))?)?\s*\??$|"
    r"\b(?:is there|are there|has it got|does it have|does (?:this|the) (?:file|recording|clip) have) (?:a |any )?(?:picture|video|image|images|visuals?)\s*\??$"
)
# the length of the whole file: "how long is this clip", "length of this audio?", "how long does the footage run in total"
MEDIUM_LENGTH_RX = re.compile(
    r"\b(?:length|duration|runtime|running time|total time) of (?:this|the) (?:clip|video|recording|footage|file|audio|tape|film)\b|"
    r"^how long (?:is|does|did|was) it(?: (?:run|last|go on|take))?(?: for)?(?: in total| overall| altogether| in all)?\s*\??$|"
    r"\bhow long (?:is|does|did|was) (?:this|the)(?: (?:clip|video|recording|footage|file|audio|tape|film))(?: (?:run|last|go on|take))?"
    r"(?: for)?(?: in total| overall| altogether| all together| in all)?\s*\??$|"
    r"\bhow (?:long|many minutes|many seconds) (?:is|does) (?:this|the) (?:clip|video|recording|footage|file|audio|tape|film)\b"
)

# "how long after the bang did he shout?", "how many seconds between the ring and the answer?": a gap between two moments
GAP_RX = re.compile(
    r"\bhow (?:long|much time|many (?:seconds|secs|minutes|mins))(?: (?:was it|passed|went by|elapsed|did it take|is it|had passed))?"
    r"(?: \w+){0,1} (?:after|before|between|since|from)\b|\b(?:time|gap|delay|interval|pause) between\b|"
    r"\bhow (?:soon|quickly|fast|long it took|long did it take)\b.* after\b|"
    r"\bbetween\b.*\bhow (?:long|much time)(?: (?:was it|passed|went by|elapsed|had passed|is it))?\b|\bhow much time (?:passed|went by|elapsed|had passed)\b"
)

# "did anyone mention a beep?", "does she talk about the train?": the things named are words said
MENTION_RX = re.compile(
    r"\b(?:mention\w*|talk(?:s|ed|ing)? about|speak(?:s|ing)? about|spoke about|refer(?:s|red)? to|(?:say|says|said) (?:anything |something )?about|"
    r"ask(?:s|ed|ing)? about)\b"
)
# "what did they think the noise was?": an opinion is something said
OPINION_RX = re.compile(
    r"\b(?:he|she|they|someone|somebody|anyone|the (?:man|woman|guy|person|speaker|narrator)) (?:think|thinks|thought|reckon|reckons|reckoned|believe|believes|believed|guess|guessed|suspect|suspects|suspected)\b"
)
# "what do people call Sheila?": naming, not a phone call (on the question as typed: names are capitalised)
CALL_NAMING_RX = re.compile(r"\b(?:call|calls|called|calling) (?:him|her|them|me|you|us|it|[A-Z][a-z]+)\b(?! back)")
CALL_NOUN_RX = re.compile(r"\b(?:on|during|of|in|throughout|over) (?:the|this|that) (?:phone )?call\b")  # the conversation, not a ring
CALL_BACK_RX = re.compile(r"\b(?:call|calls|called|calling|ring|rings|rang) (?:\w+ )?back\b")  # "she would call back": said, not a ring

# "the meeting has been moved to Thursday": a plan changed, not a thing moving
RESCHEDULED_RX = re.compile(
    r"\b(?:been|be|is|was|were|got|get) (?:moved|pushed|put off|postponed|rescheduled|brought forward)\b|\bmoved? (?:to|from) (?:monday|tuesday|wednesday|thursday|friday|saturday|sunday|which|what|when)\b"
)

# a question after a place, a reason or a time of day (as opposed to when in the video)
ASKS_PLACE_OR_REASON = re.compile(
    r"^(?:where|why|how come|what time|at what time|(?:which|what) (?:road|street|platform|city|town|place|room|floor|gate|door|day|date|month|year))\b|"
    r"\b(?:headed|heading|going|bound) (?:to|towards?|for)?\s*\??$|\bwhat (?:road|street|platform|city|town|place) (?:is|are|was|were)\b"
)

# phrasings per intent; the embedder matches a question to the nearest (cue words decide without one)
EXEMPLARS: dict[str, tuple[str, ...]] = {
    "count": (
        "how many people are there",
        "count the cars",
        "number of vehicles that pass",
        "how many times does it ring",
        "how often does the dog bark",
        "what is the total number of bikes",
        "tally the people who walk by",
    ),
    "when": (
        "when does the person appear",
        "at what time does the alarm sound",
        "what time is the word mentioned",
        "at which moment does the car arrive",
        "when is the first bike seen",
        "give me the timestamp of the siren",
        "at what point does someone speak",
        "when did it happen",
    ),
    "duration": (
        "how long does the alarm last",
        "for how long is the car visible",
        "how much time does the person stay in view",
        "what is the duration of the sound",
        "how long does the speech go on",
        "how long is the video",
    ),
    "said": (
        "what does the speaker say",
        "what is said",
        "what did they talk about",
        "what words are spoken",
        "quote what he says",
        "give me the transcript",
        "what does the narrator mention",
        "what was the conversation about",
        "what were the final words",
    ),
    "heard": (
        "what sounds can be heard",
        "what can you hear",
        "is there any noise",
        "what is that sound",
        "which sounds occur",
        "what do you hear in the background",
        "what audio events are there",
    ),
    "seen": (
        "what objects are visible",
        "what can you see",
        "what is shown on screen",
        "who appears in the video",
        "which things are in view",
        "what kinds of vehicles are there",
        "what is in the frame",
    ),
    "colour": ("what colour is the car", "what color is the van", "which colour is the person's shirt", "what shade is the truck"),
    "text": (
        "what does the sign say",
        "what text is on screen",
        "what is written on the wall",
        "read the caption",
        "what words appear on screen",
        "what is the licence plate",
        "what does the banner read",
    ),
    "yesno": (
        "is there a dog",
        "did anyone speak",
        "does a car appear",
        "was there any siren",
        "do we see a bicycle",
        "can you hear an alarm",
        "has anybody shown up",
        "are there any trucks",
    ),
    "summary": (
        "what happens in the video",
        "summarize the video",
        "describe the clip",
        "give me an overview",
        "what is going on",
        "what is this video about",
        "what happens at this moment",
        "tell me about the footage",
    ),
    "compare": (
        "are there more cars or people",
        "which comes first the siren or the speech",
        "compare the number of bikes and cars",
        "which lasts longer",
        "is the car seen before or after the person",
        "cars versus trucks",
    ),
}


@dataclass
class QueryPlan:
    """What a question asks (``intent``), about what, and when. Fields before ``intent`` keep their old meaning."""

    question: str
    intents: list[str]  # the intent first, then secondary ones (e.g. ["when", "heard"])
    object_labels: list[str]
    sound_labels: list[str]  # vocabulary names asked for (the graph may hold older names: see ``graph_sound_labels``)
    keywords: list[str]  # spoken / written words to look for
    time_range: tuple[float, float] | None = None
    time_phrase: str = ""  # how the answer names the time, e.g. "in the last 20 seconds"
    starts_after: bool = False  # only events that start inside the range ("after 0:30")
    anchor: str = ""  # "doorbell" in "right after the doorbell"
    anchor_side: str = ""  # after | before | between
    intent: str = "summary"
    lanes: list[str] = field(default_factory=list)  # event kinds the question is about: object, sound, speech, text, alert
    scope: str = "none"  # none | absolute | relative | anchored | ordinal
    point: float | None = None  # "at 1:12:30": the moment asked about
    ordinal: int | None = None  # 2 for "the second person", -1 for "the last"/"the final"
    anchor_end: str = ""  # "the end" in "between the siren and the end"
    colours: list[str] = field(default_factory=list)  # colour words qualifying the objects ("the white van")
    compare: list[list[str]] = field(default_factory=list)  # label groups compared ("cars or people")
    graph_sound_labels: list[str] = field(default_factory=list)  # the graph's sound labels that answer sound_labels
    followup: str = ""  # how an earlier turn was used, when it was
    exclude: list[str] = field(default_factory=list)  # event ids already shown ("the other one")
    unknown: list[str] = field(default_factory=list)  # nouns that name nothing known ("aeroplane" in a graph without one)
    confidence: float = 0.0  # how sure the intent reading is (exemplar similarity, or 1.0 for an exact cue)
    speaker: str = ""  # "speaker 2" in "what did the second speaker say?"; "*" for "how many people talk?"
    speaker_name: str = ""  # "paul" in "how many times does Paul speak?": the voice that gives itself that name (resolved on the graph)
    heading: str = ""  # "left" in "the guy walking right to left": the way a thing asked about moves (appearance_direction)
    questions: bool = False  # "what was the first question a student asked?": only the lines that ask something
    gap: bool = False  # "how long after the bang did he shout?": the time from the anchor to what is asked, not a length
    without: str = ""  # "the phone" in "apart from the phone, what sounds were there?": what the question leaves out
    without_objects: list[str] = field(default_factory=list)  # the object labels it names
    without_sounds: list[str] = field(default_factory=list)  # the sound names it names
    medium: str = ""  # "picture": "is this only audio?", "is there any video in this file?" (the file, not what is in it)
    who: bool = False  # "who said thanks?", "who picked up the phone?": who speaks is what is asked
    voice_asked: bool = False  # "was it a man or a woman who apologised?": the voice's register is what is asked
    voice: str = ""  # "low" | "high": "what did the woman say?" names the speaker by her voice
    sex_claim: str = ""  # "high" in "was it a woman giving the updates?": a speaker's sex put as yes or no (told by pitch)
    carried: str = ""  # "spare tyre" in "did the visitor bring a spare tyre?": a thing asked to be brought, carried or held
    quoted: list[str] = field(default_factory=list)  # "there isn't that much difference" in "did one of them say 'there isn't ...'?"
    within_s: float | None = None  # 60 in "did the alarm go off within a minute of the bang?": how far from the anchor

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "QueryPlan":
        names = set(cls.__dataclass_fields__)
        d = {k: v for k, v in d.items() if k in names}
        if d.get("time_range") is not None:
            d["time_range"] = tuple(d["time_range"])
        return cls(**d)


@dataclass
class Vocabulary:
    """What one video's graph holds, per lane (from ``SELECT DISTINCT kind, label``)."""

    objects: set[str] = field(default_factory=set)
    sounds: set[str] = field(default_factory=set)
    texts: set[str] = field(default_factory=set)
    has_speech: bool = False
    spoken: set[str] = field(default_factory=set)  # the words said in it (lower case)

    @property
    def empty(self) -> bool:
        return not (self.objects or self.sounds or self.texts or self.has_speech)


# ---------------------------------------------------------------------------------------------
# numbers and times


NUMBER_NAMES = {n: w for w, n in reversed(list(NUMBER_WORDS.items()))}


def _num_word(text: str) -> float | None:
    text = text.strip().replace("-", " ")
    if re.fullmatch(r"\d+(?:\.\d+)?", text):
        return float(text)
    if text in NUMBER_WORDS:
        return float(NUMBER_WORDS[text])
    parts = text.split()
    if len(parts) == 2 and parts[0] in NUMBER_WORDS and parts[1] in NUMBER_WORDS and NUMBER_WORDS[parts[0]] >= 20 and NUMBER_WORDS[parts[1]] < 10:
        return float(NUMBER_WORDS[parts[0]] + NUMBER_WORDS[parts[1]])
    return None


_NUMW = "|".join(sorted((re.escape(w) for w in NUMBER_WORDS), key=len, reverse=True))
_AMOUNT_WORDS_RE = re.compile(
    rf"\b((?:{_NUMW})(?:[ -](?:one|two|three|four|five|six|seven|eight|nine))?|\d+(?:\.\d+)?) "
    rf"(hours?|minutes?|seconds?|mins?|secs?|hrs?)( and a half)?\b"
)


# what people type for speed: read as the words they stand for
ABBREVIATIONS = {
    "mtg": "meeting",
    "mtgs": "meetings",
    "pls": "please",
    "plz": "please",
    "thru": "through",
    "ne1": "anyone",
    "any1": "anyone",
    "some1": "someone",
    "b4": "before",
    "n": "and",
    "thurs": "thursday",
    "thur": "thursday",
    "tues": "tuesday",
    "weds": "wednesday",
    "abt": "about",
    "msg": "message",
    "u": "you",
    "r": "are",
    "ur": "your",
    "w/": "with",
    "w/o": "without",
    "wot": "what",
    "wat": "what",
    "wut": "what",
    "wen": "when",
    "hw": "how",
    "tho": "though",
    "bc": "because",
    "cuz": "because",
    "smth": "something",
    "sth": "something",
    "govt": "government",
}
_ABBREVIATION_RE = re.compile(r"(?<![\w/'])(" + "|".join(re.escape(k) for k in sorted(ABBREVIATIONS, key=len, reverse=True)) + r")(?![\w/'])")


def expand_abbreviations(q: str) -> str:
    """ "budget mtg time??" → "budget meeting time??" (a lower-case question).

    >>> expand_abbreviations("did ne1 say smth abt the mtg b4 lunch")
    'did anyone say something about the meeting before lunch'
    >>> expand_abbreviations("alarm start n stop times? it isn't")
    "alarm start and stop times? it isn't"
    """
    q = re.sub(r"\b1st (?=\d+ ?(?:s|sec|secs|seconds|min|mins|minutes)\b)", "first ", q)  # "in the 1st 20 sec"
    return _ABBREVIATION_RE.sub(lambda m: ABBREVIATIONS[m.group(1)], q)


# Courtesy and request frames carry no part of what is asked: "would you be so kind as to tell me", "I'm terribly sorry
# to bother you, but", "if it is not too much trouble". Removed before a question is read, so their words never become
# keywords ("kindly", "trouble", "might") and "could you tell me whether ..." is read as the yes/no question it wraps.
COURTESY_RXS = tuple(
    re.compile(rx, re.I)
    for rx in (
        r"^(?:(?:good (?:morning|afternoon|evening|day)|hi|hello|hey|dear \w+|excuse me|pardon me|sorry|please|ok(?:ay)?|so|um+|quick question)\b[,.!:;-]*\s*)+",
        r"\b(?:i am|i'm) (?:terribly |so |very |really )?sorry to (?:bother|trouble|disturb) you\b,?(?: but\b)?",
        r"\bsorry to (?:bother|trouble|disturb) you\b,?(?: but\b)?",
        r"\bi hope (?:it is|it's|this is) not too much (?:trouble|bother)\b,?(?: but\b)?",
        r"\bif (?:it is|it's|that is|that's) not too much (?:trouble|bother)\b,?",
        r"\bif you (?:would|could) be so (?:good|kind)\b,?",
        r"\bif (?:i|we) may (?:ask|say)\b,?",
        r"\bif you don't mind(?: me asking)?\b,?",
        r"\b(?:might|may|could|can) (?:i|we) (?:ask|trouble you|bother you)\b(?: (?:to|you))?,?",
        r"\b(?:i|we) (?:wonder|was wondering|were wondering|would like to know|'d like to know|want to know|need to know whether|need to know if)"
        r"(?: (?:if|whether) you (?:might|could|would|can)(?: (?:be so kind as to|kindly|please))?(?: (?:tell|let) (?:me|us)(?: know)?)?)?\b",
        r"\b(?:would|could|can|will) you (?:please |kindly )?(?:be (?:so kind|kind enough|good enough) (?:as )?to |kindly |please )?"
        r"(?:tell|let|show|give) (?:me|us)(?: know)?\b",
        r"\bwould you mind (?:telling|letting|showing) (?:me|us)(?: know)?\b",
        r"\b(?:would|could|will) you be able to (?:tell|let|show|give) (?:me|us)(?: know)?\b",
        r"\b(?:please|kindly) (?:tell|let|show) (?:me|us)(?: know)?\b",
        r"^(?:tell|let) (?:me|us)(?: know)?\b(?= (?:what|when|where|who|whom|whose|which|how|why|whether|if|about)\b)",
        r"(?<!say )(?<!said )(?<!says )(?<!saying )(?<!say a )(?<!said a )(?<!gave )(?<!give )(?<!says a )(?<!a )(?<!no )"
        r"\b(?:please|kindly|thank you|thanks)\b[,.!]*",  # a "thank you" said is no courtesy of the question
        r",? if (?:that|it|this) was (?:mentioned|said|shown) at all\b",
    )
)
# what the whole clip does at its edges is a time, not an event to anchor on: "before the clip ends", "when the video begins"
_EDGE_WORDS = r"(?:the )?(?:clip|video|footage|recording|tape|film|stream|call)"
VIDEO_EDGE_RXS = (
    (re.compile(rf"\b(?:right |just )?(?:before|when|as|once|until|till) {_EDGE_WORDS} (?:ends|finishes|stops|is over|runs out)\b"), "near the end"),
    (re.compile(rf"\b(?:right |just )?(?:when|as|once|after) {_EDGE_WORDS} (?:begins|starts|opens)\b"), "at the beginning"),
    (re.compile(r"\b(?:during|in|through|throughout|over) the (?:whole |entire )?(?:night|day|shift|evening|morning)\b|\bovernight\b"), " "),
)


def strip_courtesy(q: str) -> str:
    """A lower-case question without its courtesy and request frames; a wrapped "whether ..." becomes a yes/no question.

    >>> strip_courtesy("good afternoon, i wonder if you might be so kind as to tell me what could be heard at 33 s?")
    'what could be heard at 33 s?'
    >>> strip_courtesy("would you kindly let me know whether the footage has a timestamp?")
    'does the footage has a timestamp?'
    >>> strip_courtesy("i hope it is not too much trouble, but could you let me know how many times he knocked?")
    'how many times he knocked?'
    """
    out = q
    for rx in COURTESY_RXS:
        out = rx.sub(" ", out)
    out = " ".join(out.split()).strip(" ,;:-")
    out = re.sub(r"\s*[,;:]+\s*(?=[?.!]|$)", "", out)  # "what is said, please?" → "what is said?"
    out = re.sub(r"^(?:whether|if) ", "does ", out, flags=re.I)
    return out if len(re.findall(r"[a-z]+", out)) >= 2 else q


def video_edges(q: str) -> str:
    """ "before the clip ends" → "near the end", "when the video begins" → "at the beginning"; "overnight" goes.

    >>> video_edges("what was the last thing said before the clip ends?")
    'what was the last thing said near the end?'
    """
    for rx, repl in VIDEO_EDGE_RXS:
        q = rx.sub(repl, q)
    return " ".join(q.split())


def normalise_numbers(q: str) -> str:
    """Amounts in words become digits, only before a unit (so "the second one" stays an ordinal):
    "twenty seconds" → "20 seconds", "a minute and a half" → "90 seconds", "half a minute" → "30 seconds"."""
    q = re.sub(r"\bhalf(?: an?)? (hour|minute)\b", lambda m: "1800 seconds" if m.group(1) == "hour" else "30 seconds", q)
    q = re.sub(r"\bhalf a second\b", "0.5 seconds", q)

    def repl(m: re.Match) -> str:
        n = _num_word(m.group(1))
        if n is None:
            return m.group(0)
        if m.group(3):
            return f"{int((n + 0.5) * UNIT_S[m.group(2)])} seconds"
        return f"{n:g} {m.group(2)}"

    q = _AMOUNT_WORDS_RE.sub(repl, q)
    q = re.sub(r"\b(\d+(?:\.\d+)?)(h|hrs?|m|mins?|s|secs?)\b", r"\1 \2", q)  # "90s" -> "90 s"
    return q


def parse_point(text: str) -> float | None:
    """Seconds of a clock time ("1:12:30", "12:04") or an amount ("2 hours 5 minutes", "90 seconds")."""
    text = text.strip()
    m = re.fullmatch(r"(\d{1,2}):(\d{2})(?::(\d{2}))?(?:\.(\d+))?", text)
    if m:
        a, b, c = int(m.group(1)), int(m.group(2)), m.group(3)
        return float(a * 3600 + b * 60 + int(c)) if c is not None else float(a * 60 + b)
    total, found = 0.0, False
    for n, unit in re.findall(rf"(\d+(?:\.\d+)?) ?({UNIT_RX})\b", text):
        total += float(n) * UNIT_S[unit]
        found = True
    return total if found else None


def parse_clock(m: re.Match) -> float:
    a, b, c = m.group(1), m.group(2), m.group(3)
    return int(a) * 3600 + int(b) * 60 + int(c) if c is not None else int(a) * 60 + int(b)


def _fmt(t: float) -> str:
    t = int(round(t))
    h, rem = divmod(t, 3600)
    m, s = divmod(rem, 60)
    return f"{h:02d}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"


def _amount_phrase(seconds: float) -> str:
    if seconds >= 3600 and seconds % 3600 == 0:
        n = int(seconds // 3600)
        return "hour" if n == 1 else f"{n} hours"
    if seconds >= 60 and seconds % 60 == 0:
        n = int(seconds // 60)
        return "minute" if n == 1 else f"{n} minutes"
    return f"{seconds:g} seconds"


def parse_time(q: str, duration: float, plan: QueryPlan) -> str:
    """Fill the plan's time scope from exact phrases; returns the question with the time phrase removed."""
    end = max(duration, 0.0)
    span = max(30.0, 0.1 * end)

    def clip(lo: float, hi: float) -> tuple[float, float]:
        lo, hi = max(0.0, min(lo, hi)), max(lo, hi)
        if end and lo >= end:  # past the end of the video: its last moments
            lo = max(0.0, end - (hi - lo if hi > lo else span))
        return (lo, min(end, hi) if end else hi)

    def point_window(t: float, loose: bool) -> tuple[float, float]:
        w = 20.0 if loose else 10.0
        if end:  # "around 0:20" in a 30 s call is a few seconds either side, not the whole call
            w = min(w, max(5.0, end / 6))
        return clip(t - w, t + w)

    rules: list[tuple[str, Callable[[re.Match], tuple[float, float] | None], str, str]] = [
        (rf"\bbetween ({POINT_RX}) and ({POINT_RX})", lambda m: clip(parse_point(m.group(1)), parse_point(m.group(2))), "absolute", "between {0} and {1}"),
        (
            rf"\bfrom ({POINT_RX}) (?:to|until|till|through) ({POINT_RX})",
            lambda m: clip(parse_point(m.group(1)), parse_point(m.group(2))),
            "absolute",
            "between {0} and {1}",
        ),
        (rf"\b(?:after|since|past|later than) ({POINT_RX})(?! in\b)", lambda m: clip(parse_point(m.group(1)), end), "absolute", "after {0}"),
        (rf"\b(?:before|until|till|by|up to|earlier than) ({POINT_RX})(?! in\b)", lambda m: clip(0.0, parse_point(m.group(1))), "absolute", "before {0}"),
        (
            rf"\b(?:around|about|near|approximately|roughly|circa|close to) (?:the )?({POINT_RX})(?: mark)?(?: in(?:to)?(?: the video)?)?",
            lambda m: point_window(parse_point(m.group(1)), True),
            "absolute",
            "around {0}",
        ),
        (
            rf"\b(?:at|by|on) (?:the )?({POINT_RX})(?: mark)?(?: in(?:to)?(?: the video)?)?",
            lambda m: point_window(parse_point(m.group(1)), False),
            "absolute",
            "at {0}",
        ),
        (rf"\b({AMOUNT_RX}) in(?:to)?\b(?: the video)?", lambda m: point_window(parse_point(m.group(1)), False), "absolute", "at {0}"),
        (
            rf"\b(?:in |during |within |over )?the (?:first|opening|initial) ({AMOUNT_RX}|(?:{UNIT_RX}))\b",
            lambda m: clip(0.0, parse_point(m.group(1)) or UNIT_S.get(m.group(1), 60)),
            "relative",
            "in the first {amount}",
        ),
        (
            rf"\b(?:in |during |within |over )?the (?:last|final|closing|ending|remaining) ({AMOUNT_RX}|(?:{UNIT_RX}))\b",
            lambda m: clip(end - (parse_point(m.group(1)) or UNIT_S.get(m.group(1), 60)), end),
            "relative",
            "in the last {amount}",
        ),
        (rf"\b(?:first|opening) ({AMOUNT_RX})\b", lambda m: clip(0.0, parse_point(m.group(1))), "relative", "in the first {amount}"),
        (rf"\b(?:last|final) ({AMOUNT_RX})\b", lambda m: clip(end - parse_point(m.group(1)), end), "relative", "in the last {amount}"),
        (  # "between minute 31 and minute 60": from the 31 minute mark to the 60; "from the 10th to the 20th minute": both whole
            r"\b(?:between|from) (?:the )?(?:minute (\d+)|(\d+)(?:st|nd|rd|th)(?: minute)?) (?:and|to|until|till|through) "
            r"(?:the )?(?:minute (\d+)|(\d+)(?:st|nd|rd|th) minute)\b",
            lambda m: clip(int(m.group(1)) * 60.0 if m.group(1) else (int(m.group(2)) - 1) * 60.0, int(m.group(3) or m.group(4)) * 60.0),
            "absolute",
            "between {lo} and {hi}",
        ),
        (
            r"\b(?:in |during )?the (\d+)(?:st|nd|rd|th) minute\b",
            lambda m: clip((int(m.group(1)) - 1) * 60.0, int(m.group(1)) * 60.0),
            "absolute",
            "in minute {n}",
        ),
        (r"\bminute (\d+)\b", lambda m: clip((int(m.group(1)) - 1) * 60.0, int(m.group(1)) * 60.0), "absolute", "in minute {n}"),
        (r"\b(?:in |during )?the first half\b", lambda m: clip(0.0, end / 2), "relative", "in the first half"),
        (r"\b(?:in |during )?the (?:second|latter|last) half\b", lambda m: clip(end / 2, end), "relative", "in the second half"),
        (r"\b(?:in |during )?the (?:first|opening) (?:few )?(?:moments|bit|part)\b", lambda m: clip(0.0, min(end, span)), "relative", "at the beginning"),
        (r"\b(?:in |during )?the (?:last|final|closing) (?:few )?(?:moments|bit|part)\b", lambda m: clip(end - span, end), "relative", "near the end"),
        (
            r"\b(?:near|at|towards?|by|before|close to|around) the (?:very )?end\b|\bending\b|\bat the (?:very )?end\b|\bin the end\b|\blate in the\b|\bfinal moments\b",
            lambda m: clip(end - span, end),
            "relative",
            "near the end",
        ),
        (
            r"\b(?:at|in|near|around|towards?) the (?:very )?(?:beginning|start|outset)\b|\bat first\b|\bearly on\b|\bopening\b|\bearly in the\b",
            lambda m: clip(0.0, min(end, span)),
            "relative",
            "at the beginning",
        ),
        (r"\b(?:in|around|during) the middle\b|\bhalfway\b|\bmidway\b", lambda m: clip(0.4 * end, 0.6 * end), "relative", "in the middle"),
        (rf"({CLOCK_RX})", lambda m: point_window(parse_point(m.group(1)), False), "absolute", "at {0}"),
    ]
    for rx, fn, scope, label in rules:
        m = re.search(rx, q)
        if not m:
            continue
        try:
            rng = fn(m)
        except (TypeError, ValueError):
            continue
        if rng is None:
            continue
        plan.time_range, plan.scope = rng, scope
        groups = [g for g in m.groups() if g]
        points = [parse_point(g) for g in groups]
        shown = [_fmt(p) for p in points if p is not None]
        amount = _amount_phrase(parse_point(groups[0]) or UNIT_S.get(groups[0], 60)) if groups else ""
        plan.time_phrase = label.format(
            *[f"[{s}]" for s in shown], amount=amount, n=groups[0] if groups else "", lo=f"[{_fmt(rng[0])}]", hi=f"[{_fmt(rng[1])}]"
        )
        plan.starts_after = label.startswith("after")
        if label.startswith(("at ", "around ")) and points and points[0] is not None:
            plan.point = float(points[0])
        return q[: m.start()] + " " + q[m.end() :]
    return q


# ---------------------------------------------------------------------------------------------
# the embedder, cached


class _EmbedCache:
    """Vectors of fixed texts (exemplars, a graph's labels), per embedder, computed once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._vectors: dict[tuple[int, str], np.ndarray] = {}

    def get(self, embed: Callable, texts: list[str]) -> np.ndarray:
        key = id(getattr(embed, "__self__", embed)), getattr(embed, "__name__", "")
        missing = [t for t in texts if (key, t) not in self._vectors]
        if missing:
            vecs = _normalise(np.asarray(embed(missing), np.float32))
            with self._lock:
                for t, v in zip(missing, vecs):
                    self._vectors[(key, t)] = v
                if len(self._vectors) > 50_000:
                    self._vectors.clear()
        return np.stack([self._vectors[(key, t)] for t in texts]) if texts else np.zeros((0, 1), np.float32)


def _normalise(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-9)


EMBED_CACHE = _EmbedCache()
_EXEMPLAR_TEXTS = [(intent, text) for intent, texts in EXEMPLARS.items() for text in texts]


def _intent_scores(qv: np.ndarray, embed: Callable) -> dict[str, float]:
    ex = EMBED_CACHE.get(embed, [t for _, t in _EXEMPLAR_TEXTS])
    sims = ex @ qv
    out: dict[str, float] = {}
    for (intent, _), s in zip(_EXEMPLAR_TEXTS, sims):
        out[intent] = max(out.get(intent, -1.0), float(s))
    return out


# ---------------------------------------------------------------------------------------------
# intent from exact cues


# what someone wears is asked as their colours (the graph knows a person's colours, not garments)
WEARING_RX = re.compile(
    r"\bwhat (?:is|was|are|were|'s|did|does)? ?(?:\w+ ){0,3}(?:wearing|wear|dressed in|dressed|got on|have on|has on)\b|\bwhat (?:\w+ ){0,2}(?:clothes|outfit)\b"
)


def _cue_intents(q: str) -> list[tuple[str, float]]:
    """Intents the question's own words state exactly, strongest first."""
    out: list[tuple[str, float]] = []
    seconds = re.search(r"\bhow many (?:seconds|minutes|hours|secs|mins)\b", q)
    if (
        re.search(r"\bhow many\b|\bhow often\b|\bnumber of\b|\bcount\b|\bhow much (?!time)|\btally\b|\bhow many times\b", q)
        or re.search(r"\b(?:more|less|fewer) than (?:once|twice|one|two|three|\d+)(?: times?)?\b|\b(?:once|twice|again|repeatedly)\??$", q)
    ) and not seconds:
        out.append(("count", 1.0))
    if re.search(r"\bhow long\b|\bduration\b|\bfor how much time\b|\bhow much time\b|\blast(?:s|ed)? for\b", q) or seconds:
        out.append(("duration", 1.0))
    if re.search(r"\bcolou?rs?\b|\bshade\b|\bwhat hue\b", q) or WEARING_RX.search(q):
        out.append(("colour", 1.0))
    if re.search(
        r"\b(?:more|fewer|less|longer|shorter|earlier|later)\b(?! than (?:once|twice|one|two|three|\d+)\b).*\b(?:or|than)\b|\bwhich (?:comes?|came|happens?|happened|appears?|appeared|is heard|was heard)"
        r" (?:first|last|earlier|later)\b|\bwhat (?:comes?|came|happens?|happened) (?:first|earlier)\b.*\bor\b|\bcompare\b|\bversus\b|\bvs\.?\b|\bbefore or after\b|\bor\b.+\b(?:first|earlier|sooner)\?*$|"
        r"\bwhich (?:one |of (?:them|the two) )?(?:is |was )?(?:first|earlier|longer|louder|more)\b",
        q,
    ):
        out.append(("compare", 1.0))
    if (
        TEXT_CUES.search(q)
        and re.search(r"\b(say|says|said|read|reads|written|write|text|what's on|what is on|show|shows|display|displayed|caption|sign|plate)\b", q)
        and not re.search(r"\b(?:he|she|they|someone|somebody|speaker|narrator|man|woman|person|anyone|guy)\b.*\b(say|says|said)\b", q)
    ):
        out.append(("text", 0.95))
    conj_when = re.match(r"^(?:what|who|which|how|is|are|was|were|did|does|do|can|could|tell|show|describe)\b", q) and re.search(
        r"\b(?:right |just |exactly )?(?:when|while|as soon as|as) (?:the|a|an|someone|somebody|he|she|they)\b", q
    )
    if not conj_when and re.search(
        r"^where\b|\bwhere (?:does|do|did|is|was) (?:that|it|this) (?:appear|show|happen)|\bwhen\b|\bwhat time\b|\bat what (?:point|moment|time)\b|\bat which (?:point|moment|time)\b|\btimestamps?\b|\bwhat minute\b|\bhow soon\b|\bhow far in\b",
        q,
    ):
        out.append(("when", 0.9))
    if re.search(
        r"\bsum+[ae]r(?:y|i[sz]e|i[sz]ed|i[sz]ing)\b|\boverview\b|\bdescribe\b|\bwhat(?:'s| is| was)? (?:going on|happening)\b|\bwhat happens?\b|\bwhat happened\b|\bwhat occurs\b|"
        r"\bwhat is (?:this|the) (?:video|clip)\b|\bwhat(?:'s| is) in (?:the|this) (?:video|clip)\b|\brecap\b|\bgist\b|\bplay-by-play\b|\brun-?down\b|"
        r"\bwalk me through\b|\bgoes on\b|\bwent on\b|\bgoing on\b|\bwhat(?:'s| is) up\b|\bwhat do (?:i|we) see\b|\banything (?:important|interesting|notable|unusual)\b",
        q,
    ) or SUMMARY_REQUEST_RX.search(q):
        out.append(("summary", 0.95 if SUMMARY_REQUEST_RX.search(q) else 0.8))
    if SAID_CUES.search(q) and not (out and out[0][0] == "text"):
        out.append(("said", 0.75))
    if HEAR_CUES.search(q):
        out.append(("heard", 0.7))
    if re.search(r"^(?:is|are|was|were|did|does|do|can|could|has|have|had|will|would)\b|\bany\b.*\?$|\bwhether\b", q):
        out.append(("yesno", 0.65))
    if SEE_CUES.search(q) or re.search(r"\bwho\b", q):
        out.append(("seen", 0.6))
    return out


def _pick_intent(q: str, qv: np.ndarray | None, embed: Callable | None) -> tuple[str, list[str], float]:
    cues = _cue_intents(q)
    scores: dict[str, float] = {}
    if qv is not None and embed is not None:
        try:
            scores = _intent_scores(qv, embed)
        except Exception:  # noqa: BLE001 - an embedder that fails leaves the cues to decide
            scores = {}
    combined = dict(scores)
    for intent, weight in cues:
        combined[intent] = combined.get(intent, 0.0) + weight
    # question forms outrank content lanes: "when does he say X" is a when-question about speech
    lane_only = {"said", "heard", "seen"}
    if not combined:
        return "summary", [], 0.0
    ranked = sorted(combined.items(), key=lambda kv: -kv[1])
    cue_names = [c for c, _ in cues]
    strong = [c for c, w in cues if w >= 0.9]
    if strong:
        intent = strong[0]
    elif "yesno" in cue_names and any(c in lane_only for c in cue_names) and re.match(r"^(?:is|are|was|were|did|does|do|can|could|has|have)\b", q):
        intent = "yesno"
    elif cues:
        intent = cues[0][0] if not scores else max(cue_names, key=lambda c: combined[c])
        if intent == "summary" and any(c in lane_only for c in cue_names) and re.search(r"\bwhat (?:is|was|were) (?:said|heard)\b", q):
            intent = next(c for c in cue_names if c in lane_only)
    else:
        intent = ranked[0][0]
    confidence = 1.0 if cues else float(scores.get(intent, 0.0))
    secondary = [c for c in cue_names if c != intent] + [k for k, v in ranked if k != intent and k not in cue_names and v > 0.55][:2]
    return intent, secondary, confidence


# ---------------------------------------------------------------------------------------------
# entities


GENERIC_SOUND_WORDS = {"noise", "noises", "sound", "sounds", "audio", "noisy", "noisier", "loud", "louder", "racket", "din", "commotion"}


def sound_labels_for(word: str) -> list[str]:
    """Vocabulary names a word asks for: those that list it as a question word, then those that accept it as a name."""
    w = word.strip().lower()
    if w in GENERIC_SOUND_WORDS:
        return []  # "what noises are there?" asks for any sound
    out = [s.label for s in sv.VOCABULARY if w in s.words]
    out += [s.label for s in sv.VOCABULARY if w in s.accepts and s.label not in out and w not in ("bell", "ring", "phone ringing", "tone")]
    if w in sv.BY_LABEL and w not in out:
        out.insert(0, w)
    return out


def graph_sound_labels(asked: list[str], graph_sounds: set[str]) -> list[str]:
    """The graph's sound labels that answer the asked names (new names, their accepted names, legacy labels)."""
    out = []
    for g in sorted(graph_sounds):
        names = {g, *sv.accepted_names(g), *LEGACY_SOUNDS.get(g, set())}
        if g in asked or names & set(asked):
            out.append(g)
    return out


def singular(w: str) -> str:
    if w.endswith("ies") and len(w) > 4:
        return w[:-3] + "y"
    if w.endswith("es") and w[:-2].endswith(("s", "sh", "ch", "x")):
        return w[:-2]
    if w.endswith("s") and not w.endswith("ss") and len(w) > 3:
        return w[:-1]
    return w


def _entities(q: str, words: list[str], vocab: Vocabulary | None, hear: bool, see: bool) -> tuple[list[str], list[str], set[str]]:
    """Object labels and sound names the words ask for; and the words they used up."""
    objects: list[str] = []
    sounds: list[str] = []
    used: set[str] = set()
    late: list[str] = []  # "goes off" names an alarm only when nothing else is named ("when does the phone go off?")
    for phrase in SOUND_PHRASES:
        if re.search(rf"\b{phrase}\b", q):
            (late if "off" in phrase else sounds).extend(x for x in sound_labels_for(phrase) if x not in sounds)
            used.update(phrase.split())
    i = 0
    while i < len(words):
        w = words[i]
        pair = f"{w} {words[i + 1]}" if i + 1 < len(words) else ""
        obj = OBJECT_SYNONYMS.get(pair) or OBJECT_SYNONYMS.get(w) or []
        snd = (sound_labels_for(pair) if pair and pair not in SOUND_PHRASES else []) or sound_labels_for(w)
        if pair in SOUND_PHRASES:
            i += 2
            continue
        if pair and (pair in OBJECT_SYNONYMS or sound_labels_for(pair)):
            used.update(pair.split())
            i += 1
        elif obj or snd:
            used.add(w)
        if obj and snd:
            # one word, two lanes: the question's verbs decide, then what the graph has
            in_graph_obj = vocab is not None and any(o in vocab.objects for o in obj)
            in_graph_snd = vocab is not None and bool(graph_sound_labels(snd, vocab.sounds))
            if hear and not see:
                obj = []
            elif see and not hear:
                snd = []
            elif vocab is not None and in_graph_snd != in_graph_obj:
                obj, snd = (obj, []) if in_graph_obj else ([], snd)
            elif hear and see:
                snd = snd if w in ("phone", "phones", "bell", "bells", "alarm", "alarms") else []
            else:
                snd = []  # neither lane named: a noun is a thing seen
        objects += [x for x in obj if x not in objects]
        sounds += [x for x in snd if x not in sounds]
        i += 1
    if not sounds and not objects:
        sounds = list(dict.fromkeys(late))
    return objects, sounds, used


def _match_vocabulary(
    words: list[str], vocab: Vocabulary, embed: Callable, word_vecs: np.ndarray, threshold: float = 0.6
) -> tuple[list[str], list[str], set[str]]:
    """Words that no table knows, matched by meaning against the graph's own labels."""
    labels = sorted(vocab.objects | vocab.sounds)  # on-screen texts match by their letters, not by meaning
    if not labels or not len(words):
        return [], [], set()
    lv = EMBED_CACHE.get(embed, labels)
    sims = word_vecs @ lv.T
    objects, sounds, used = [], [], set()
    for i, w in enumerate(words):
        j = int(np.argmax(sims[i]))
        if sims[i, j] >= threshold:
            label = labels[j]
            used.add(w)
            if label in vocab.objects and label not in objects:
                objects.append(label)
            elif label in vocab.sounds and label not in sounds:
                sounds.append(label)
    return objects, sounds, used


ANCHOR_RX = re.compile(
    r"\b(?:right |just |immediately |shortly |soon |directly |straight )?(after|before|following|since|until|till|once|prior to|preceding)"
    r" (?:the |a |an |that |this |his |her |their |its |someone |somebody )?(.+?)(?=\?|$|,|\.|;| and | but | did | does | do | was | were | is | are |"
    r" what\b| who\b| how\b| when\b| which\b| has\b| have\b| had\b)"
)
WHEN_ANCHOR_RX = re.compile(
    r"\b(?:right |just |exactly )?(when|while|as soon as|during|the moment|at the same time as) (?:the |a |an |that |his |her |their |its )?(.+?)"
    r"(?=\?|$|,|\.|;| and | but | what\b| who\b| how\b)"
)
# "within about a minute of the bang", "within 10 seconds after the knock": how near to an anchor
WITHIN_RX = re.compile(
    r"\bwithin (?:about |around |roughly |approximately |some |just |only )?(a|an|\d+(?:\.\d+)?|[a-z]+(?:[ -][a-z]+)?) "
    r"(seconds?|secs?|s|minutes?|mins?) (of|after|before|from) (?:the |a |an |that |this |his |her |their )?(.+?)(?=\?|$|,|\.|;| and | but | did | does | was | is )"
)
FROM_TO_RX = re.compile(
    r"\bfrom (?:the |a |an )?(.+?) (?:to|until|till) (?:the |a |an |when )?(.+?)(?=\?|$|,|\.| did | does | do | was | were | is | are | what\b)"
)
BETWEEN_RX = re.compile(r"\bbetween (?:the |a |an )?(.+?) and (?:the |a |an )?(.+?)(?=\?|$|,|\.| did | does | do | was | were | is | are | what\b)")
ORDINAL_RX = re.compile(
    r"(?:^|\b(?:the|his|her|their|its|that|[a-z]+'s) )(?:very )?(first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|last|final|1st|2nd|3rd|4th|5th|6th|7th|8th|9th|10th)\b"
    r"(?: (?:ever |one |few ))?(?: ?(\w[\w\-]*))?"
)
# "who answered the courier?", "who replied to Diane?": a reply to someone's line ("answered the phone/door" picks up)
REPLY_RX = re.compile(
    r"\b(?:answered|answers|repl(?:ied|ies)(?: to)?|respond(?:ed|s)(?: to)?|got back to|came back to)"
    r"(?:\s+(?!(?:the |a |her |his |their )?(?:phone|door|call|telephone|intercom|doorbell|bell)\b)(?:the |a |an |his |her |their )?(.+?))?(?=\?|$|,|\.| and | with\b| by\b)"
)
PRONOUNS = {"anyone", "anybody", "someone", "somebody", "everyone", "everybody", "nobody"}
INDEFINITE_PERSONS = frozenset(PRONOUNS)
SPEAKER_WORDS = {
    "anyone",
    "anybody",
    "someone",
    "somebody",
    "everyone",
    "everybody",
    "nobody",
    "people",
    "person",
    "man",
    "woman",
    "guy",
    "lady",
    "he",
    "she",
    "they",
}
SPEAKER_SUBJECT_RX = re.compile(
    r"\b(?:the|a|an|that|this|our|my) ([a-z]+) (?:\w+ )?(?:say|says|said|ask|asks|asked|tell|tells|told|mention|mentions|mentioned|announce\w*|"
    r"shout\w*|reply|replies|replied|answer|answers|answered|want|wants|wanted|need|needs|needed|talk\w*)\b"
)
# "the final exam", "his last name", "the first floor": a kind of thing, not the nth of them
NOT_ORDINAL_NOUNS = frozenset("exam exams examination score scores result results name names aid floor week month year years grade draft version".split())
FOLLOWUP_WORDS = {"that", "this", "it", "then", "them", "him", "her", "those", "these"}
# "table" is COCO's dining table only in a question about furniture (else it is the events table, a table of data)
FURNITURE_RX = re.compile(
    r"\b(?:dining|kitchen|furniture|chairs?|desks?|sit|sits|sitting|sat|seated|eat|eats|eating|dinner|lunch|breakfast|"
    r"meal|plates?|wooden|how many tables|(?:on|at|under|around|beside|near|by|onto|off) (?:the|a|that|this) tables?|(?:a|any) tables?)\b"
)


# a question asking two things at once: "when does the phone ring, and who answers it?"; each part starts with a
# question word or an auxiliary ("and did she reply?"), and the first is a question itself (not "the man who came in and ...")
_ASKING = r"(?:when|what|what's|whats|who|who's|whom|whose|where|which|why|how|did|does|do|is|was|were|are|can|could|has|have|had|will|would)"
_ASKING_START_RX = re.compile(rf"^(?:(?:and|so|ok|okay|also|then|but|please|pls|plz|hey|hi|hello|sorry)\b[, ]*)*(?:{_ASKING}|tell me|show me|list|give me)\b")
_WH = r"(?:when|what|what's|whats|who|who's|whom|whose|where|which|why|how)"
_AUX = r"(?:did|does|do|is|was|were|are|can|could|has|have|had|will|would)"
_SUBJECT = r"(?:the|a|an|any|anyone|anybody|someone|somebody|anything|something|there|it|he|she|they|we|you|i|this|that|these|those|his|her|their|my|our|people|[a-z]+'s)"
# a second part: a question word, or an auxiliary then its subject ("and did she ...": not "and was wearing a hat")
_PART_SPLIT_RX = re.compile(rf"(?:,? and (?:also |then )?|, then |; |\? +)(?={_WH}\b|{_AUX} {_SUBJECT}\b)")
# "and how many times?", "and who?", "and what to?": the second part names no thing of its own; it asks about the first's
_ELLIPTIC_RX = re.compile(
    rf"^({_ASKING}(?: (?:many|much|long|often|loud|far|colou?r|kind|sort|type|times|of them|one|ones|exactly|way|direction))*)(?: (to|from|for|with|about|at))?\s*\??$"
)
_WH_START_RX = re.compile(rf"^(?:{_ASKING})\b\s*")


def question_parts(question: str, max_parts: int = 3) -> list[str]:
    """The questions one question asks, in order (one part when it asks one thing).

    >>> question_parts("when does the phone ring, and who answers it?")
    ['when does the phone ring', 'who answers it?']
    >>> question_parts("when did the horn go, and how many times?")
    ['when did the horn go', 'how many times did the horn go?']
    >>> question_parts("when does the sign change, and what to?")
    ['when does the sign change', 'what does the sign change to?']
    >>> question_parts("how long between the siren and when the man speaks?")
    ['how long between the siren and when the man speaks?']
    >>> question_parts("who walked past in the second half and which way")
    ['who walked past in the second half', 'which way did they go?']
    >>> question_parts("what did he say, and when?")
    ['what did he say, and when?']
    >>> question_parts("whats the name of the lady n when will she ring back")
    ['whats the name of the lady', 'when will she ring back']
    >>> question_parts("did the man who came in and was wearing a hat leave?")
    ['did the man who came in and was wearing a hat leave?']
    """
    text = " ".join(question.split())
    text = re.sub(r"(?<=\w) n (?=(?:when|what|who|where|how|which|why|did|does|do|is|was)\b)", " and ", text)  # "... n when will she ring back"
    low = text.lower()
    if not _ASKING_START_RX.search(strip_courtesy(low)) and not re.search(rf"\b(?:tell|show|let) (?:me|us)\b.*\b{_ASKING}\b", low):
        return [text]
    parts: list[str] = []
    start = 0
    for m in _PART_SPLIT_RX.finditer(low):
        left = low[start : m.start()]
        if re.search(r"\bbetween\b(?!.*\band\b)", left) or len(left.split()) < 2:
            continue  # "between the siren and when ...": one moment to another, not two questions
        parts.append(text[start : m.start()].rstrip(" ,;"))
        start = m.end()
        if len(parts) == max_parts - 1:
            break
    if not parts:
        return [text]
    parts.append(text[start:])
    out = [parts[0]]
    for part in parts[1:]:
        m = _ELLIPTIC_RX.match(part.lower())
        if m and m.group(1) in ("when", "what time", "how"):
            continue  # "what did he say and when?": every answer cites its times
        if m and re.search(r"\b(?:way|direction)$", m.group(1)):  # "who walked past, and which way?": where they went
            out.append(f"{m.group(1)} did they go?")
            continue
        if m:  # "and how many times?": asked of the first part's clause ("did the horn go")
            clause = _WH_START_RX.sub("", out[0].rstrip("?"), count=1) if _WH_START_RX.match(out[0].lower()) else out[0].rstrip("?")
            part = f"{m.group(1)} {clause}{' ' + m.group(2) if m.group(2) else ''}?"
        out.append(part)
    return out if len(out) > 1 else [text]


LEAD_CLAUSE_RX = re.compile(
    r"^((?:right |just )?(?:when|while|as soon as|during|the moment|within|between) [^,?]+?),\s*((?:what|who|which|how|is|are|was|were|did|does|do|can|could|tell|show|describe)\b.*)$"
)


TAG_RX = re.compile(
    r"^(?!(?:what|who|whom|which|when|where|why|how|is|are|was|were|do|does|did|can|could|will|would|has|have|had|should)\b)(.{6,}?)[\s,.;-]*\b"
    r"(right|yeah|yes|correct|true|innit|isn'?t it|wasn'?t it|aren'?t they|weren'?t they|didn'?t (?:he|she|they|it)|did (?:he|she|they) say|"
    r"is that (?:right|correct|so|true)|am i right|yeah\?? right)\s*\?*\s*$"
)


SAID_STATEMENT_RX = re.compile(
    r"^(?!(?:what|who|whom|which|when|where|why|how|is|are|was|were|do|does|did|can|could|will|would|has|have|had|should|any|anything)\b)"
    r"(?:the )?[a-z']+(?: [a-z']+)? (?:said|says|told|announced|mentioned)\b"
)


def tag_question(q: str) -> str:
    """A statement with a tag is a yes/no question ("the exam is on the 9th of july, right?").

    >>> tag_question("exam is 9th july yeah?"), tag_question("box fell off the shelf, did he say?")
    ('is it true that exam is 9th july?', 'did someone say box fell off the shelf?')
    >>> tag_question("maria said she'd call back after dinner?")
    "is it true that maria said she'd call back after dinner?"
    >>> tag_question("what did he say, right?")
    'what did he say, right?'
    """
    m = TAG_RX.match(q)
    if (
        not m
        and q.endswith("?")
        and len(q.split()) > 3
        and SAID_STATEMENT_RX.match(q)
        and not re.search(r"\b(?:what|who|whom|which|when|where|why|how)\b|,", q)
    ):
        return f"is it true that {q.rstrip(' ?')}?"  # "Maria said she'd call back after dinner?"
    if not m or re.search(r"\b(?:what|who|whom|which|when|where|why|how)\b", m.group(1)):
        return q  # "just before the van left, who spoke and what did he say": a question, not a statement with a tag
    statement = m.group(1).rstrip(" ,.;-")
    return f"did someone say {statement}?" if m.group(2).startswith("did") else f"is it true that {statement}?"


def lead_clause_last(q: str) -> str:
    """A time clause put first goes last, where an anchor is read ("while the phone is ringing, can you see anybody?").

    >>> lead_clause_last("while the phone is ringing, can you see anybody in the picture?")
    'can you see anybody in the picture while the phone is ringing?'
    >>> lead_clause_last("when does the phone ring, and who answers?")
    'when does the phone ring, and who answers?'
    """
    m = LEAD_CLAUSE_RX.match(q)
    return f"{m.group(2).rstrip(' ?')} {m.group(1)}?" if m else q


# a quote opens where no letter is before it and closes where none is after it ("the narrator's" is no quote); inside
# single quotes an apostrophe between letters is part of a word ('there isn't that much difference')
QUOTED_RX = re.compile(r"(?<![A-Za-z])\"([^\"]{2,})\"(?![A-Za-z])|(?<![A-Za-z])'((?:[^'\"]|(?<=[A-Za-z])'(?=[A-Za-z])){2,}?)'(?![A-Za-z])")


def quoted_phrases(question: str) -> list[str]:
    """The phrases a question quotes, lower case.

    >>> quoted_phrases("did one of them say 'there isn't that much difference'? who?")
    ["there isn't that much difference"]
    >>> quoted_phrases("the bit about the beep, or ‘neither did I’?"), quoted_phrases("the narrator's last line")
    (['neither did i'], [])
    >>> quoted_phrases('was "NO JUNK MAIL" on the door and sale in the window?')
    ['no junk mail']
    """
    q = question.replace("’", "'").replace("‘", "'").replace("“", '"').replace("”", '"')
    return [(a or b).strip().lower() for a, b in QUOTED_RX.findall(q) if (a or b).strip()]


def plan_question(question: str, duration_s: float, vocab: Vocabulary | None = None, embed: Callable | None = None) -> QueryPlan:
    """Read a question into a typed plan. ``vocab``: what this video's graph holds; ``embed``: texts → vectors."""
    q = " ".join(question.lower().replace("’", "'").replace("“", '"').replace("”", '"').split())
    q = video_edges(strip_courtesy(normalise_numbers(expand_abbreviations(q))))
    q = tag_question(lead_clause_last(q))
    plan = QueryPlan(strip_courtesy(" ".join(question.split())), [], [], [], [])  # the question as asked, less its courtesies
    within = WITHIN_RX.search(q)
    if within:  # "within about a minute of the bang": an anchor and a reach, not a clock time
        q = q[: within.start()] + " " + q[within.end() :]
    rest = parse_time(q, duration_s, plan)
    no_speech = bool(NOT_SPEECH_RX.search(rest))
    rest = NOT_SPEECH_RX.sub(" ", rest)
    plan.gap = bool(GAP_RX.search(rest))
    if MEDIUM_PICTURE_RX.search(q) and not re.search(r"\b(?:of|showing|with) (?:a|an|the|someone|somebody|anyone|people|person)\b", q):
        plan.medium, plan.intent, plan.intents, plan.confidence = "picture", "yesno", ["yesno"], 1.0
        return plan
    if MEDIUM_LENGTH_RX.search(q):
        plan.intent, plan.intents, plan.confidence = "duration", ["duration"], 1.0
        return plan
    m = EXCLUDE_RX.search(rest)
    if m and m.group(1).strip() not in ("that", "this", "it", "them", "those", "these"):
        plan.without = m.group(1).strip()
        plan.without_objects, plan.without_sounds = anchor_labels(plan.without)
        heard = [x for w in re.findall(r"[a-z]+", plan.without) for x in sound_labels_for(w)]  # "the phone" heard is its ringing
        plan.without_sounds += [x for x in heard if x not in plan.without_sounds]
        rest = rest[: m.start()] + " " + rest[m.end() :]

    # anchored relations: "right after the doorbell", "between the siren and the end"
    # "is it true that maria said she'd call back after dinner?": what follows the verb is what was said, not an anchor
    said_content = bool(re.match(r"(?:is it true that|did someone say) ", q)) and bool(re.search(r"\b(?:said|says|say|told|mentioned)\b", q))
    m = None if said_content else BETWEEN_RX.search(rest) or (FROM_TO_RX.search(rest) if plan.gap else None)
    if m and plan.time_range is None:  # "how long from the dog's last bark to the first knock?": between the two
        plan.anchor, plan.anchor_end, plan.anchor_side, plan.scope = m.group(1).strip(), m.group(2).strip(), "between", "anchored"
        rest = rest[: m.start()] + " " + rest[m.end() :]
    asking = re.match(r"^(?:what|who|which|how|is|are|was|were|did|does|do|can|could|tell|show|describe)\b", rest.strip())
    m = WHEN_ANCHOR_RX.search(rest) if asking and not said_content else None
    if (
        m
        and m.group(1) == "when"
        and not rest.strip().startswith(("what", "who", "which", "how"))
        and re.search(r"\b(?:say|says|said|tell|tells|told|mention|mentions|mentioned|know|ask|asks|asked|explain|explains|explained)\s*$", rest[: m.start()])
    ):
        m = None  # "did she say when she would call back?": when is what is said, not an anchor
    if m and m.group(1) == "when" and re.match(r"(?:is|was|are|were|does|did|do|can|could|will|would|has|have|had)\b", m.group(2)):
        m = None  # "what colour is the car and when is it seen?": a second question, not an anchor
    if m and plan.time_range is None and m.group(2).split()[0] not in FOLLOWUP_WORDS:
        # "what does she say when the phone rings?": at the same time as the anchor
        plan.anchor, plan.anchor_side, plan.scope = m.group(2).strip(), "during", "anchored"
        rest = rest[: m.start()] + " " + rest[m.end() :]
    m = ANCHOR_RX.search(rest) if not plan.anchor and not said_content else None
    if m and re.search(r"\b(?:before or after|after or before)\b", rest):
        m = None  # "did the car come before or after the person?" compares, it does not anchor
    if m and plan.time_range is None and not plan.anchor:
        what = m.group(2).strip()
        first = what.split()[0] if what else ""
        if what and first not in FOLLOWUP_WORDS and what not in ("the end", "end", "the start", "start"):
            side = {
                "following": "after",
                "since": "after",
                "once": "after",
                "until": "before",
                "till": "before",
                "prior to": "before",
                "preceding": "before",
            }.get(m.group(1), m.group(1))
            after = rest[m.end() :]
            passive = re.match(r"\s*(?:was|is|were|are|gets?|got|being|been) (said|spoken|mentioned|heard|seen|shown|announced|told)\b", after)
            if passive:  # "after the first thing was said": the saying is the anchor's, not the question's
                what, after = f"{what} {passive.group(1)}", after[passive.end() :]
            done = re.match(
                r"\s*(?:had|has|have|was|is|were|are) (finished|stopped|ended|left|gone|done)\b(?: [a-z]+ing\b(?: (?:across|past|by|out|in|away|around|over|through|off|up|down))?)?",
                after,
            )
            if done:  # "once the lecturer had finished walking across": the anchor's end
                what, after = f"{what} {done.group(1)}", after[done.end() :]
            asked = (
                re.match(r"\s*((?:who|what|where|when|which|whether|if|how)\b[^?,.;]*)", after)
                if re.search(r"\b(?:asks?|asked|asking|wondered|wants? to know)$", what)
                else None
            )
            if asked:  # "after control asked who was walking near bay three": what was asked is the anchor's words
                what, after = f"{what} {asked.group(1).strip()}", after[asked.end() :]
            # "before he said anything": his first line, whatever it says
            what = re.sub(
                r"^((?:he|she|they|someone|somebody|anyone|anybody|the \w+) )(?:said|says|say) (?:anything|something|a word|a thing)$", r"\1spoke", what
            )
            plan.anchor, plan.anchor_side, plan.scope = what, side, "anchored"
            rest = rest[: m.start()] + " " + after

    if within and not plan.anchor and plan.time_range is None:
        n = 1.0 if within.group(1) in ("a", "an") else _num_word(within.group(1))
        if n is not None:
            plan.within_s = n * (60.0 if within.group(2).startswith("m") else 1.0)
            plan.anchor, plan.scope = within.group(4).strip(), "anchored"
            plan.anchor_side = {"after": "after", "before": "before"}.get(within.group(3), "near")

    # "who answered the courier?", "who replied to the man asking for batteries?": the next line after that one's
    m = REPLY_RX.search(rest)
    what = (m.group(1) or "").strip(" ?.,!") if m else ""
    if plan.anchor_side == "during" and (
        (m and not what) or (re.search(r"\b(?:asks?|asked|asking)\b", plan.anchor) and re.search(r"\b(?:answer\w*|repl\w*|respon\w*)\b", rest))
    ):
        plan.anchor_side = "after"  # "who answered when the manager asked about the bike?": after the question, not during it
        rest = rest[: m.start()] + " spoke " + rest[m.end() :] if m else re.sub(r"\b(?:answer\w*|repl\w*|respon\w*)\b", " spoke ", rest)
    elif what and not plan.anchor and plan.time_range is None:
        named = [w for w in re.findall(r"[a-z][a-z'\-]+", what) if w not in STOP and w not in PERSON_WORDS]
        plan.anchor = what if named else f"{what} spoke"  # "the courier": whatever the courier said, the first line
        plan.anchor_side, plan.scope = "after", "anchored"
        rest = rest[: m.start()] + " spoke " + rest[m.end() :]

    # ordinals: "the second person", "the final words", "the last thing said"
    m = ORDINAL_RX.search(rest)
    if m and not (m.group(2) or "").startswith(("half", "minute", "second", "hour", "for", "long")) and (m.group(2) or "") not in NOT_ORDINAL_NOUNS:
        plan.ordinal = ORDINAL_WORDS[m.group(1)]
        if plan.scope == "none":
            plan.scope = "ordinal"
    elif re.search(r"\b(?:said|spoken|mentioned|heard|uttered|speaks?|spoke|talks?|talked)(?: \w+){0,2} (?:first|last)\b", rest):
        plan.ordinal = 1 if re.search(r"\b(?:said|spoken|mentioned|heard|uttered|speaks?|spoke|talks?|talked)(?: \w+){0,2} first\b", rest) else -1
        plan.scope = "ordinal" if plan.scope == "none" else plan.scope

    rest = re.sub(r"\b(?:over|on|through|via) the (?:speakers?|loudspeakers?|pa|p\.a\.|pa system|tannoy|intercom|radio)\b", " ", rest)  # how speech came
    rest = re.sub(r"\bon(?: the)?[ -]screen\b|\bon (?:the )?(?:tv|monitor|display)\b", " on-screen ", rest)  # a lane cue, not a tv seen
    words = [re.sub(r"'s$", "", w) for w in re.findall(r"[a-z][a-z'\-]*", rest) if w != "on-screen"]  # "the guy's shirt": guy
    hear = bool(HEAR_CUES.search(rest))
    see = bool(SEE_CUES.search(rest))
    objects, sounds, used = _entities(rest, words, vocab, hear, see)
    if "dining table" in objects and not FURNITURE_RX.search(rest):
        # "show me the events table", "what's in the table": a table of data, not COCO's dining table
        objects.remove("dining table")
        used.update({"table", "tables"})

    # colours qualify objects
    plan.colours = [w for w in words if w in COLOURS]
    used.update(plan.colours)

    # a quote opens where no letter is before it and closes where none is after it ("the narrator's" is no quote)
    quoted = quoted_phrases(question)
    in_quotes = {w.strip("'") for x in quoted for w in x.split()}
    words_outside = [w for w in words if w.strip("'") not in in_quotes]  # the quote is looked for whole, not word by word
    content = [
        w
        for w in words_outside
        if w not in STOP
        and w not in ORDINAL_WORDS
        and w not in VERBS
        and len(w) > 2
        and w not in used
        and not TEXT_CUES.fullmatch(w)
        and w not in ("writing", "sign", "signs", "displayed", "display")
    ]

    qv = word_vecs = None
    if embed is not None:
        try:
            vecs = EMBED_CACHE.get(embed, [plan.question] + content)  # one request for what is not cached yet; retrieval reuses it
            qv, word_vecs = vecs[0], vecs[1:]
        except Exception:  # noqa: BLE001 - without an embedder the cues decide
            qv = word_vecs = None
    intent, secondary, confidence = _pick_intent(q, qv, embed)
    if intent in ("seen", "summary") and TEXT_CUES.search(rest) and not objects and not SAID_CUES.search(rest):
        # "any writing or captions on screen?": text is what is asked to be seen
        intent, secondary = "text", [intent] + [x for x in secondary if x != "text"]
    if DIRECTION_RX.search(q) and (intent in ("count", "when", "summary", "yesno", "duration") or intent in ("said", "heard") and not SAID_CUES.search(rest)):
        intent, secondary = "seen", [intent] + [x for x in secondary if x != "seen"]  # the way it went is a thing seen
    if embed is not None and vocab is not None and word_vecs is not None and content:
        try:
            o2, s2, used2 = _match_vocabulary(content, vocab, embed, word_vecs)
        except Exception:  # noqa: BLE001
            o2, s2, used2 = [], [], set()
        objects += [x for x in o2 if x not in objects]
        for s in s2:  # a graph sound label matched by meaning: ask for it by its own name
            if s not in sounds:
                sounds.append(s)
        content = [w for w in content if w not in used2]

    named_texts = [t for t in (vocab.texts if vocab is not None else ()) if len(t) >= 3 and re.search(rf"(?<!\w){re.escape(t.lower())}(?!\w)", q)]
    plan.intent = intent
    plan.intents = [intent] + [s for s in secondary if s != intent]
    person_words = [w for w in words if OBJECT_SYNONYMS.get(w) == ["person"]]
    # "what did the manager say?", "what did the customer ask for?": a role before a speech verb is who speaks
    speakers = SPEAKER_WORDS | {m.group(1) for m in SPEAKER_SUBJECT_RX.finditer(rest) if OBJECT_SYNONYMS.get(m.group(1)) == ["person"]}
    pronoun_person = bool(person_words) and all(w in speakers for w in person_words)
    only_pronouns = bool(person_words) and all(w in PRONOUNS for w in person_words)
    acts = speech_act_cues(rest)
    if "person" in objects and (
        (len(objects) > 1 and only_pronouns) or (pronoun_person and (SAID_CUES.search(rest) or acts or intent in ("said", "heard")) and not see)
    ):
        # "did anyone say anything?", "is anyone carrying a bag?": the person is the subject, not what is asked about
        objects = [o for o in objects if o != "person"]
    if objects and SAID_CUES.search(rest) and not see and intent in ("said", "yesno", "when", "count") and not TEXT_CUES.search(rest):
        # "does someone mention a train station?": the nouns are spoken words
        spoken = [w for w in words if OBJECT_SYNONYMS.get(w) and w not in speakers]
        content = spoken + [w for w in content if w not in spoken]
        objects = []
    unknown = [w for w in content if w not in quoted and not w.endswith(("ing", "ed", "ly")) and w not in VERBS]
    plan.unknown = unknown if not objects and not sounds else []
    plan.object_labels, plan.sound_labels = objects, sounds
    plan.keywords = [t.lower() for t in named_texts] + quoted + [w for w in content if w not in quoted and w not in {t.lower() for t in named_texts}]
    plan.quoted = quoted
    plan.confidence = round(confidence, 3)

    # lanes: which kinds of events answer it
    lanes: list[str] = []
    if intent == "text" or "text" in plan.intents[:1] or named_texts:
        lanes.append("text")
    if sounds or (intent == "heard" and not SAID_CUES.search(rest)) or (hear and not objects and intent not in ("said", "text") and not SAID_CUES.search(rest)):
        lanes.append("sound")
    if objects or intent in ("seen", "colour") or (see and not sounds and intent not in ("said", "text")):
        lanes.append("object")
    if intent == "said" or "said" in plan.intents or (plan.ordinal == -1 and re.search(r"\bwords?\b|\bline\b|\bsentence\b", rest)):
        if intent != "text":
            lanes.append("speech")
    if re.search(r"\balerts?\b|\bwarnings?\b|\bincidents?\b|\bviolations?\b|\brules?\b|\bflagged\b", q):
        lanes.append("alert")
    if re.search(
        r"\bscenes? (?:change|changes|changed|cut|cuts|switch|switches)\b|\b(?:scene|camera|hard) cuts?\b|\bcut to\b|\btransitions?\b|"
        r"\b(?:new|next|different) (?:scene|shot)\b|\b(?:background|lighting|light|scenery|setting|location|picture|shot|view) "
        r"(?:chang\w*|switch\w*)\b",
        rest,
    ):
        lanes.append("scene_cut")
    if "text" not in lanes and TEXT_CUES.search(rest) and intent not in ("said",) and not SAID_CUES.search(rest.replace("say", "")):
        lanes.append("text")
    if re.search(r"\b(?:mov(?:e|es|ed|ing)|motion|movement|movements)\b", rest) and not objects and not RESCHEDULED_RX.search(rest):
        lanes.append("motion")
        plan.keywords = [k for k in plan.keywords if not re.fullmatch(r"mov\w*|motion|movements?", k)]
        plan.unknown = [k for k in plan.unknown if not re.fullmatch(r"mov\w*|motion|movements?", k)]
    if (
        "speech" not in lanes
        and intent in ("when", "count", "yesno")
        and plan.keywords
        and not objects
        and not sounds
        and not {"text", "object", "motion", "scene_cut"} & set(lanes)
    ):
        lanes.append("speech")  # "when is the station mentioned?" without a cue: the words are spoken ones
    if intent == "said" and "speech" not in lanes:
        lanes.append("speech")
    spoken = [k for k in plan.keywords if vocab is not None and is_spoken(k, vocab.spoken)]
    if spoken and "speech" not in lanes and not objects and not sounds and not plan.anchor:
        # "what am I supposed to bring?", "what fell?": nothing to see or hear is named, but the video's speech has the words
        lanes.append("speech")
        shown_asked = intent == "text" and re.search(
            r"\b(?:signs?|read|reads|written|writing|on-screen|caption|captions|banner|poster|plate|board|lettering)\b", rest
        )
        if intent in ("seen", "summary") or (intent == "text" and not named_texts and not shown_asked):  # "a sign saying Baker Street?": a sign
            plan.intent = intent = "said"
            plan.intents = ["said"] + [i for i in plan.intents if i != "said"]
            lanes = [lane for lane in lanes if lane not in ("object", "text")] if not see else lanes
    heard_here = bool(vocab is not None and sounds and graph_sound_labels(sounds, vocab.sounds))  # "what time was the bang?": the bang heard
    if vocab is not None and ASKS_PLACE_OR_REASON.search(q) and "speech" not in lanes and not heard_here:
        # "where was the ambulance headed?", "what time is the next train?": a place, reason or time of day is
        # what people say; the question's words that the video's speech has send it there
        said_words = [w for w in words if w not in STOP and w not in VERBS and len(w) > 2 and is_spoken(w, vocab.spoken)]
        if said_words:
            lanes.append("speech")
            plan.keywords = said_words + [k for k in plan.keywords if k not in said_words]
            if not any(o in vocab.objects for o in objects) and intent in ("when", "seen", "summary", "heard"):
                plan.intent = intent = "said"
                plan.intents = ["said"] + [i for i in plan.intents if i != "said"]
                lanes = [lane for lane in lanes if lane not in ("object", "sound")]
                plan.object_labels, plan.sound_labels = [], []
    if vocab is not None and vocab.has_speech:
        counted = re.search(r"\bhow many ([a-z][a-z'\-]+)", q)
        noun = counted.group(1) if counted else ""
        if (
            noun
            and noun not in ("times", "time")
            and not OBJECT_SYNONYMS.get(noun)
            and singular(noun) not in COCO_LABELS
            and not sound_labels_for(noun)
            and is_spoken(noun, vocab.spoken)
        ):
            # "how many boxes is the driver unloading?": boxes are nothing the lanes see or hear, but they are said
            plan.intent = intent = "said"
            plan.intents = ["said", "count"] + [i for i in plan.intents if i not in ("said", "count")]
            plan.keywords = [noun] + [k for k in plan.keywords if k != noun]
            lanes = ["speech"]
            plan.object_labels, plan.sound_labels = [], []
    if vocab is not None and plan.object_labels and not any(o in vocab.objects for o in plan.object_labels) and intent in ("when", "said", "summary", "text"):
        # "when does the Oxford train leave?": no train was seen, but it is said or written
        written = {singular(x) for t in vocab.texts for x in re.findall(r"[a-z]{3,}", t.lower())}
        named = [x for x in words if x in used and (OBJECT_SYNONYMS.get(x) or singular(x) in COCO_LABELS)]
        said_named = [x for x in named if is_spoken(x, vocab.spoken)]
        shown = [x for x in named if x in written or singular(x) in written]
        if said_named or shown:
            lanes = [lane for lane in lanes if lane != "object"]
            lanes += [lane for lane, hit in (("speech", said_named), ("text", shown)) if hit and lane not in lanes]
            plan.keywords = list(dict.fromkeys(said_named + shown + plan.keywords))
            plan.object_labels = []
            if intent == "summary":
                plan.intent = intent = "said" if said_named else "text"
    # "she would call back", "when will she ring back?": a call back promised is said, not a ring
    call_back = bool(CALL_BACK_RX.search(rest)) and bool(
        SAID_CUES.search(rest) or re.search(r"\b(?:will|would|'ll|going to|gonna|promis\w*) (?:\w+ )?(?:call|ring)", rest)
    )
    if call_back:
        plan.keywords = list(dict.fromkeys(["call", *plan.keywords]))
    on_call = bool(CALL_NOUN_RX.search(rest)) and bool(SAID_CUES.search(rest))  # "the 3rd thing said on the call"
    if (CALL_NAMING_RX.search(question) or call_back or on_call) and not HEAR_CUES.search(CALL_BACK_RX.sub(" ", rest).replace("call", "")):
        plan.sound_labels = [x for x in plan.sound_labels if x not in sound_labels_for("call")]
        lanes = [lane for lane in lanes if lane not in ("sound", "object")] + (["speech"] if "speech" not in lanes else [])
        plan.object_labels = [o for o in plan.object_labels if o != "person"]
        if (intent in ("heard", "seen") or (intent == "summary" and not on_call)) or (intent == "yesno" and not call_back):
            intent = _set_intent(plan, "said")
    if (MENTION_RX.search(rest) or OPINION_RX.search(rest)) and not see and not TEXT_CUES.search(rest):
        # the nouns are words said: "did anyone mention hearing a beep?" asks the speech, not the sounds
        named = [w for w in words if w in used and (sound_labels_for(w) or OBJECT_SYNONYMS.get(w)) and w not in speakers]
        think = [w for w in words if OPINION_RX.search(f"he {w}")]
        also = [x for w in named for x in OBJECT_SYNONYMS.get(w, []) if x not in (w, "person") and " " not in x]  # a bike is said "bicycle"
        about = about_words(rest)
        plan.keywords = list(dict.fromkeys(named + think + plan.keywords + also + about))  # "asked about the slides": slides said
        plan.sound_labels, plan.object_labels = [], [o for o in plan.object_labels if o != "person"]
        lanes = ["speech"] + [lane for lane in lanes if lane not in ("speech", "sound", "object")]
        if intent in ("summary", "heard", "seen"):
            intent = _set_intent(plan, "said")
    if (
        vocab is not None
        and plan.object_labels == ["person"]
        and not see
        and (intent in ("seen", "summary", "said") or (intent == "count" and not re.search(r"\bhow many\b|\bnumber of\b|\bcount", q)))
        and re.match(r"^what\b", q)
        and any(is_spoken(k, vocab.spoken) for k in plan.keywords if k not in STOP and k not in VERBS)
    ):
        # "what are people supposed to bring?": the people are who is told, what they bring is said
        lanes, plan.object_labels = ["speech"] + [lane for lane in lanes if lane not in ("speech", "object")], []
        intent = _set_intent(plan, "said")
    if vocab is not None and intent == "colour" and not any(o in vocab.objects for o in plan.object_labels):
        said_things = [k for k in plan.keywords if k not in STOP and is_spoken(k, vocab.spoken)]
        if said_things and "speech" not in lanes:  # "what colour is the folder they mention?": the colour said with it
            lanes.append("speech")
            plan.keywords = said_things + [k for k in plan.keywords if k not in said_things]
    if intent == "colour" and not plan.object_labels and re.search(r"\b(?:signs?|letters?|lettering|writing|written|text|words?|banner|poster|board)\b", rest):
        # "what colour is the sign?", "the letters on the yellow sign": the text lane's colours, not a thing seen
        lanes = ["text"] + [lane for lane in lanes if lane not in ("text", "object")]
        plan.keywords = [
            k for k in plan.keywords if not re.fullmatch(r"signs?|letters?|lettering|writing|written|text|words?|fonts?|banner|poster|boards?|colou?rs?", k)
        ]
    if intent == "colour" and not plan.object_labels and "text" not in lanes and GARMENTS & set(words):
        # "what colour is the first guy's shirt?": a garment's colour is a person's colour
        plan.object_labels = ["person"]
        lanes = ["object"] + [lane for lane in lanes if lane != "object"]
    if intent == "colour" and plan.object_labels:  # sounds have no colour: "the guy walking" is no footsteps
        plan.sound_labels = []
        lanes = [lane for lane in lanes if lane != "sound"] or ["object"]
        plan.keywords = [k for k in plan.keywords if k not in GARMENTS]
        plan.unknown = [u for u in plan.unknown if u not in GARMENTS and singular(u) not in GARMENTS]
    if (
        (WHOLE_SUMMARY_RX.match(q) or SUMMARY_REQUEST_RX.search(q))
        and plan.anchor == ""
        and not re.search(r"\b(?:conversation|call|talk|discussion|interview|said|speech|dialogue)\b", q)
    ):
        # "summarise the night shift", "summary of the lecture", "summarize the traffic report": the words after it name
        # what the video is, not a thing to filter by
        intent = _set_intent(plan, "summary")
        lanes, plan.object_labels, plan.sound_labels, plan.keywords, plan.unknown = [], [], [], [], []
    if "speech" in lanes and intent in ("said", "when", "count", "yesno") and ASKED_RX.search(q) and not re.search(r"\bask(?:s|ed)? (?:for|about)\b", q):
        # "what was the first question a student asked?", "what did the neighbour ask?": the lines that ask
        plan.questions = True
        # "how many questions did students ask?": who asks is not a word in what they ask
        plan.keywords = [
            k
            for k in plan.keywords
            if k not in ("question", "questions") and k not in SPEECH_VERBS and k not in PERSON_WORDS and singular(k) not in PERSON_WORDS
        ]
        plan.unknown = [u for u in plan.unknown if u not in ("question", "questions")]
    if "speech" in lanes and MENTION_RX.search(rest):  # "who asked about the slides?": the slides are what is said
        about = [w for w in about_words(rest) if w not in plan.keywords]
        plan.keywords += about
    if "speech" in lanes:  # "what did the customer ask for?": the speech verb says who speaks, it is not a word to find
        # nor is the name of a piece of speech: "the second remark", "how many announcements", "his comment about the truck"
        pieces = [k for k in plan.keywords if singular(k) in SPEECH_PIECES]
        plan.keywords = [k for k in plan.keywords if k not in pieces]
        plan.unknown = [u for u in plan.unknown if u not in pieces]
        kept = [k for k in plan.keywords if k not in SPEECH_VERBS]
        if kept or intent == "said":
            plan.keywords, plan.unknown = kept, [u for u in plan.unknown if u not in SPEECH_VERBS]
    if plan.object_labels:
        plan.heading = heading_of(q)
        if plan.heading:  # "walking right to left" says which one, not what is asked
            plan.keywords = [k for k in plan.keywords if k not in ("left", "right", "walking", "heading", "going", "moving", "crossing")]
    m = SPEAKER_ORDINAL_RX.search(q)
    if m:  # "what did the second speaker say?": that voice's lines, not the second line
        plan.speaker = f"speaker {ORDINAL_WORDS[m.group(1)]}"
        if plan.scope == "ordinal":
            plan.ordinal, plan.scope = None, "none"
        lanes, plan.object_labels, plan.sound_labels = ["speech"], [], []
        plan.keywords = [k for k in plan.keywords if k not in ("speaker", "voice")]
        if intent not in ("when", "count", "duration", "yesno"):
            plan.intent = intent = "said"
    elif ROLE_SPEAKS_RX.search(q):  # "how many times does the male reporter speak?": the main voice's lines (in that voice)
        role = ROLE_SPEAKS_RX.search(q).group(1)
        plan.speaker, plan.intent, intent = "main", "count", "count"
        plan.voice = "low" if role.startswith("male") else "high" if role.startswith("female") else plan.voice
        lanes, plan.object_labels, plan.sound_labels, plan.keywords, plan.unknown = ["speech"], [], [], [], []
    elif HOW_MANY_SPEAKERS_RX.search(q):  # "how many people are talking?": the voices heard, not people seen
        plan.speaker, plan.intent, intent = "*", "count", "count"
        lanes, plan.object_labels, plan.sound_labels, plan.keywords = ["speech"], [], [], []
    elif ROLE_SAYS_RX.search(q) and "speech" in lanes:  # "what did the lecturer say about the exam?": the main voice's lines
        role = next(g for g in ROLE_SAYS_RX.search(q).groups() if g)
        plan.speaker = "main"
        plan.voice = "low" if role.startswith("male") else "high" if role.startswith("female") else plan.voice
        plan.keywords = [k for k in plan.keywords if k not in role.split()]
        plan.unknown = [u for u in plan.unknown if u not in role.split()]
    named = NAMED_SPEAKER_RX.search(q)
    if named and named.lastindex == NAMED_SPEAKER_RX.groups:
        lanes, plan.sound_labels = ["speech"], []  # "how many times do we hear from Daniel?": his lines, not sounds
    if named and not plan.speaker and "speech" in lanes:
        name = next(g for g in named.groups() if g)
        if (
            name not in NOT_SPEAKER_NAMES
            and name not in SPEECH_VERBS
            and not SPEAKER_ROLE_RX.fullmatch(name)
            and not (vocab and name in vocab.objects | vocab.sounds)
        ):
            plan.speaker_name = name
            if re.search(rf"\b(?:does|did|do) {name} (?:say|mention|tell|report|announce)\b", q):
                # "did Paul say the bang came from the back gate?": what Paul said, not the bang
                plan.keywords += [x for x in re.findall(r"[a-z]+", q) if x not in plan.keywords and x not in STOP and sound_labels_for(x)]
                lanes, plan.sound_labels, plan.object_labels = ["speech"], [], []
            if re.search(rf"\b{name} radio", q):  # "did control radio in?": to radio is to speak
                plan.keywords = [k for k in plan.keywords if k not in ("radio", "radioed")]
                plan.unknown = [u for u in plan.unknown if u not in ("radio", "radioed")]
    if acts and not plan.anchor:
        # "does anyone apologise?": the words that apologise, in what was said
        plan.keywords = acts + [k for k in plan.keywords if k not in acts and not SPEECH_ACT_RX.fullmatch(k)]
        plan.unknown = []
        if "speech" not in lanes:
            lanes.append("speech")
        if intent in ("seen", "summary", "heard"):
            plan.intent = intent = "said"
            plan.intents = ["said"] + [i for i in plan.intents if i != "said"]
        lanes = [lane for lane in lanes if lane not in ("object", "sound")] if not see and not plan.sound_labels else lanes
        plan.object_labels = [o for o in plan.object_labels if o != "person"]
    if lanes and lanes[0] == "text" and re.search(r"\b(?:longer|longest|shorter|shortest)\b", q):
        # "which sign was up longer?": a comparison of the texts, not a word to find in them
        plan.keywords = [k for k in plan.keywords if k not in ("longer", "longest", "shorter", "shortest", "up", "there", "shown", "visible")]
        plan.unknown = [u for u in plan.unknown if u not in ("longer", "longest", "shorter", "shortest")]
    if "speech" in lanes and "text" not in lanes and not plan.speaker and IT_SAYS_RX.search(q):
        # "does it say anything about towing?": the video says it aloud or in writing
        lanes.append("text")
    if no_speech:  # "the last sound you could hear (not talking)"
        lanes = [lane for lane in lanes if lane != "speech"] or ["sound"]
        intent = _set_intent(plan, "heard" if plan.intent == "said" else plan.intent)
        plan.intents = [i for i in plan.intents if i != "said"]
    claim = SEX_CLAIM_RX.match(q)
    if (
        claim
        and not VOICE_ASKED_RX.search(q)
        and (SPEAKER_ROLE_RX.search(claim.group(1)) or SAID_CUES.search(claim.group(3)) or SPEECH_ACTIVITY_RX.search(claim.group(3)))
    ):
        # "was it a woman giving the updates?", "was the narrator a man?": the voice's register answers yes or no
        plan.voice_asked, plan.sex_claim = True, "high" if HIGH_VOICE_RX.search(claim.group(2)) else "low"
        plan.keywords = [
            k
            for k in plan.keywords
            if not SPEECH_ACTIVITY_RX.fullmatch(k) and not SPEAKER_ROLE_RX.fullmatch(k) and not HIGH_VOICE_RX.fullmatch(k) and not LOW_VOICE_RX.fullmatch(k)
        ]
        plan.object_labels, lanes = [o for o in plan.object_labels if o != "person"], ["speech"]
    elif VOICE_ASKED_RX.search(q):
        plan.voice_asked = True
    elif "speech" in lanes or SAID_CUES.search(rest) or acts or re.search(r"\b(?:speak\w*|spoke|talk\w*)\b", rest):
        high, low = bool(HIGH_VOICE_RX.search(rest)), bool(LOW_VOICE_RX.search(rest))
        if high != low:  # "what did the woman say?", "did she say when she would call back?"
            plan.voice = "high" if high else "low"
    if WHO_RX.search(q) and (
        "speech" in lanes or SAID_CUES.search(rest) or acts or plan.voice_asked or re.search(r"\b(?:talk\w*|speak\w*|answer\w*|repl\w*|pick\w* up)\b", rest)
    ):
        plan.who = True
    if plan.voice_asked or plan.who:
        if plan.voice_asked or not see:  # "who said thanks?", "man or woman at the door": a voice, not someone seen
            if "speech" not in lanes and (SAID_CUES.search(rest) or acts or plan.voice_asked or plan.keywords):
                lanes = ["speech"] + [lane for lane in lanes if lane not in ("object",)]
            if "speech" in lanes:
                plan.object_labels = [o for o in plan.object_labels if o != "person"]
                lanes = [lane for lane in lanes if lane != "object"] or ["speech"]
                if intent in ("seen", "summary", "heard", "compare"):
                    intent = _set_intent(plan, "said")
    if plan.voice and not see and (SAID_CUES.search(rest) or acts or re.search(r"\b(?:speak\w*|spoke|talk\w*)\b", rest)):
        lanes = ["speech"] + [lane for lane in lanes if lane not in ("speech", "object")]  # "how many times does the woman speak?"
    if plan.voice:
        plan.object_labels = [o for o in plan.object_labels if o != "person"] if "speech" in lanes else plan.object_labels
        plan.keywords = [k for k in plan.keywords if not HIGH_VOICE_RX.fullmatch(k) and not LOW_VOICE_RX.fullmatch(k)]
    if plan.gap and plan.anchor and plan.intent != "compare":
        # "how many seconds after the phone stopped did she answer?": the time from the anchor to the next such thing
        intent = _set_intent(plan, "duration")
        if acts:  # "how long after the alarm did he apologise?": the words that apologise
            plan.keywords = acts + [k for k in plan.keywords if k not in acts and not SPEECH_ACT_RX.fullmatch(k)]
            lanes = ["speech"]
        if not lanes:
            lanes = ["speech", "sound"] if not plan.object_labels else ["object"]
        if SAID_CUES.search(rest) or re.search(r"\b(?:answer\w*|repl\w*|respond\w*|react\w*|shout\w*|out loud|aloud)\b", rest):
            lanes = ["speech"]  # who reacts is no one seen, and what is said is the reaction
            plan.object_labels = [o for o in plan.object_labels if o != "person"]
        plan.keywords = [k for k in plan.keywords if not re.fullmatch(r"answer\w*|repl\w*|respond\w*|react\w*|loud|aloud|seconds?|minutes?|someone|anyone", k)]
        plan.unknown = [u for u in plan.unknown if u not in plan.keywords and not re.fullmatch(r"answer\w*|repl\w*|respond\w*|react\w*", u)]
    plan.lanes = lanes
    if plan.ordinal is not None and plan.scope == "ordinal" and plan.ordinal == -1 and intent == "summary" and "speech" in lanes:
        plan.intent = plan.intents[0] = "said"

    # the anchor's own words name the anchor, not what is asked about
    if plan.anchor:
        aw = set(plan.anchor.split()) | set(plan.anchor_end.split())
        plan.sound_labels = [x for x in plan.sound_labels if not any(x in sound_labels_for(w) for w in aw)]
        plan.object_labels = [x for x in plan.object_labels if not any(x in OBJECT_SYNONYMS.get(w, []) for w in aw)]
        plan.keywords = [k for k in plan.keywords if k not in aw]
    if "compare" == plan.intent:
        # one group per thing named: [the word, the labels it stands for (graph names for sounds)]
        groups: list[list[str]] = []
        for w in words:
            o = OBJECT_SYNONYMS.get(w, []) if w in used else []
            s = sound_labels_for(w) if w in used else []
            s = graph_sound_labels(s, vocab.sounds) if (s and vocab is not None) else s
            o = [x for x in o if x in plan.object_labels]
            s = [x for x in s if any(x == y or x in graph_sound_labels([y], {x}) for y in plan.sound_labels)] if s else []
            labels = o or s
            if labels and not any(set(labels) == set(g[1:]) for g in groups):
                groups.append([labels[0] if len(labels) == 1 else singular(w), *labels])
        if "text" in lanes or TEXT_CUES.search(q):  # "the siren or the road works sign"
            groups.append(["text"])
            if "text" not in plan.lanes:
                plan.lanes = [*plan.lanes, "text"]
        if "speech" in lanes or re.search(r"\bspeech\b|\bspeak|\btalk", q) or SPEECH_SIDE_RX.search(q):
            groups.append(["speech"])
            if "speech" not in plan.lanes:
                plan.lanes = [*plan.lanes, "speech"]
        plan.compare = groups
        if groups == [["text"]]:  # "which slide stayed up longer, the title or the quiz one?": texts against each other
            _set_intent(plan, "text")
            plan.lanes, plan.keywords, plan.unknown = ["text"], [], []
    carried = CARRY_RX.search(q) if plan.intent == "yesno" else None
    if carried and carried.group(2) not in STOP:
        # "did the visitor bring a spare tyre?": what someone says they brought, or a thing of that class seen with them
        plan.carried = carried.group(2).strip()
        thing = [w for w in re.findall(r"[a-z][a-z'\-]+", plan.carried) if w not in STOP]
        plan.keywords = list(dict.fromkeys(thing[-1:] + [carried.group(1)] + plan.keywords))
        plan.lanes = list(dict.fromkeys([*plan.lanes, "speech"]))
    if plan.intent == "duration" and not plan.lanes and not plan.object_labels and not plan.sound_labels and not plan.keywords:
        if re.search(r"\b(?:he|she|they|him|her|them)\b", q) and not MEDIUM_LENGTH_RX.search(q):
            plan.object_labels, plan.lanes = ["person"], ["object"]  # "how long is he there for?": the person in view
    if plan.sound_labels and measure_claimed(q) and not re.match(r"(?:how|what|when|which|who|where)\b", q):
        # "siren lasts more than 15 seconds?", "was it more than five beeps?": a measure put as yes or no
        _set_intent(plan, "yesno")
        plan.keywords = [k for k in plan.keywords if k not in ("lasts", "last", "lasted", "long", "longer", "more", "less", "fewer", "over", "under")]
        plan.keywords = [k for k in plan.keywords if k not in NUMBER_WORDS and not k.isdigit()]
        plan.compare = []
    if plan.quoted and not plan.object_labels and not plan.sound_labels:
        # "I'm a journalist checking a quote: did one of them say 'X'?": the quote is what to find, the rest tells why
        plan.keywords = [k for k in plan.keywords if k in plan.quoted or (vocab is not None and k in {t.lower() for t in vocab.texts})]
        plan.unknown = []
    if plan.quoted and plan.intent == "said" and re.match(r"(?:did|does|do|was|is|has|had) (?:any|some|one|the|he|she|they|[a-z]+ )", q):
        _set_intent(plan, "yesno")  # "did anyone say 'they all call me a rebel'?": whether the quote is said is what is asked
    # "did anyone honk a horn?", "did anybody play music?": the pronoun is whoever did it, not a person asked about
    person_words = [w for w in words if "person" in OBJECT_SYNONYMS.get(w, [])]
    others = plan.sound_labels or [o for o in plan.object_labels if o != "person"]
    if "person" in plan.object_labels and others and person_words and set(person_words) <= INDEFINITE_PERSONS:
        plan.object_labels = [o for o in plan.object_labels if o != "person"]
        if not plan.object_labels:
            plan.lanes = [lane for lane in plan.lanes if lane != "object"] or plan.lanes
    if vocab is not None:
        plan.graph_sound_labels = graph_sound_labels(plan.sound_labels, vocab.sounds)
    else:
        plan.graph_sound_labels = plan.sound_labels + [g for g, names in LEGACY_SOUNDS.items() if names & set(plan.sound_labels)]
    return plan


# one side of a comparison is something said: "before or after the comment about a quiet morning?"
SPEECH_SIDE_NOUNS = ("comment", "remark", "mention", "announcement", "bit", "part", "line", "word", "talk", "question", "joke", "story")
SPEECH_SIDE_RX = re.compile(
    rf"\b(?:{'|'.join(SPEECH_SIDE_NOUNS)})s? (?:about|on|of|regarding)\b|"
    r"\b(?:when|where) (?:he|she|they|someone|somebody|the \w+) (?:says?|said|mentions?|mentioned|talks?|talked|asks?|asked)\b"
)


# a question that is a request for a summary of the whole video, whatever it names after it
# a request for an account of the whole video however it is put: "tell me the story of this clip", "the key points",
# "shift report please", "sum up ... in a few lines", "as bullet points", "i missed the lecture, what do i need to know"
SUMMARY_REQUEST_RX = re.compile(
    r"\b(?:the )?story of (?:this|the) (?:clip|video|footage|recording)\b|\b(?:key|main) points\b|\bhighlights\b|"
    r"\b(?:shift|incident|activity|events?|daily|nightly|night|status|situation) report\b|\bsum(?:s|med|ming)? (?:it |this |that |everything |\w+ \w+ )?up\b|"
    r"\bin (?:a few|two|three|four|five|\d+) (?:lines|sentences|bullet points|bullets|points)\b|\b(?:one|two|three|four|five|few|\d+)[- ](?:line|sentence) summary\b|"
    r"\b(?:as )?bullet points\b|\bwhat do (?:i|we) need to know\b|\bwhat did (?:i|we) miss\b|\bfrom start to finish\b|"
    r"\b(?:writing|taking|write|take) (?:the )?minutes\b|\bbrief me\b|\bcatch me up\b|\bfill me in\b|"
    r"\btimeline\b|\b(?:incident|security|shift|activity|event|patrol) (?:log|note|notes|summary|write-?up)\b|\b(?:one )?line per event\b|"
    r"\bwrite[- ]?up\b|\bwhat (?:i|we) (?:need|have|ought|should) to know\b|\b(?:a |an )?(?:account|chronology) of\b"
)
WHOLE_SUMMARY_RX = re.compile(
    r"^(?:(?:can|could) you |please |pls |give me |i want |i need )*(?:an? )?(?:quick |short |brief |fast )?"
    r"(?:sum+[ae]r(?:y|i[sz]e)|overview|recap|rundown|run-down|gist)\b(?! of (?:what|the (?:first|last|start|end|beginning)))"
)
SPEECH_VERBS = frozenset("ask asks asked say says said tell tells told mention mentions mentioned talk talks talked".split())
ASKED_RX = re.compile(r"\b(?:ask|asks|asked|asking)\b|\bquestions?\b")

# the video itself "says" something: aloud or written on screen
IT_SAYS_RX = re.compile(r"\b(?:does|did|do|is|was) (?:it|the video|the clip|this|that|the footage) (?:say|says|said|mention|mentions|talk|tell)\b")


SPEECH_PIECES = frozenset(SPEECH_SIDE_NOUNS) - {"question", "word"} | {"statement", "utterance", "sentence", "phrase", "announcement", "remark", "comment"}


MEASURE_CLAIM_RX = re.compile(
    r"\b(more|longer|less|shorter|fewer|over|under|at least|at most)(?: than)? (\d+(?:\.\d+)?|[a-z]+) ?"
    r"(seconds?|secs?|s|minutes?|mins?|beeps?|rings?|barks?|knocks?|times|blasts?|wails?|bursts?|bangs?|hits?)\b"
)


TIMES_CLAIM_RX = re.compile(r"\b(\d+|[a-z]+) times\b|\b(once|twice|thrice)\b")


def times_claimed(question: str) -> int | None:
    """The number of times a yes/no question puts ("did the phone ring four times?").

    >>> times_claimed("Did the phone ring four times?"), times_claimed("did the dog bark twice"), times_claimed("did it ring many times")
    (4, 2, None)
    """
    m = TIMES_CLAIM_RX.search(question.lower())
    if not m:
        return None
    n = {"once": 1, "twice": 2, "thrice": 3}.get(m.group(2) or "") or _num_word(m.group(1) or "")
    return int(n) if n else None


def measure_claimed(question: str) -> tuple[str, float, str] | None:
    """(more | less, the number, seconds | count) a yes/no question puts about a sound.

    >>> measure_claimed("siren lasts more than 15 seconds?"), measure_claimed("was it more than five beeps?")
    (('more', 15.0, 'seconds'), ('more', 5.0, 'count'))
    >>> measure_claimed("did it ring for under 2 minutes"), measure_claimed("was it more than once") is None
    (('less', 120.0, 'seconds'), True)
    """
    m = MEASURE_CLAIM_RX.search(question.lower())
    if not m:
        return None
    n, unit = _num_word(m.group(2)), m.group(3)
    if n is None:
        return None
    side = "more" if m.group(1) in ("more", "longer", "over", "at least") else "less"
    if unit.startswith(("sec", "min")) or unit == "s":
        return side, float(n) * (60.0 if unit.startswith("min") else 1.0), "seconds"
    return side, float(n), "count"


def _set_intent(plan: QueryPlan, intent: str) -> str:
    """The plan's intent becomes ``intent`` (first in ``intents``, the others kept after it)."""
    plan.intent = intent
    plan.intents = [intent] + [i for i in plan.intents if i != intent]
    return intent


@lru_cache(maxsize=4096)
def word_forms(word: str) -> tuple[str, ...]:
    """The word and its other forms (its lemmas and their inflections, from lemminflect's English tables), the word
    first: "brought" is said where "bring" is asked.

    >>> word_forms("bring")[:1], "brought" in word_forms("bring"), "fall" in word_forms("fell"), word_forms("qwzx")
    (('bring',), True, True, ('qwzx',))
    """
    w = word.strip().lower()
    if w in NUMBER_WORDS:  # "camera three" is written "camera 3"
        return (w, str(NUMBER_WORDS[w]))
    if w.isdigit() and int(w) in NUMBER_NAMES:
        return (w, NUMBER_NAMES[int(w)])
    if not w.isalpha():
        return (w,)
    from lemminflect import getAllInflections, getAllLemmas  # noqa: PLC0415 - its tables load in ~2 s, on first use

    lemmas = {w} | {x for xs in getAllLemmas(w).values() for x in xs}
    forms = set(lemmas) | {x for lemma in lemmas for xs in getAllInflections(lemma).values() for x in xs}
    return (w, *sorted(forms - {w}, key=lambda f: (len(f), f)))


def is_spoken(word: str, spoken: set[str]) -> bool:
    """Whether a question word (or its singular) is among the words said in the video.

    >>> is_spoken("bring", {"please", "bring", "the", "folder"}), is_spoken("folders", {"folder"}), is_spoken("bag", {"baggage"})
    (True, True, False)
    """
    w = word.strip().lower()
    stem = w[:-1] if w.endswith("s") and len(w) > 4 and not w.endswith("ss") else w
    return len(stem) >= 3 and (w in spoken or stem in spoken or any(f in spoken for f in word_forms(w)[1:]))


def about_words(text: str) -> list[str]:
    """The words a thing is said about: "asked about the slides" -> ["slides"]."""
    return [w for w in re.findall(r"\babout (?:the |a |an |his |her |their |my |our )?([a-z][a-z'\-]+)", text) if w not in STOP]


def anchor_labels(anchor: str) -> tuple[list[str], list[str]]:
    """Object labels and sound names an anchor phrase names ("the doorbell" → ringing; "the red car" → car)."""
    words = re.findall(r"[a-z][a-z'\-]*", anchor.lower())
    hear = bool(HEAR_CUES.search(anchor)) or any(sound_labels_for(w) and not OBJECT_SYNONYMS.get(w) for w in words)
    objects, sounds, _ = _entities(anchor.lower(), words, None, hear, bool(SEE_CUES.search(anchor)))
    return objects, sounds
