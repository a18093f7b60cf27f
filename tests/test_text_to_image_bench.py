"""experiments.text_to_image's pieces: prompts are what they claim, thresholded samples stay
in the data range, and the judge's "all right" is the conjunction of its heads."""

import torch

from minidiff import recipes
from minidiff.data import shapes
from minidiff.experiments import text_to_image as bench
from minidiff.nets import classifier


def test_prompts_have_the_requested_number_of_objects():
    for objects in (1, 2):
        data = bench.prompts(12, objects)
        assert len(data.captions) == len(data.images) == 12
        assert bool((data.labels["count"] == objects - 1).all())
        assert data.captions == shapes.captions(data.labels)


def test_thresholded_samples_end_inside_the_data_range():
    torch.manual_seed(0)
    denoiser = recipes.t2i["tiny", "small"].build()
    with torch.no_grad():  # the UNet starts at zero output: give it weights
        for p in denoiser.parameters():
            p.add_(0.3 * torch.randn_like(p))
    captions = bench.prompts(4, 1).captions
    free = bench.sample(denoiser, captions, 8.0, 3, threshold="none")
    assert free.abs().max() > 1  # the check below can fail
    for name in ("static", "dynamic"):
        images = bench.sample(denoiser, captions, 8.0, 3, threshold=name)
        assert images.shape == (4, 3, 16, 16) and images.abs().max() <= 1 + 1e-6, name


def test_all_right_is_the_conjunction_of_the_heads():
    data = bench.prompts(16, 1)
    torch.manual_seed(0)
    judge = recipes.shapes_classifier.build().eval()
    predicted = classifier.predict(judge, data.images)
    expected = (predicted["shape"] == data.labels["shape"]) & (
        predicted["colour"] == data.labels["colour"]
    )
    torch.testing.assert_close(bench.all_right(judge, data.images, data, 1), expected)


def made_up(shift=0.0, grey_drop=0.0, dynamic_gain=0.0):
    """Per-seed results of 3 sampling seeds: guidance at w = 0, 1, 3, 8; thresholding at 16."""

    def seed(e, pair, every, grey, fd):
        return dict(shape_colour_pct=pair + e, accuracy_pct=every + e, grey_pct=grey + e,
                    fd=fd + e / 10, overshoot_pct=0.0)  # fmt: skip

    es = (-1.0, 0.0, 1.0)
    guidance = {w: [seed(e, 5.5 if w == 0 else 98, 5 if w == 0 else 98 - shift, 50, f)
                    for e in es] for w, f in ((0, 50), (1, 4), (3, 3), (8, 6))}  # fmt: skip
    thresholding = {
        (16, "none"): [seed(e, 90, 80, 50 - grey_drop, 9) for e in es],
        (16, "static"): [seed(e, 90, 80, 50, 9) for e in es],
        (16, "dynamic"): [seed(e, 90, 80 + dynamic_gain, 70, 20) for e in es],
    }
    diversity = {"real": 3.0, 1: [5.0, 5.1, 4.9], 3: [4.0, 4.1, 3.9], 8: [3.0, 3.1, 2.9]}
    return dict(raw=dict(guidance=guidance, thresholding=thresholding, diversity=diversity, n=200))


def test_claims_follow_the_seeds():
    from minidiff.experiments import text_to_image_claims as claims

    verdicts = lambda out: [c["holds"] for c in claims.claims(out)]  # noqa: E731
    # chance at w=0, >= 95 % from w=2, every attribute as good, FD up at w=8, spread down,
    # grey backgrounds kept without thresholding (fails), dynamic not better (fails), greyer
    assert verdicts(made_up()) == [True, True, True, True, True, False, False, True]
    # position lost 20 points; backgrounds saturated; dynamic 10 points better
    changed = verdicts(made_up(shift=20, grey_drop=20, dynamic_gain=10))
    assert changed[2] is False and changed[5:7] == [True, True]
