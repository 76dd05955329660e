# The two commands in the README do all the set-up: `make run` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DATA ?= $(CURDIR)/.run/node1

.PHONY: run test test-all bench install build sysdeps bench-sysdeps clean proto

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $(STAMP) $(COMPILED)

# The mesh core and the simulator's engine compiled with mypyc, built by setup.py in place whenever a
# source changed: the extension modules shadow the .py files beside them.
COMPILED := $(VENV)/.compiled
$(COMPILED): $(STAMP) setup.py mypyc.ini $(wildcard mesh/*.py simulations/*.py)
	@# New files, not overwritten ones: a running node has the old ones mapped.
	rm -f mesh/*.so simulations/*.so
	$(BIN)/python setup.py -q build_ext --inplace >/dev/null
	@# An edit that leaves the generated C unchanged (comments, import order) rebuilds nothing: the
	@# extensions are current all the same, and tests/conftest.py compares their times with the sources'.
	touch mesh/*.so simulations/*.so $(COMPILED)

install: $(COMPILED)

build: $(COMPILED)

# System tools the network-namespace tests use (iproute2, iptables); installed
# here so a fresh machine needs nothing by hand.  Skipped when not root.
sysdeps:
	@if [ "$$(id -u)" = "0" ] && ! command -v iptables >/dev/null 2>&1; then \
		(apt-get update -qq && apt-get install -y -qq iproute2 iptables >/dev/null) || \
		echo "warning: could not install iproute2/iptables; netns tests will be skipped"; \
	fi

# The baselines the benchmarks start on free loopback ports: etcd 3.4 (Debian's etcd-server) for
# bench_kv_etcd.py, nats-server (Debian's) and its Python client nats-py for bench_pubsub_nats.py.
# The Debian packages are installed when root and missing.
bench-sysdeps:
	@if [ "$$(id -u)" = "0" ] && { [ ! -x /usr/bin/etcd ] || [ ! -x /usr/sbin/nats-server ]; }; then \
		(apt-get update -qq && apt-get install -y -qq etcd-server nats-server >/dev/null) || \
		echo "warning: could not install etcd-server and nats-server; their benchmarks will fail"; \
	fi
	$(BIN)/pip install -q 'nats-py>=2.6'

# A node with the gateway, helloworld and the blog services under it; Ctrl-C stops them all.
GATEWAY ?= 127.0.0.1:8080
TOKEN_TTL ?= 12h
SERVICES := examples/helloworld examples/blog/posts examples/blog/comments examples/blog/tags
run: $(COMPILED)
	@mkdir -p $(DATA)
	@$(BIN)/micro node start --data-dir $(DATA) --bind 127.0.0.1:7946 --no-mdns --banner --gateway $(GATEWAY) & \
	node=$$!; trap 'kill $$node 2>/dev/null; wait $$node; exit 0' INT TERM; \
	for i in $$(seq 100); do $(BIN)/micro node status --data-dir $(DATA) >/dev/null 2>&1 && break; sleep 0.1; done; \
	for svc in $(SERVICES); do $(BIN)/micro run $$svc --data-dir $(DATA) || { kill $$node; wait $$node; exit 1; }; done; \
	token=$$($(BIN)/micro auth token --data-dir $(DATA) --ttl $(TOKEN_TTL)) || { kill $$node; wait $$node; exit 1; }; \
	echo ""; \
	echo "  The gateway wants a token; this one is the mesh admin's, valid $(TOKEN_TTL) (another: micro auth token --data-dir $(DATA)):"; \
	echo "    export TOKEN=$$token"; \
	echo "  Services (micro status --data-dir $(DATA)); try, once they have registered:"; \
	echo "    curl -s -H \"Authorization: Bearer \$$TOKEN\" -H 'Content-Type: application/json' $(GATEWAY)/helloworld/Helloworld/Call -d '{\"name\": \"Alice\"}'"; \
	echo "    curl -s -H \"Authorization: Bearer \$$TOKEN\" -H 'Content-Type: application/json' $(GATEWAY)/posts/Posts/Save -d '{\"title\": \"Hello world\", \"tags\": [\"intro\"]}'"; \
	echo "    curl -s -H \"Authorization: Bearer \$$TOKEN\" -H 'Content-Type: application/json' $(GATEWAY)/posts/Posts/Query -d '{\"tag\": \"intro\"}'"; \
	echo "    curl -s -H \"Authorization: Bearer \$$TOKEN\" -H 'Content-Type: application/json' $(GATEWAY)/tags/Tags/List -d '{}'"; \
	echo "    curl -s -H \"Authorization: Bearer \$$TOKEN\" $(GATEWAY)/services"; \
	echo "    $(BIN)/micro helloworld call --name Alice --data-dir $(DATA)"; \
	echo "  More in examples/blog/README.md. Ctrl-C stops the node and its services."; \
	wait $$node

test: $(COMPILED) sysdeps
	$(BIN)/pytest -q

test-all: $(COMPILED) sysdeps
	$(BIN)/pytest -q -m ''

bench: $(COMPILED) bench-sysdeps
	@for b in benchmarks/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

# Regenerate the protobuf/gRPC modules of the local API and peer links.
proto:
	$(BIN)/pip install -q grpcio-tools
	cd node/api/proto && ../../../$(BIN)/python -m grpc_tools.protoc -I. --python_out=. --pyi_out=. --grpc_python_out=. *.proto
	sed -i 's/^import \(.*_pb2\) as/from . import \1 as/' node/api/proto/*_pb2_grpc.py

clean:
	rm -rf $(VENV) .run build *.egg-info mesh/*.so simulations/*.so
