"""Public ids: their length, their characters, and every character equally likely."""

from collections import Counter

from kassa.ids import _ALPHABET, public_id, random_string


def test_a_random_string_has_the_length_asked_and_only_base62_characters():
    for length in (1, 4, 24, 43, 300):
        value = random_string(length)
        assert len(value) == length
        assert set(value) <= set(_ALPHABET)


def test_a_public_id_is_its_prefix_then_24_characters_and_never_repeats():
    ids = {public_id("in") for _ in range(5000)}
    assert len(ids) == 5000
    assert all(value.startswith("in_") and len(value) == 27 for value in ids)


def test_every_character_is_as_likely_as_every_other():
    # 124,000 characters: about 2,000 of each. Taking every byte modulo 62 would make the first eight characters of
    # the alphabet 21 % likelier (5/256 against 1/62): about 420 more each, where chance moves a count by about 44.
    counts = Counter(random_string(124_000))
    assert set(counts) == set(_ALPHABET)
    assert max(abs(n - 2000) for n in counts.values()) < 220
