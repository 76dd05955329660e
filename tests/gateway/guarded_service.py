"""A service for the gateway's auth tests, run as its own process next to a node (MICRO_DATA_DIR):

    Guarded.Touch    {} -> {"runs": N}     counts the runs of every handler but Runs
    Guarded.Write    {} -> {"runs": N}     the same, for accounts holding the scope `writer`
    Guarded.Whoami   {} -> {"account": {"id", "name", "scopes"} | null, "stamped": {micro-account-* metadata},
                           "caller": the calling node's id as the instance sees it}
    Guarded.Runs     {} -> {"runs": N}     how many times the others ran
"""

from __future__ import annotations

from typing import Any

from micro.sdk import Context, Service

service = Service("guarded", version="1.0.0")
runs = 0


def _ran() -> dict[str, int]:
    global runs
    runs += 1
    return {"runs": runs}


@service.endpoint("Guarded.Touch")
async def touch(request: dict[str, Any]) -> dict[str, int]:
    return _ran()


@service.endpoint("Guarded.Write", scopes=["writer"])
async def write(request: dict[str, Any]) -> dict[str, int]:
    return _ran()


@service.endpoint("Guarded.Whoami")
async def whoami(request: dict[str, Any], ctx: Context) -> dict[str, Any]:
    _ran()
    account = ctx.account
    shown = None if account is None else {"id": account.id, "name": account.name, "scopes": list(account.scopes)}
    stamped = {key: value for key, value in ctx.metadata.items() if key.startswith("micro-account-")}
    return {"account": shown, "stamped": stamped, "caller": ctx.caller}


@service.endpoint("Guarded.Runs")
async def count(request: dict[str, Any]) -> dict[str, int]:
    return {"runs": runs}


if __name__ == "__main__":
    service.run()
