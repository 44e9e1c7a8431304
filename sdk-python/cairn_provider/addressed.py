"""Refuses what the host hands a provider for an object other than the one
it names: a type the provider does not have, or an id that the identity
fields of the spec beside it do not give.

The host builds every id from the identity fields of the canonical spec
(`ResourceType.id_of`). A provider that addresses the server by the id (a
URL path made of it) while it writes the spec's fields would act on one
object and report another; one that addresses it by the spec would act on
an object the host did not ask about. Either way an input whose id and
spec disagree (a saved plan edited by hand, a host bug) is refused with
`invalid` before the provider's code sees it: `cairn plugin test` checks
this as `foreign-id-refused`.
"""

from __future__ import annotations

from typing import Any, Optional

from .types import MissingIdentity, ProviderError, ProviderInfo, ResourceType


def known(info: ProviderInfo, type_name: str) -> ResourceType:
    """The resource type `type_name` of `info`; raises `invalid` naming the
    types there are when the provider has no such type."""
    resource_type = info.resource_type(type_name)
    if resource_type is None:
        names = ", ".join(t.name for t in info.resource_types)
        raise ProviderError.invalid(f"`{info.name}` has no resource type `{type_name}` (it has {names})")
    return resource_type


def refusal(
    info: ProviderInfo,
    type_name: str,
    id: str,
    desired: Any = None,
    observed: Any = None,
) -> Optional[ProviderError]:
    """Why the object `type_name`/`id`, with its desired spec and observed
    state, is not one `info` manages under that id; `None` when it is.

    The id is checked against the desired spec, or without one (a delete)
    against the observed state. An observed state without its identity
    fields is not held against the id: the host never builds one from it.
    """
    try:
        resource_type = known(info, type_name)
    except ProviderError as error:
        return error
    if desired is not None:
        try:
            built, source = resource_type.id_of(desired), "desired spec"
        except MissingIdentity as missing:
            return ProviderError.invalid(
                f"the desired spec of {type_name} `{id}` has no `{missing.field}`, which identifies it"
            )
    elif observed is not None:
        try:
            built, source = resource_type.id_of(observed), "observed state"
        except MissingIdentity:
            return None
    else:
        return None
    if built == id:
        return None
    return ProviderError.invalid(
        f"the id `{id}` is not the {type_name} its {source} describes, whose identity fields give "
        f"`{built}`: refusing to act on an object other than the one named"
    )
