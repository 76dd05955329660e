"""Service networking: the gossiped registry (`registry`) and the router that picks an instance and
forwards calls over peer links (`router`); instances themselves are called through `api.instances`."""
