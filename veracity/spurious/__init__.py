"""Can an explanation reveal a spurious correlation? (Adebayo, Muelly, Abelson, Kim, "Post hoc
explanations may be ineffective for detecting unknown spurious correlation", ICLR 2022.)

A known artifact (patch, stripe or tint; :mod:`.artifacts`) is planted on a chosen class of
the digits at a chosen rate (:mod:`.dataset`); a *spurious* model is trained on that data and
a *normal* one on the clean digits (:mod:`.models`). The paper's three metrics
(:mod:`.measures`) score any attribution method (:mod:`.evaluate`): known spurious signal
detection (KSSD: do the maps find the planted pixels?), cause-for-concern (CCM: do the two
models' maps differ on inputs with the artifact?) and false alarm (FAM: do they agree
without it?). :mod:`veracity.spurious.plot` draws them (matplotlib; import it explicitly).

Example:
    >>> from veracity.attr import Saliency
    >>> from veracity.data.toy import toy_cnn
    >>> from veracity.spurious import spurious_digits, spurious_signal_scores
    >>> data = spurious_digits("patch", target_class=0, rate=1.0)
    >>> (spurious, _), (normal, _) = toy_cnn(seed=0), toy_cnn(seed=1)  # in practice: train_spurious_pair(data)
    >>> test = data.test
    >>> scores = spurious_signal_scores(Saliency, spurious, normal, test.images[:8], test.masks[:8],
    ...                                 test.clean[:8], measure="rank_accuracy")
    >>> sorted(scores.means())
    ['ccm', 'fam', 'kssd', 'kssd_random']
"""

from veracity.spurious.artifacts import ARTIFACTS, default_box, plant_artifact
from veracity.spurious.dataset import (
    SpuriousDigits,
    SpuriousSet,
    plant_spurious,
    planted_count,
    spurious_digits,
)
from veracity.spurious.evaluate import (
    SpuriousScores,
    evaluate_methods,
    explain_with,
    markdown_table,
    spurious_signal_scores,
)
from veracity.spurious.measures import (
    MEASURES,
    cause_for_concern,
    chance_level,
    false_alarm,
    known_spurious_signal_detection,
    saliency_images,
)
from veracity.spurious.models import Reliance, artifact_reliance, train_spurious_pair

__all__ = [
    "ARTIFACTS", "default_box", "plant_artifact",
    "SpuriousSet", "SpuriousDigits", "planted_count", "plant_spurious", "spurious_digits",
    "Reliance", "train_spurious_pair", "artifact_reliance",
    "MEASURES", "saliency_images", "known_spurious_signal_detection", "cause_for_concern", "false_alarm",
    "chance_level",
    "SpuriousScores", "explain_with", "spurious_signal_scores", "evaluate_methods", "markdown_table",
]
