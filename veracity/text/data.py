"""A small labelled text set built in code: short reviews whose sentiment is carried by one
polarity word (positive 1, negative 0), in several sentence frames."""

from __future__ import annotations

import random

POSITIVE = ("good", "great", "wonderful", "excellent", "delightful", "brilliant", "enjoyable", "superb",
            "lovely", "fantastic")
NEGATIVE = ("bad", "terrible", "awful", "boring", "dreadful", "horrible", "dull", "poor", "disappointing",
            "weak")
SUBJECTS = ("the movie", "the film", "this book", "the concert", "the meal", "the hotel", "our trip",
            "the show", "the game", "the story")
FRAMES = ("{s} was {a}", "i thought {s} was really {a}", "honestly, {s} is {a}",
          "{s} felt {a} from start to finish", "everyone agreed that {s} was {a}", "in the end {s} was quite {a}")


def sentiment_sentences(seed: int = 0) -> tuple[list[str], list[int]]:
    """All 1,200 (frame x subject x polarity word) sentences, shuffled under ``seed``, and
    their labels.

    Example:
        >>> texts, labels = sentiment_sentences()
        >>> len(texts), sum(labels)
        (1200, 600)
    """
    pairs = [(frame.format(s=subject, a=word), int(word in POSITIVE))
             for frame in FRAMES for subject in SUBJECTS for word in POSITIVE + NEGATIVE]
    random.Random(seed).shuffle(pairs)
    return [t for t, _ in pairs], [label for _, label in pairs]
