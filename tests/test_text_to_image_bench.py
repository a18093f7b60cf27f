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
