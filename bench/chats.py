"""Long, casual, multi-session chats between two people, with labelled questions: the recall benchmark's data.

    python -m bench.chats [--conversations 3] [--seed 11]   # prints one conversation and its questions

Each conversation is one person (stored as the user) talking with a friend
(stored as the assistant's side) over about thirty sessions, days to weeks
apart.  Most turns are small talk.  Between them, storylines unfold: a pet is
adopted and later misbehaves, a sister moves, a job interview becomes an offer,
an ankle is sprained "last Saturday" and heals weeks later.  Facts are told the
way people tell them (names, places, relative dates, typos of attention such as
"lol"), and each storyline has questions asked later in other words than the
turns that answer them: who/what/where questions, "when" questions (the answer
is the date of the turn, which often only says "yesterday"), and questions that
need two turns.  Twelve off-topic questions ask about things never discussed.

The statement templates and the question templates were written separately,
as a person would say and later ask them, before the search was tuned; the
search never sees this module.  Every slot (names, cities, pets, bands…) is
drawn at random per conversation, so topics and words repeat across
storylines and small talk the way they do in real chats.
"""

from __future__ import annotations

import argparse
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

START = datetime(2025, 3, 3, 18, 0, tzinfo=UTC)

FIRST_NAMES = (
    "Ana Ben Chloe Dmitri Elif Farah Goran Hana Ivo Jun Kofi Lena Mateo Nia Omar Priya Quinn Rosa Sven Tomas "
    "Maya Leo Zara Felix Ines Marco Tess Yusuf Greta Raj"
).split()
CITIES = "Lisbon Porto Oslo Kyoto Lima Accra Hanoi Tunis Riga Sofia Cork Bergen Split Graz Malmo Leeds Valencia".split()
PETS = [("dog", "puppy"), ("cat", "kitten"), ("rabbit", "bunny")]
PET_NAMES = "Biscuit Pickle Mochi Pepper Waffles Juniper Noodle Olive Ziggy Clementine".split()
COMPANIES = "Northwind Brightlane Kestrel Halcyon Larkspur Meridian Tallbrook Quillon".split()
ROLES = ["data analyst", "project manager", "UX designer", "QA lead", "account manager", "backend developer"]
HOBBIES = [("pottery", "bowl"), ("woodworking", "stool"), ("watercolour", "landscape"), ("bookbinding", "notebook")]
WEEKDAYS = "Monday Tuesday Wednesday Thursday".split()
SPORTS = "football basketball tennis volleyball squash".split()
BOOKS = [
    "The Overstory",
    "Piranesi",
    "Klara and the Sun",
    "The Dispossessed",
    "Station Eleven",
    "A Gentleman in Moscow",
]
RESTAURANTS = "Casa Lucia|The Copper Pot|Saffron House|Little Tokyo|Bistro Margaux|El Farol".split("|")
DISHES = ["duck ragu", "lamb tagine", "mushroom risotto", "tonkotsu ramen", "octopus", "paneer tikka"]
BANDS = "Radiohead Portishead Kraftwerk Moderat Caribou Khruangbin Fleet-Foxes Phoenix".split()
VENUES = ["Roundhouse", "Apollo", "Paradiso", "Olympia", "Corn Exchange"]
GIFTS = ["a LEGO space shuttle", "a telescope", "a skateboard", "a microscope kit", "a drum pad"]
ALLERGENS = "peanuts shellfish sesame kiwi birch pollen cats".split()
MONTHS = "April May June July August September October November".split()
PRICES = ["480 euros", "650 pounds", "900 dollars", "1,200 euros"]
DISTANCES = ["16", "18", "19", "21"]

