VENV := .venv
BASE_PYTHON ?= python3
PYTHON ?= $(VENV)/bin/python
PULSE_KAFKA_PORT ?= 9092
PULSE_REDIS_PORT ?= 6379
# The worker, the demo and the tests talk to the services `up` starts.
PULSE_KAFKA_BOOTSTRAP ?= 127.0.0.1:$(PULSE_KAFKA_PORT)
PULSE_REDIS_URL ?= redis://127.0.0.1:$(PULSE_REDIS_PORT)/0
TEST_KAFKA_BOOTSTRAP ?= $(PULSE_KAFKA_BOOTSTRAP)
TEST_REDIS_URL ?= $(PULSE_REDIS_URL)
export PYTHON PULSE_KAFKA_PORT PULSE_REDIS_PORT PULSE_KAFKA_BOOTSTRAP PULSE_REDIS_URL
export TEST_KAFKA_BOOTSTRAP TEST_REDIS_URL

VENV_STAMP := $(VENV)/.installed

.PHONY: venv up down status demo test lint bench

venv: $(VENV_STAMP)

$(VENV_STAMP): pyproject.toml
	test -x $(VENV)/bin/python || $(BASE_PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install -q -e '.[dev]'
	touch $@

up: venv
	scripts/redis.sh start
	scripts/kafka.sh start
	@echo "kafka: 127.0.0.1:$(PULSE_KAFKA_PORT)"
	@echo "redis: redis://127.0.0.1:$(PULSE_REDIS_PORT)/0"

down:
	scripts/kafka.sh stop
	scripts/redis.sh stop

status:
	@rc=0; scripts/redis.sh status || rc=$$?; scripts/kafka.sh status || rc=$$?; exit $$rc

# The main job: the KDD Cup 2015 log (or the synthetic stand-in) end to end.
demo: up
	$(PYTHON) -m worker demo

lint: venv
	$(VENV)/bin/ruff check worker tests bench scripts
	$(VENV)/bin/ruff format --check worker tests bench scripts
	$(VENV)/bin/mypy worker

# Everything: lint, type check, unit and property tests, and the integration
# tests on the real broker and Redis that `up` starts.
test: up lint
	$(PYTHON) -m pytest -p no:cacheprovider

bench: up
	$(PYTHON) bench/throughput.py
