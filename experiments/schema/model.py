"""configs/model/*.yaml: the class in ``_target_`` and its settings; the task passes in the rest.

An image model is its file in models/ and its YAML (``name`` and ``_target_``): its keys are
checked against the class's signature. A model with its own rules has a schema here.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import Field, model_validator

from .base import Group, Registry, name, rule

ACTIVATIONS = ("sin", "cos", "tanh")  # models/pinn_mlp.py


class Model(Group):
    """Every model; ``takes`` says which tasks' ``gives`` it fits (by default: an image network;
    the rule is experiments/schema/config.py's)."""

    takes: ClassVar[tuple[str, ...]] = ("28x28 images", "32x32 images")
    name: name()
    target: str = Field(alias="_target_")


class MnistCNN(Model):
    takes = ("28x28 images",)  # its first linear layer is sized for them


class PinnMLP(Model):
    takes = ("points x in [0, 1]",)
    hidden: Annotated[list[Annotated[int, Field(ge=1, le=10_000)]], Field(
        min_length=1, description="a list of one or more layer widths, each an integer in [1, 10000]")]
    activations: Annotated[list[Literal[ACTIVATIONS]], Field(  # type: ignore[valid-type]
        min_length=1, description=f"a list of one or more activations, each one of: {', '.join(ACTIVATIONS)}")]

    @model_validator(mode="after")
    def _one_activation_per_layer(self) -> "PinnMLP":
        if len(self.hidden) != len(self.activations):
            raise rule(f"model.activations has {len(self.activations)} entries but model.hidden has "
                       f"{len(self.hidden)} layers; give one activation per hidden layer")
        return self


MODELS = Registry("model", "_target_", {"models.pinn_mlp.PINNMLP": PinnMLP, "models.mnist_cnn.MnistCNN": MnistCNN},
                  base=Model, supplied=("in_channels", "num_classes"))
