# The two commands in the README do all the set-up: `make run` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DATA ?= $(CURDIR)/.run/node1

.PHONY: run test test-all bench install sysdeps bench-sysdeps clean proto

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

# System tools the network-namespace tests use (iproute2, iptables); installed
# here so a fresh machine needs nothing by hand.  Skipped when not root.
sysdeps:
	@if [ "$$(id -u)" = "0" ] && ! command -v iptables >/dev/null 2>&1; then \
		(apt-get update -qq && apt-get install -y -qq iproute2 iptables >/dev/null) || \
		echo "warning: could not install iproute2/iptables; netns tests will be skipped"; \
	fi

# etcd 3.4 (Debian's etcd-server), the baseline of benchmarks/bench_kv_etcd.py, which starts its own
# members on free loopback ports.  Installed when root and missing.
bench-sysdeps:
	@if [ "$$(id -u)" = "0" ] && [ ! -x /usr/bin/etcd ]; then \
		(apt-get update -qq && apt-get install -y -qq etcd-server >/dev/null) || \
		echo "warning: could not install etcd-server; bench_kv_etcd.py will fail"; \
	fi

run: $(STAMP)
	@mkdir -p $(DATA)
	$(BIN)/micro node start --data-dir $(DATA) --bind 127.0.0.1:7946 --no-mdns --banner

test: $(STAMP) sysdeps
	$(BIN)/pytest -q

test-all: $(STAMP) sysdeps
	$(BIN)/pytest -q -m ''

bench: $(STAMP) bench-sysdeps
	@for b in benchmarks/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

# Regenerate the protobuf/gRPC modules of the local API and peer links.
proto:
	$(BIN)/pip install -q grpcio-tools
	cd node/proto && ../../$(BIN)/python -m grpc_tools.protoc -I. --python_out=. --pyi_out=. --grpc_python_out=. *.proto
	sed -i 's/^import \(.*_pb2\) as/from . import \1 as/' node/proto/*_pb2_grpc.py

clean:
	rm -rf $(VENV) .run build *.egg-info