SMALL_TALK_A = [
    "hey! how's your week going",
    "ugh, Mondays",
    "lol yes exactly",
    "it's raining again here, of course",
    "did you watch the match last night?",
    "I'm so tired today, barely slept",
    "haha that's amazing",
    "what are you up to this weekend?",
    "just got home, long day",
    "I made pancakes this morning, felt fancy",
    "the neighbours are drilling again",
    "ok talk later!",
    "sorry, was in a meeting all afternoon",
    "I need a holiday honestly",
    "have you tried that new coffee place on the corner?",
    "my phone battery is dying constantly lately",
    "anyway, enough about me, how are you?",
    "it was so hot today, I melted on the bus",
    "good morning :)",
    "I think I'm getting a cold",
    "do you know any good podcasts?",
    "we should get dinner sometime soon",
    "the train was late again, classic",
    "I finally cleaned the flat, feels great",
    "watched a documentary about octopuses, wild animals",
    "can't decide what to cook tonight",
    "my plants are not doing well, too little light",
    "that's a good point actually",
    "haha no way",
    "time flies, it's already the end of the month",
]
SMALL_TALK_B = [
    "haha same here",
    "oh nice! tell me more",
    "that sounds exhausting, hope you get some rest",
    "not much, just working and sleeping lol",
    "yes! I saw it, what a finish",
    "I'm good, busy week but fine",
    "oh no, hope you feel better soon",
    "you deserve a break honestly",
    "I've heard good things about it",
    "ha, I know the feeling",
    "that's great news",
    "totally agree",
    "we should! let me know when you're free",
    "sounds like a plan",
    "I'm doing ok, thanks for asking",
    "love that",
    "wow, really?",
    "same, the weather has been all over the place",
    "try the one about deep sea creatures, it's fun",
    "pasta is always the answer",
    "fair enough",
    "ugh, drilling is the worst",
    "good luck with that!",
    "have a good evening",
]


@dataclass(frozen=True, slots=True)
class Turn:
    speaker: str  # "a" (stored as the user) or "b" (stored as the assistant's side)
    text: str
    at: datetime
    session: int


@dataclass(frozen=True, slots=True)
class Question:
    text: str
    evidence: tuple[int, ...]  # indexes into Conversation.turns; empty for an off-topic question
    kind: str  # "single", "when", "two-turn", "off-topic"


@dataclass(slots=True)
class Conversation:
    person: str
    friend: str
    turns: list[Turn] = field(default_factory=list)
    questions: list[Question] = field(default_factory=list)


# A storyline: beats told in later and later sessions, and questions about them.
# Each beat: (speaker, statement variants, the friend's replies); questions name the beats they need.
@dataclass(frozen=True, slots=True)
class Beat:
    speaker: str
    variants: tuple[str, ...]
    replies: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Story:
    beats: tuple[Beat, ...]
    questions: tuple[tuple[str, tuple[int, ...], str], ...]  # (question variants joined by '|', beats, kind)


