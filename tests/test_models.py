"""Image model zoo: exact parameter counts, output shapes, one CPU training step."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from models import IMAGE_MODELS, build_image_model, count_parameters

EXPECTED_PARAMS = [
    ("simple_dla", 3, 15_142_970),
    ("simple_dla", 1, 15_142_682),
    ("vgg19", 3, 20_040_522),
    ("resnet18", 3, 11_173_962),
    ("googlenet", 3, 6_166_250),
    ("mobilenetv2", 3, 2_296_922),
    ("mnist_cnn", 1, 1_199_882),
]


def test_registry_names() -> None:
    assert set(IMAGE_MODELS) == {"simple_dla", "vgg19", "resnet18", "googlenet", "mobilenetv2", "mnist_cnn"}


@pytest.mark.parametrize(("name", "in_channels", "expected"), EXPECTED_PARAMS)
def test_parameter_count(name: str, in_channels: int, expected: int) -> None:
    model = build_image_model(name, in_channels=in_channels)
    assert count_parameters(model) == expected


def test_count_parameters_skips_frozen() -> None:
    model = build_image_model("mnist_cnn", in_channels=1)
    model.fc1.requires_grad_(False)
    assert count_parameters(model) == 1_199_882 - (9216 * 128 + 128)


@torch.no_grad()
@pytest.mark.parametrize("name", list(IMAGE_MODELS))
@pytest.mark.parametrize(("channels", "size"), [(3, 32), (1, 28)])
def test_forward_shape(name: str, channels: int, size: int) -> None:
    torch.manual_seed(0)
    model = build_image_model(name, in_channels=channels).eval()
    x = torch.randn(2, channels, size, size)
    if name == "mnist_cnn" and size != 28:
        # Documented limitation: the example CNN's first fc layer is sized for 28x28 input.
        with pytest.raises(ValueError, match="28x28"):
            model(x)
        return
    out = model(x)
    assert out.shape == (2, 10)
    assert torch.isfinite(out).all()


@torch.no_grad()
def test_num_classes_is_respected() -> None:
    model = build_image_model("resnet18", in_channels=1, num_classes=7).eval()
    assert model(torch.randn(2, 1, 28, 28)).shape == (2, 7)


@pytest.mark.parametrize("name", list(IMAGE_MODELS))
def test_one_training_step(name: str) -> None:
    torch.manual_seed(0)
    model = build_image_model(name, in_channels=1).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    x, y = torch.randn(2, 1, 28, 28), torch.tensor([3, 7])
    before = [p.detach().clone() for p in model.parameters()]

    loss = nn.functional.cross_entropy(model(x), y)
    optimizer.zero_grad()
    loss.backward()
    assert torch.isfinite(loss)
    grads = [p.grad for p in model.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    optimizer.step()
    # The step must actually move the weights (e.g. the linear head).
    assert any(not torch.equal(b, p) for b, p in zip(before, model.parameters()))


def test_unknown_name_raises() -> None:
    with pytest.raises(ValueError, match=r"unknown model 'alexnet'; choose one of: simple_dla, vgg19"):
        build_image_model("alexnet")
