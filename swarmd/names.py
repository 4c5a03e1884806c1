"""Deterministic human-readable names ("adjective adjective animal") for peer IDs.

The same peer ID always gives the same name on every node and across versions,
so the word lists below are append-only: reordering or removing a word renames
every peer.
"""

from __future__ import annotations

import hashlib

ADJECTIVES = (
    "agile", "amber", "ancient", "arctic", "bold", "brave", "bright", "brisk", "calm",
    "careful", "clever", "cosmic", "crimson", "curious", "daring", "dusty", "eager",
    "early", "electric", "elegant", "fancy", "fast", "fierce", "fluffy", "flying",
    "foggy", "frosty", "gentle", "giant", "gilded", "glassy", "golden", "graceful",
    "grassy", "green", "grumpy", "hairy", "happy", "hidden", "hollow", "humble", "icy",
    "jolly", "keen", "kind", "large", "lazy", "little", "lively", "lone", "loud",
    "lucky", "mellow", "mighty", "misty", "modest", "noble", "nimble", "noisy", "odd",
    "pale", "patient", "peaceful", "playful", "polished", "prickly", "proud", "quick",
    "quiet", "rapid", "rare", "restless", "rough", "round", "rugged", "rustic", "scaly",
    "shaggy", "sharp", "shiny", "shy", "silent", "silky", "slender", "sly", "smooth",
    "snappy", "soft", "solar", "sparkly", "spotted", "stealthy", "steady", "stocky",
    "striped", "sturdy", "sunny", "swift", "tall", "tame", "tawny", "thorny", "tiny",
    "tough", "tricky", "twilight", "vast", "velvet", "vibrant", "vigilant", "wary",
    "whiskered", "wild", "wily", "windy", "wise", "woolly", "zealous",
)

ANIMALS = (
    "albatross", "alpaca", "ant", "antelope", "armadillo", "badger", "barracuda", "bat",
    "bear", "beaver", "bee", "bison", "boar", "buffalo", "butterfly", "camel", "capybara",
    "caribou", "cat", "chameleon", "cheetah", "chicken", "chinchilla", "cobra", "condor",
    "coral", "cormorant", "coyote", "crab", "crane", "cricket", "crow", "deer", "dingo",
    "dolphin", "donkey", "dove", "dragonfly", "duck", "eagle", "eel", "elephant", "elk",
    "emu", "falcon", "ferret", "finch", "flamingo", "fox", "frog", "gazelle", "gecko",
    "gibbon", "giraffe", "gnu", "goat", "goose", "gorilla", "grasshopper", "hamster",
    "hare", "hawk", "hedgehog", "heron", "hippo", "hornet", "horse", "hyena", "ibis",
    "iguana", "impala", "jackal", "jaguar", "jellyfish", "kangaroo", "kingfisher", "kiwi",
    "koala", "komodo", "lark", "lemur", "leopard", "lion", "lizard", "llama", "lobster",
    "lynx", "macaw", "magpie", "mallard", "mammoth", "manatee", "mandrill", "marmot",
    "meerkat", "mink", "mole", "mongoose", "moose", "mosquito", "moth", "mouse", "mule",
    "narwhal", "newt", "nightingale", "octopus", "okapi", "opossum", "orca", "ostrich",
    "otter", "owl", "ox", "panda", "panther", "parrot", "peacock", "pelican", "penguin",
    "pheasant", "pig", "pigeon", "platypus", "porcupine", "porpoise", "puffin", "puma",
    "python", "quail", "rabbit", "raccoon", "ram", "raven", "reindeer", "rhino", "robin",
    "salamander", "salmon", "scorpion", "seahorse", "seal", "shark", "sheep", "shrew",
    "skunk", "sloth", "snail", "sparrow", "spider", "squid", "squirrel", "starfish",
    "stingray", "stork", "swan", "tapir", "termite", "tiger", "toad", "tortoise",
    "toucan", "trout", "turkey", "turtle", "viper", "vulture", "walrus", "wasp", "weasel",
    "whale", "wolf", "wombat", "woodpecker", "yak", "zebra",
)


def human_name(peer_id: str) -> str:
    """A stable three-word name for ``peer_id``; two adjectives never repeat."""
    digest = hashlib.sha256(peer_id.encode()).digest()
    first = int.from_bytes(digest[0:4], "big") % len(ADJECTIVES)
    second = int.from_bytes(digest[4:8], "big") % (len(ADJECTIVES) - 1)
    if second >= first:
        second += 1
    animal = int.from_bytes(digest[8:12], "big") % len(ANIMALS)
    return f"{ADJECTIVES[first]} {ADJECTIVES[second]} {ANIMALS[animal]}"
