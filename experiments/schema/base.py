"""The base of every group's schema, and the registry that picks a group's schema from its config."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Union

from pydantic import BaseModel, ConfigDict, Discriminator, Tag

from .values import CHOICE

if TYPE_CHECKING:
    from .config import Config


class Group(BaseModel):
    """One config node: every key declared (an undeclared key is an error), values checked on
    construction. ``check_with(cfg)`` holds the rules that need other groups (run after all of
    them validated)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=False)

    def check_with(self, cfg: "Config") -> None:
        """Rules against other groups; raise ``values.rule(...)``."""


def keys_of(model: type[BaseModel]) -> list[str]:
    """The config keys a schema declares (aliases such as ``_target_`` included)."""
    return [field.alias or name for name, field in model.model_fields.items()]


class Registry:
    """The schemas of one config group, keyed by the value of one key (``name`` or ``_target_``)."""

    def __init__(self, group: str, key: str, schemas: dict[str, type[Group]]) -> None:
        self.group, self.key, self.schemas = group, key, dict(schemas)

    def pick(self, node: Any) -> Any:
        return node.get(self.key) if isinstance(node, dict) else None

    def schema_for(self, node: Any) -> type[Group] | None:
        return self.schemas.get(self.pick(node))

    def annotation(self) -> Any:
        """A pydantic discriminated union over the schemas, picked by ``self.key``."""
        members = tuple(Annotated[schema, Tag(tag)] for tag, schema in self.schemas.items())
        allowed = ", ".join(self.schemas)
        return Annotated[Union[members], Discriminator(
            self.pick, custom_error_type=CHOICE, custom_error_message="must be {allowed}",
            custom_error_context={"key": self.key, "allowed": allowed})]
