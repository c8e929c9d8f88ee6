"""Check 8: Score-CAM against Grad-CAM (Wang et al. 2020)."""


def test_score_cam_keeps_more_confidence_than_grad_cam_and_a_random_map(results) -> None:
    r = results("score_cam")
    paper, channel = r["mean"]["ScoreCAM (paper: probability increase)"], r["mean"]["ScoreCAM (channel softmax)"]
    grad_cam, random = r["mean"]["GradCAM"], r["mean"]["random map"]
    assert paper["average_drop"] < grad_cam["average_drop"], (paper, grad_cam)
    assert paper["average_drop"] < random["average_drop"], (paper, random)
    assert paper["deletion"] < random["deletion"], (paper, random)
    assert channel["deletion"] < random["deletion"] and channel["insertion"] > random["insertion"], (channel, random)
    # Measured, against the expectation: with the paper's weights (probability increase over the
    # black image) Score-CAM's insertion AUC stays below the random map's (0.47 vs 0.51 in our
    # run), and the channel-softmax variant's Average Drop is no better than random (30% vs
    # 29%). methods.md's numbers used the official code's raw probabilities as weights, which
    # veracity does not offer; the README reports this.
    assert paper["insertion"] < random["insertion"], (paper, random)
    for seed in r["per_seed"]:
        assert seed["no_grad_max_diff"] == 0.0  # Score-CAM runs without gradients
