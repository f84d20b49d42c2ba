"""configs/model/*.yaml: the PINN's MLP, and the image models (only a name), picked by ``model.name``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import model_validator

from .base import Group, Registry
from .values import choice, group_options, integer, list_of, rule

if TYPE_CHECKING:
    from .config import Config

ACTIVATIONS = ("sin", "cos", "tanh")  # models/pinn_mlp.py
IMAGE_MODELS = tuple(m for m in group_options("model") if m != "pinn_mlp")  # models.IMAGE_MODELS (a test keeps them equal)


class PinnMLP(Group):
    name: Annotated[Literal["pinn_mlp"], choice(["pinn_mlp"])]
    hidden: Annotated[list[int], list_of(integer(ge=1, le=10_000), what="a list of one or more layer widths, "
                                                                           "each an integer in [1, 10000]")]
    activations: Annotated[list[str], list_of(choice(ACTIVATIONS), what="a list of one or more activations, "
                                                                        f"each one of: {', '.join(ACTIVATIONS)}")]

    @model_validator(mode="after")
    def _one_activation_per_layer(self) -> "PinnMLP":
        if len(self.hidden) != len(self.activations):
            raise rule(f"model.activations has {len(self.activations)} entries but model.hidden has "
                       f"{len(self.hidden)} layers; give one activation per hidden layer")
        return self

    def check_with(self, cfg: "Config") -> None:
        if cfg.task.name != "helmholtz":
            raise rule(f"model=pinn_mlp does not fit task={cfg.task.name}: the helmholtz task uses model=pinn_mlp, "
                       f"image tasks use an image model ({', '.join(IMAGE_MODELS)})")


class ImageModel(Group):
    """Every image network (models/): only its name; channels and classes come from the task."""

    name: Annotated[str, choice(IMAGE_MODELS)]

    def check_with(self, cfg: "Config") -> None:
        if cfg.task.name == "helmholtz":
            raise rule(f"model={self.name} does not fit task=helmholtz: the helmholtz task uses model=pinn_mlp, "
                       "image tasks use an image model")
        if self.name == "mnist_cnn" and cfg.task.name not in ("mnist", "fashion_mnist"):
            raise rule(f"model=mnist_cnn takes 28x28 images and does not fit task={cfg.task.name}; "
                       "use it with task=mnist or task=fashion_mnist, or pick another model")


MODELS = Registry("model", "name", {"pinn_mlp": PinnMLP, **{m: ImageModel for m in IMAGE_MODELS}})
