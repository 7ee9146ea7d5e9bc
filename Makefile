# The two commands a newcomer needs: `make run` and `make test`. The long runs have their own
# targets: `make package`, `make soak`, `make campaign`, `make bench`.
SHELL := /bin/bash
VENV := .venv
TOOLS := $(VENV)/.installed-$(shell sha1sum requirements-dev.txt | cut -c1-12)
DEPLOY_TOOLS := $(VENV)/.deploy-installed-$(shell cat requirements-dev.txt requirements-deploy.txt | sha1sum | cut -c1-12)

.PHONY: adyen-browser adyen-notify webhooks-listen run test tools deploy-tools package soak campaign bench load code

# Local tooling (moto, cargo-lambda, boto3, schemathesis, cfn-lint), pinned, inside the repo.
# uv (pinned, from PyPI) installs them: about 10 s where pip takes over a minute.
UV_VERSION := 0.13.9
$(TOOLS): requirements-dev.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --disable-pip-version-check -q uv==$(UV_VERSION)
	$(VENV)/bin/uv pip install --python $(VENV)/bin/python -q -r requirements-dev.txt
	touch $@
tools: $(TOOLS)

# What packaging adds: SAM CLI and zig (links the arm64 bootstraps), pinned.
$(DEPLOY_TOOLS): $(TOOLS) requirements-deploy.txt
	$(VENV)/bin/uv pip install --python $(VENV)/bin/python -q -r requirements-dev.txt -r requirements-deploy.txt
	touch $@
deploy-tools: $(DEPLOY_TOOLS)

# `make run ACQUIRER=adyen`: the Adyen adapter against a local stand-in built from its contract.
ACQUIRER ?= sandbox
run: $(TOOLS)
	ACQUIRER=$(ACQUIRER) scripts/run-local.sh

# One signed Adyen notification to the local stack (`make run ACQUIRER=adyen`), e.g.
# make adyen-notify EVENT=CAPTURE_FAILED REFERENCE=pay_… PSP=ANY ORIGINAL=<pspReference> VALUE=1999
# The checkout page through 3-D Secure in headless Chromium, against `make run ACQUIRER=adyen`.
adyen-browser:
	scripts/browser-tools.sh >/dev/null && node tests/browser/three_ds.mjs

SUCCESS ?= true
adyen-notify: $(TOOLS)
	export ACQUIRER=adyen && source scripts/local-env.sh && \
	  $(VENV)/bin/python scripts/adyen_standin.py notify $(EVENT) $(REFERENCE) $(PSP) $(ORIGINAL) $(VALUE) $(SUCCESS)

# A receiver on 127.0.0.1 that registers itself as an endpoint of the local stack (`make run`),
# verifies every delivery's signature and prints each event (as `stripe listen`).
PORT ?= 4599
webhooks-listen:
	python3 scripts/webhooks_listen.py $(PORT)

# Every behaviour, in minutes: formatting, the template, the build, clippy, every test.
test:
	scripts/test.sh

# The deployable artefacts: every function's arm64 release bootstrap in one
# `cargo lambda build`, sizes recorded in BENCHMARKS.md; the SAM template validated.
package: $(DEPLOY_TOOLS)
	scripts/package.sh

# The fixed-rate load ladder (locust, pinned, in a venv of its own), then GET-only ladders (oha):
# achieved rate, p50/p99 and answers per offered rate, then the checks (no 5xx at a sustained rate, every payment readable,
# one SMS per code sent, no order paid twice); the table goes into BENCHMARKS.md.
LOAD_VENV := .venv-load
LOAD_TOOLS := $(LOAD_VENV)/.installed-$(shell sha1sum requirements-load.txt | cut -c1-12)
$(LOAD_TOOLS): requirements-load.txt $(TOOLS)
	python3 -m venv $(LOAD_VENV)
	$(LOAD_VENV)/bin/pip install --disable-pip-version-check -q uv==$(UV_VERSION)
	$(LOAD_VENV)/bin/uv pip install --python $(LOAD_VENV)/bin/python -q -r requirements-load.txt
	touch $@
# oha (crates.io, pinned) drives the GET-only ladders at a fixed query rate (`oha -q`).
OHA_VERSION := 1.16.0
OHA := $(LOAD_VENV)/oha-$(OHA_VERSION)/bin/oha
$(OHA): | $(LOAD_TOOLS)
	cargo install oha --version $(OHA_VERSION) --locked --quiet --root $(LOAD_VENV)/oha-$(OHA_VERSION)
load: $(TOOLS) $(LOAD_TOOLS) $(OHA)
	OHA=$(OHA) scripts/load.sh

# The long campaigns: 1,000-round verify race, 200-round idempotency race, 10,000 cases per
# property, the full bad-input campaign; figures recorded in docs/reliability.md.
soak:
	MODE=soak scripts/test.sh

# The full bad-input campaign alone (schemathesis, 550 examples per operation, 2 seeds).
campaign:
	MODE=campaign scripts/test.sh

# Cold starts, per-request AWS calls, sizes and memory of every function against a hello-world
# baseline; writes BENCHMARKS.md. Sizes come from `make package`'s arm64 build.
bench: package
	bench/run.sh

# The latest code sent to PHONE by the local stack, e.g. `make code PHONE=+8613800138000`.
code:
	@curl -s http://127.0.0.1:$${MOTO_PORT:-4566}/moto-api/data.json | python3 -c 'import json,re,sys; m=[s["message"] for s in json.load(sys.stdin)["sns"]["SMS"] if s["phone_number"]=="$(PHONE)"]; print(re.search(r"\d{6}", m[-1]).group() if m else "no code sent to $(PHONE)")'