STORIES = (
    Story(
        (
            Beat(
                "a",
                (
                    "We finally adopted a {pet_young} from the shelter!! We're calling her {pet_name}",
                    "so… we brought home a little {pet} from the rescue centre today. {pet_name} is her name",
                ),
                ("omg congrats!! send pictures", "aww {pet_name} is such a cute name"),
            ),
            Beat(
                "a",
                (
                    "{pet_name} chewed through my laptop charger lol, 30 quid gone",
                    "guess who ate my charger cable. the {pet}. thanks {pet_name}.",
                ),
                ("haha classic", "oh no, rookie mistake leaving cables out"),
            ),
        ),
        (
            ("What did I name the animal I got from the shelter?|What's my pet called?", (0,), "single"),
            ("Which of my things got destroyed by my pet?|What did my pet break?", (1,), "single"),
            ("When did I adopt my pet?", (0,), "when"),
        ),
    ),
    Story(
        (
            Beat(
                "a",
                (
                    "my sister {sister} just signed a lease in {city}, she's moving next month",
                    "{sister} got the flat in {city}! my little sis is leaving in a few weeks",
                ),
                ("that's a big move, is she excited?", "wow {city}, lucky her"),
            ),
            Beat(
                "a",
                (
                    "spent yesterday carrying {sister}'s boxes up four floors, my back is destroyed",
                    "helped my sister move in yesterday, no lift, never again",
                ),
                ("you're a good sibling haha", "ouch, stretch tonight"),
            ),
        ),
        (
            ("Which city does my sister live in now?|Where did my sister relocate to?", (0,), "single"),
            ("When did I help my sister move into her new place?", (1,), "when"),
            ("What is my sister's name and where did she move?", (0, 1), "two-turn"),
        ),
    ),
    Story(
        (
            Beat(
                "a",
                (
                    "had the interview at {company} this morning, I think it went ok?",
                    "interview at {company} done. they asked about spreadsheets for an hour",
                ),
                ("fingers crossed!", "I'm sure you did great"),
            ),
            Beat(
                "a",
                (
                    "GOT THE OFFER from {company}!!! starting as {role} in {month}",
                    "{company} called, I got it! I'll be their new {role}, start in {month}",
                ),
                ("YESSS congratulations!!", "so proud of you, we need to celebrate"),
            ),
        ),
        (
            ("Which employer offered me a job?|Who hired me?", (1,), "single"),
            ("What will my job title be at the new job?|What position did I accept?", (1,), "single"),
            ("When was my job interview?", (0,), "when"),
            ("When do I start at the new company and what role is it?", (1,), "single"),
        ),
    ),
    Story(
        (
            Beat(
                "a",
                (
                    "signed up for a {hobby} class at the community centre, {weekday}s at 7",
                    "I'm doing a {hobby} course now! every {weekday} evening",
                ),
                ("ooh fun, I'd love to try that", "nice, a new hobby"),
            ),
            Beat(
                "a",
                (
                    "made my first {thing} in class tonight, it's wonky but I love it",
                    "look at this {thing} I made, the teacher said it's 'characterful' lol",
                ),
                ("it looks great honestly", "characterful is a compliment!"),
            ),
        ),
        (
            ("Which evening do I have my class?|What day of the week is my course?", (0,), "single"),
            ("What did I make in my hobby class?", (1,), "single"),
            ("What kind of course did I sign up for at the community centre?", (0,), "single"),
        ),
    ),
    Story(
        (
            Beat(
                "a",
                (
                    "booked flights to {city2} for {friend}'s wedding in {month2}",
                    "{friend} is getting married in {city2} in {month2}, flights booked!",
                ),
                ("a wedding abroad, amazing", "so exciting, what will you wear?"),
            ),
            Beat(
                "a",
                (
                    "back from {city2}! the ceremony was on a boat and {friend} cried through the vows",
                    "what a weekend. {friend}'s wedding was on a boat on the river, so beautiful",
                ),
                ("on a boat?! that's so romantic", "aww, welcome back"),
            ),
        ),
        (
            ("Whose wedding did I travel to?|Which friend got married?", (0,), "single"),
            ("Where exactly was the wedding ceremony held?", (1,), "single"),
            ("Which city did I fly to for a wedding, and what was special about the ceremony?", (0, 1), "two-turn"),
        ),
    ),
    Story(
        (
            Beat(
                "a",
                (
                    "sprained my ankle playing {sport} last Saturday, it's purple",
                    "rolled my ankle at {sport} on Saturday, hobbling around now",
                ),
                ("ouch!! ice it", "oh no, take it easy"),
            ),
            Beat(
                "a",
                (
                    "physio says the ankle needs three more weeks before I can play again",
                    "ankle update: three more weeks of rest, says the physio",
                ),
                ("patience, it'll heal", "boring but worth it"),
            ),
        ),
        (
            ("How did I get injured?|What happened to my foot?", (0,), "single"),
            ("When did I hurt my ankle?", (0,), "when"),
            ("How long did the physiotherapist say my recovery would take?", (1,), "single"),
        ),
    ),
    Story(
        (
            Beat(
                "a",
                (
                    "{friend2} lent me '{book}', I'm halfway through and can't put it down",
                    "reading '{book}' now, {friend2} insisted I borrow it",
                ),
                ("I loved that one!", "oh what's it about?"),
            ),
        ),
        (
            ("Which novel am I reading?|What book was I lent?", (0,), "single"),
            ("Who lent me a book?", (0,), "single"),
        ),
    ),
    Story(
        (
            Beat(
                "a",
                (
                    "the car failed its inspection, the brakes need replacing. garage quoted {price}",
                    "MOT fail, brakes are shot. {price} to fix, great",
                ),
                ("ugh cars are money pits", "that's painful"),
            ),
        ),
        (
            ("What was wrong with my car?|Why did my vehicle fail the check?", (0,), "single"),
            ("How much is the repair going to cost me?", (0,), "single"),
        ),
    ),
    Story(
        (
            Beat(
                "a",
                (
                    "dinner at {restaurant} with {friend3} on Friday, the {dish} was unreal",
                    "went to {restaurant} last night with {friend3}, get the {dish}, trust me",
                ),
                ("adding it to my list", "yum, I've never been"),
            ),
        ),
        (
            ("Which restaurant did I go to with {friend3}?|Where did I eat out with {friend3}?", (0,), "single"),
            ("What food did I recommend?", (0,), "single"),
        ),
    ),
    Story(
        (
            Beat(
                "a",
                (
                    "my nephew {nephew} turns {age} on the 14th, any present ideas?",
                    "need a gift for {nephew}, he'll be {age} soon",
                ),
                ("what's he into these days?", "kids that age love building stuff"),
            ),
            Beat(
                "a",
                (
                    "got {nephew} {gift} in the end, he was over the moon",
                    "my nephew loved {gift}, best aunt/uncle award for me",
                ),
                ("you nailed it!", "haha well deserved"),
            ),
        ),
        (
            ("What birthday present did I buy for my nephew?", (1,), "single"),
            ("How old was my nephew turning?", (0,), "single"),
            ("What is my nephew's name and what did I give him?", (0, 1), "two-turn"),
        ),
    ),
    Story(
        (
            Beat(
                "a",
                (
                    "{friend} and I got tickets to see {band} at the {venue}!",
                    "can't believe it, {band} tickets for the {venue}, going with {friend}",
                ),
                ("jealous!!", "they're amazing live"),
            ),
            Beat(
                "a",
                (
                    "{band} played for almost three hours last night, my voice is gone",
                    "last night's gig was incredible, I screamed every song",
                ),
                ("sounds like the best night", "haha rest that voice"),
            ),
        ),
        (
            ("Which band did I see live?|What group's concert did I go to?", (0,), "single"),
            ("When was the concert?", (1,), "when"),
            ("Who came with me to the gig and where was it?", (0,), "single"),
        ),
    ),
    Story(
        (
            Beat(
                "a",
                (
                    "turns out I'm allergic to {allergen}, the doctor did the skin test today",
                    "allergy test results: {allergen}. explains a lot",
                ),
                ("good to finally know", "oh wow, that must be annoying"),
            ),
        ),
        (("What am I allergic to?|What did the skin prick test reveal?", (0,), "single"),),
    ),
    Story(
        (
            Beat(
                "a",
                (
                    "I signed up for the {city3} half marathon in {month3}, what have I done",
                    "entered the {city3} half in {month3}! training starts now",
                ),
                ("you'll smash it", "brave!"),
            ),
            Beat(
                "a",
                (
                    "did a {km} km long run this morning, my legs are jelly",
                    "longest run so far: {km} km. slow but done",
                ),
                ("that's so far!", "impressive, proper training"),
            ),
        ),
        (
            ("What race am I training for?|Which running event did I enter?", (0,), "single"),
            ("How far was my longest training run?", (1,), "single"),
            ("When did I do my long training run?", (1,), "when"),
        ),
    ),
    Story(
        (
            Beat(
                "a",
                (
                    "my manager {manager} is leaving the team, farewell drinks on Friday",
                    "big news at work: {manager} quit. drinks for her on Friday",
                ),
                ("end of an era", "will you get a new boss then?"),
            ),
            Beat(
                "a",
                (
                    "the new team lead started today, seems nice, her name is {lead}",
                    "met my new boss {lead} today, good first impression",
                ),
                ("fingers crossed she's good", "that's a relief"),
            ),
        ),
        (
            ("Who was my boss before she left?|Which manager resigned?", (0,), "single"),
            ("Who replaced my old manager?", (1,), "single"),
        ),
    ),
    Story(
        (
            Beat(
                "b",
                (
                    "I'm thinking of learning Portuguese before my trip to {city}",
                    "I started Duolingo for Portuguese, {city} in the summer!",
                ),
                ("a", "obrigado is all I know haha"),
            ),
        ),
        (("Which language is my friend learning?|What language did you start studying?", (0,), "single"),),
    ),
)

