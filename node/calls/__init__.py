"""Service networking: the gossiped registry (`registry`), the order in which a call tries instances
(`candidates`, pure) and the router that forwards calls over peer links (`router`); instances themselves
are called through `api.instances`."""
