#!/bin/sh
# Regenerates proto/blog_pb2.py, blog_pb2.pyi and blog_pb2_grpc.py from proto/blog.proto
# (needs grpcio-tools: pip install grpcio-tools). The services import them from proto/.
set -e
cd "$(dirname "$0")/proto"
"${PYTHON:-python3}" -m grpc_tools.protoc -I. --python_out=. --pyi_out=. --grpc_python_out=. blog.proto