OFF_TOPIC = (
    "How many moons does Neptune have?",
    "What's my blood type?",
    "Did I ever go skydiving?",
    "What's the name of my piano teacher?",
    "Which university did my father go to?",
    "When does my passport expire?",
    "What colour is my motorbike?",
    "How much did I pay for my guitar?",
    "Where did I go scuba diving?",
    "What's my grandmother's maiden name?",
    "Which gym am I a member of?",
    "What's in my mother's lasagna recipe?",
)


def _slots(rng: random.Random, *, exclude: tuple[str, ...]) -> dict[str, str]:
    names = rng.sample([name for name in FIRST_NAMES if name not in exclude], 10)
    cities = rng.sample(CITIES, 4)
    pet, young = rng.choice(PETS)
    hobby, thing = rng.choice(HOBBIES)
    return {
        "sister": names[0], "friend": names[1], "friend2": names[2], "friend3": names[3], "nephew": names[4],
        "manager": names[5], "lead": names[6], "city": cities[0], "city2": cities[1], "city3": cities[2],
        "pet": pet, "pet_young": young, "pet_name": rng.choice(PET_NAMES), "company": rng.choice(COMPANIES),
        "role": rng.choice(ROLES), "hobby": hobby, "thing": thing, "weekday": rng.choice(WEEKDAYS),
        "sport": rng.choice(SPORTS), "book": rng.choice(BOOKS), "restaurant": rng.choice(RESTAURANTS),
        "dish": rng.choice(DISHES), "band": rng.choice(BANDS), "venue": rng.choice(VENUES),
        "gift": rng.choice(GIFTS), "age": str(rng.randint(6, 12)), "allergen": rng.choice(ALLERGENS),
        "month": rng.choice(MONTHS), "month2": rng.choice(MONTHS), "month3": rng.choice(MONTHS),
        "price": rng.choice(PRICES), "km": rng.choice(DISTANCES),
    }  # fmt: skip


