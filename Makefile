# Two entry points: `make demo` (sandbox up + provision) and `make test` (everything CI checks).
# Each installs what it needs first (scripts/bootstrap) and is safe to re-run.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
export PATH := $(CURDIR)/.venv/bin:$(PATH)
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
export PY_COLORS := 1
export ANSIBLE_FORCE_COLOR := 1

# The sample app release `make demo` deploys (examples/prediction-api: 1.0.0, 2.0.0; 3.0.0 is broken).
DEMO_VERSION ?= 2.0.0
# `make test` runs the suites JOBS at a time from one queue (scripts/run-lanes): a worker takes
# the next suite when its last one ends. The order is the schedule (README, "The profile"):
# deploy, e2e and backup start together; ha and sentinel, the two longest, follow the short
# observability and data (ha started beside deploy and e2e slowed all three: 3,648 s against
# 3,570 s); then foundation and static, and the two shortest, web and newteam, end the queue
# side by side (at 70e0f48, static ran last and alone for its 6 minutes: 3,453 s in all).
# On 2 cores 3 at a time is the measured best: the suites partly wait (health gates,
# failover, renewals, scans, load runs).
SUITES ?= deploy e2e backup observability data ha sentinel foundation static web newteam
JOBS ?= 3
# `make molecule` runs the Molecule scenarios of that list one after another.
SCENARIOS ?= $(filter-out e2e newteam static,$(SUITES))

# Python programs the roles install, without a .py suffix (ruff finds only *.py by itself).
PY_SCRIPTS := roles/redis/files/usr/local/lib/fpops/redis-apply roles/pgbackrest/files/pgbackrest-drill roles/alertmanager/files/fpops-alert-dingtalk scripts/container-cpu scripts/lane-report scripts/role-docs

.PHONY: demo test bootstrap image lint pytest lanes molecule e2e newteam sandbox-down bench

demo: bootstrap image
	fpops sandbox up
	fpops provision sandbox
	examples/prediction-api/build-release $(DEMO_VERSION) .cache/releases >/dev/null
	fpops deploy sandbox $(DEMO_VERSION)
	fpops sandbox status

test: bootstrap image lanes

bootstrap:
	@scripts/bootstrap

image:
	@scripts/build-test-image bookworm
	@scripts/build-test-image trixie
	@scripts/build-warm-image bookworm
	@scripts/build-warm-image trixie

lint:
	yamllint -s .
	ansible-lint --profile production -q
	ansible-playbook --syntax-check -i inventories/sandbox playbooks/*.yml
	ruff check src tests benchmarks roles plugins molecule examples $(PY_SCRIPTS)
	ruff format --check src tests benchmarks roles plugins molecule examples $(PY_SCRIPTS)
	mypy
	cd examples/prediction-api && mypy

pytest:
	pytest -q tests

lanes:
	scripts/run-lanes -j $(JOBS) $(SUITES)

# Scenarios run one after another and are torn down (also when one fails).
molecule:
	@for s in $(SCENARIOS); do \
		echo "== molecule test -s $$s"; \
		molecule test -s $$s || { molecule destroy -s $$s >/dev/null 2>&1; exit 1; }; \
	done

# What `make demo` does, checked: sandbox up, converge over SSH, second converge changed=0.
e2e:
	scripts/sandbox-e2e

# A new team's first day: fpops init, check, provision and deploy on three fresh hosts.
newteam:
	scripts/newteam-e2e

sandbox-down: bootstrap
	fpops sandbox down

bench: bootstrap image
	python benchmarks/converge_noop.py
