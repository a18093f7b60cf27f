"""viz draws what it is given on an Axes; show returns the real source of library objects."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from minidiff import samplers, train, viz  # noqa: E402
from minidiff.data import toy2d  # noqa: E402
from minidiff.show import show  # noqa: E402


def test_show_returns_the_source():
    code = show(samplers.ddim, toy2d.GaussianMixture.score)
    text = code.data
    assert "def ddim(" in text and "def score(" in text and "eta" in text


def test_viz_draws_on_the_axes_it_is_given():
    fig, axes = plt.subplots(1, 4)
    x = torch.randn(50, 2)
    viz.scatter_2d(axes[0], x, title="samples")
    assert len(axes[0].collections[0].get_offsets()) == 50 and axes[0].get_title() == "samples"
    viz.density_2d(axes[1], toy2d.ring(dtype=torch.float64).log_prob, n=20)
    image = axes[1].images[0].get_array()
    assert image.shape == (20, 20) and image.max() > 0
    viz.trajectories(axes[2], torch.randn(5, 10, 2), n=4)
    assert len(axes[2].lines) == 4
    history = train.History(steps=[1, 2, 3], loss=[3.0, 2.0, 1.0], val_steps=[3], val_loss=[1.5])
    viz.loss_curve(axes[3], history)
    assert len(axes[3].lines) == 2
    plt.close(fig)


def test_image_grid_places_each_image_in_its_cell():
    fig, ax = plt.subplots()
    images = torch.linspace(-1, 1, 5).reshape(5, 1, 1, 1).expand(5, 3, 2, 3)  # flat colours
    viz.image_grid(ax, images, nrow=3, pad=1)
    canvas = ax.images[0].get_array()
    assert canvas.shape == (2 * 3 + 1, 3 * 4 + 1, 3)  # 2 rows x 3 columns of 2x3 images
    for i, value in enumerate(torch.linspace(0, 1, 5).tolist()):
        top, left = 1 + (i // 3) * 3, 1 + (i % 3) * 4
        assert abs(float(canvas[top : top + 2, left : left + 3].mean()) - value) < 1e-6
    assert float(canvas[0].min()) == 1.0  # the padding is white
    with pytest.raises(ValueError, match="images: expected"):
        viz.image_grid(ax, torch.zeros(2, 2, 4, 4))
    plt.close(fig)


def test_canvas_draws_the_image_and_one_line_per_boundary():
    fig, ax = plt.subplots()
    image = torch.linspace(-1, 1, 12).reshape(1, 3, 4).expand(3, 3, 4)
    viz.canvas(ax, image, rows={2}, cols=[1, 3])
    assert torch.allclose(torch.as_tensor(ax.images[0].get_array()[..., 0]), (image[0] + 1) / 2)
    assert sorted(line.get_ydata()[0] for line in ax.lines[:1]) == [1.5]
    assert sorted(line.get_xdata()[0] for line in ax.lines[1:]) == [0.5, 2.5]
    with pytest.raises(ValueError, match="image: expected"):
        viz.canvas(ax, torch.zeros(2, 3, 4, 4))
    plt.close(fig)