def conversation(
    rng: random.Random, *, sessions: int = 30, turns_per_session: tuple[int, int] = (14, 26)
) -> Conversation:
    """One long chat with its questions (evidence turns labelled), drawn from ``rng``."""
    person, friend = rng.sample(FIRST_NAMES, 2)
    slots = _slots(rng, exclude=(person, friend))
    # Each storyline's beats land in increasing sessions, a few sessions apart.
    planned: dict[int, list[tuple[int, int]]] = {}
    for s, story in enumerate(STORIES):
        session = rng.randrange(0, sessions - 2 * len(story.beats))
        for b in range(len(story.beats)):
            planned.setdefault(session, []).append((s, b))
            session += rng.randint(1, 5)
    where: dict[tuple[int, int], int] = {}
    chat = Conversation(person, friend)
    moment = START
    for session in range(sessions):
        moment += timedelta(days=rng.randint(2, 12), hours=rng.randint(-3, 3))
        length = rng.randint(*turns_per_session)
        beats = planned.get(session, [])
        slots_at = sorted(rng.sample(range(2, length - 1), min(len(beats), length - 3)))
        lines: list[tuple[str, str, tuple[int, int] | None]] = []
        speaker = "a"
        t = 0
        beat_of = dict(zip(slots_at, beats, strict=False))
        while t < length:
            if t in beat_of:
                s, b = beat_of[t]
                beat = STORIES[s].beats[b]
                lines.append((beat.speaker, rng.choice(beat.variants).format(**slots), (s, b)))
                if beat.replies:
                    other = "b" if beat.speaker == "a" else "a"
                    reply = rng.choice([r for r in beat.replies if len(r) > 1] or ["ha"])
                    lines.append((other, reply.format(**slots), None))
                speaker = "a"
            else:
                pool = SMALL_TALK_A if speaker == "a" else SMALL_TALK_B
                lines.append((speaker, rng.choice(pool), None))
                speaker = "b" if speaker == "a" else "a"
            t += 1
        for who, text, key in lines:
            moment += timedelta(minutes=rng.randint(1, 9))
            if key is not None:
                where[key] = len(chat.turns)
            chat.turns.append(Turn(who, text, moment, session))
    for s, story in enumerate(STORIES):
        for variants, beats, kind in story.questions:
            if any((s, b) not in where for b in beats):
                continue
            text = rng.choice(variants.split("|")).format(**slots)
            chat.questions.append(Question(text, tuple(where[(s, b)] for b in beats), kind))
    chat.questions.extend(Question(text, (), "off-topic") for text in OFF_TOPIC)
    return chat


def conversations(count: int = 3, seed: int = 11) -> list[Conversation]:
    """``count`` independent conversations, the same for the same seed."""
    rng = random.Random(seed)
    return [conversation(rng) for _ in range(count)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=3)
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    chats = conversations(args.conversations, args.seed)
    for chat in chats:
        print(f"# {chat.person} and {chat.friend}: {len(chat.turns)} turns, {len(chat.questions)} questions")
    chat = chats[0]
    for i, turn in enumerate(chat.turns):
        print(f"{i:4} {turn.at:%a %Y-%m-%d %H:%M} {chat.person if turn.speaker == 'a' else chat.friend}: {turn.text}")
    for q in chat.questions:
        print(f"Q [{q.kind}] {q.text} -> {list(q.evidence)}")


if __name__ == "__main__":
    main()
