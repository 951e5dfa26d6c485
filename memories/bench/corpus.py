"""Generated, non-repeating text for the benchmark and the search tests: what a child tells a
toy, and what a toy server asks before it answers. Seeded, so a run can be repeated."""

from __future__ import annotations

import random

NAMES = ["Arjun", "Maya", "Leo", "Zara", "Omar", "Ivy", "Noah", "Priya", "Sam", "Lina", "Kofi", "Mei", "Tom",
         "Aisha", "Ben", "Chloe", "Diego", "Ella", "Finn", "Grace", "Hugo", "Isla", "Jonah", "Kira"]
FAMILY = ["mum", "dad", "grandma", "grandpa", "big sister", "little brother", "aunt", "uncle", "cousin"]
PETS = ["a puppy called Biscuit", "a cat named Pepper", "two goldfish", "a hamster called Nibbles",
        "a rabbit named Clover", "a tortoise called Sheldon", "a budgie named Sky", "no pets yet"]
ANIMALS = ["dinosaurs", "the T-rex", "sharks", "owls", "elephants", "penguins", "octopuses", "tigers",
           "butterflies", "wolves", "dolphins", "giraffes", "frogs", "bees", "horses", "pandas"]
HOBBIES = ["football", "drawing", "building lego", "painting", "swimming", "reading comics", "ballet",
           "chess", "riding a bike", "baking cookies", "playing the piano", "karate", "gardening",
           "skateboarding", "making paper planes", "singing", "climbing trees", "video games"]
FOODS = ["pizza", "pancakes", "strawberries", "pasta with cheese", "mango", "chocolate ice cream",
         "rice and dal", "fish fingers", "apples", "noodles", "tacos", "carrot sticks", "sushi"]
DISLIKES = ["broccoli", "loud thunder", "the dark", "spiders", "mushrooms", "going to the dentist",
            "cold baths", "wasps", "tidying up", "early mornings"]
PLACES = ["the park", "school", "the beach", "grandma's house", "the library", "the zoo", "the museum",
          "the swimming pool", "the forest", "the playground", "the farm", "the aquarium"]
FEELINGS = ["happy", "sad", "scared", "excited", "proud", "nervous", "grumpy", "shy", "curious", "brave"]
TIMES = ["on Saturdays", "after school", "before bed", "in the morning", "at lunch", "on Sunday evenings",
         "during the holidays", "on rainy days", "every Wednesday", "at the weekend"]
TOPICS = ["space rockets", "volcanoes", "trains", "robots", "pirates", "castles", "the ocean", "magic tricks",
          "the solar system", "the weather", "fossils", "knights", "cars", "submarines", "the human body"]
COLOURS = ["red", "blue", "green", "purple", "yellow", "orange", "pink", "silver", "gold", "turquoise"]

MEMORY_TEMPLATES = [
    "{child} loves {animals} and wants to see real ones at {places}",
    "{child}'s best friend is {names}; they play {hobbies} together {times}",
    "{child} felt {feelings} about {topics} {times}",
    "{child} has {pets}",
    "{child}'s favourite food is {foods}, but {child} does not like {dislikes}",
    "{child} goes to {hobbies} practice {times} with {family}",
    "{child} is learning about {topics} at {places}",
    "{child} gets {feelings} about {dislikes}",
    "{child}'s favourite colour is {colours} and {child} likes {colours} {animals} drawings",
    "{child} visited {places} with {family} and saw {animals}",
    "{child} wants to be an expert on {topics} when {child} grows up",
    "{child} told the toy that {names} was {feelings} {times}",
    "{child} and {family} bake {foods} {times}",
    "{child} built a model of {topics} from cardboard",
    "{child} is {feelings} because {family} promised a trip to {places}",
]
QUERY_TEMPLATES = [
    "what does the child know about {topics}",
    "who is {names}",
    "does the child have a pet",
    "how does the child feel about {dislikes}",
    "what food does the child like, maybe {foods}",
    "tell me about {hobbies}",
    "has the child been to {places}",
    "what animals does the child like, like {animals}",
    "what happens {times}",
    "is the child {feelings} about anything",
    "favourite colour {colours}",
    "what does {family} do with the child",
    "{animals} and {topics}",
    "the child was talking about {hobbies} and {places}",
]
SLOTS = {"names": NAMES, "family": FAMILY, "pets": PETS, "animals": ANIMALS, "hobbies": HOBBIES,
         "foods": FOODS, "dislikes": DISLIKES, "places": PLACES, "feelings": FEELINGS, "times": TIMES,
         "topics": TOPICS, "colours": COLOURS}


def _fill(rng: random.Random, template: str, child: str) -> str:
    values = {slot: rng.choice(words) for slot, words in SLOTS.items()}
    return template.format(child=child, **values)


def memories(n: int, *, seed: int = 7, child: str = "Rahul") -> list[str]:
    """``n`` different memories about one child (a repeat is redrawn, then numbered)."""
    rng, seen, out = random.Random(seed), set(), []
    while len(out) < n:
        text = _fill(rng, rng.choice(MEMORY_TEMPLATES), child)
        if text in seen:
            text = f"{text} ({len(out)})"
        seen.add(text)
        out.append(text)
    return out


def queries(n: int, *, seed: int = 11) -> list[str]:
    """``n`` different questions a toy server might search with."""
    rng, seen, out = random.Random(seed), set(), []
    while len(out) < n:
        text = _fill(rng, rng.choice(QUERY_TEMPLATES), "the child")
        if text in seen:
            text = f"{text}, again {len(out)}"
        seen.add(text)
        out.append(text)
    return out
