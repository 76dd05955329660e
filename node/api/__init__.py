"""What every process of the mesh shares with its node: the local API's contract.

The generated protobuf modules (`proto`), the error hierarchies and their mappings (`errors`, the node's;
`micro_errors`, Micro's `{id, code, detail, status}`), subject and name rules (`subjects`, `names`), the
limits clients check first (`limits`), the data-dir layout (`datadir`), the read-only KV file reader
(`kvfile`), the call-link framing over gRPC and unix sockets (`calllink`, `socketlink`), calling a
service instance (`instances`) and the CLI's local client (`client`). It imports nothing else of `micro.node`: the SDK, the gateway and the CLI import
this package only, so a service process never loads the agent or the mesh core.
"""
