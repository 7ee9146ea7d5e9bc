# The two commands a newcomer needs: `make run` and `make test`.
SHELL := /bin/bash
VENV := .venv
TOOLS := $(VENV)/.installed-$(shell sha1sum requirements-dev.txt | cut -c1-12)

.PHONY: run test campaign bench code

# Local tooling (moto, cargo-lambda, boto3), pinned, inside the repo.
$(TOOLS): requirements-dev.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --disable-pip-version-check -q -r requirements-dev.txt
	touch $@

run: $(TOOLS)
	scripts/run-local.sh

test: $(TOOLS)
	scripts/test.sh

# The full bad-input campaign (schemathesis, 550 examples per operation, 2 seeds) on its own
# stack; `make test` runs it small.
campaign: $(TOOLS)
	CAMPAIGN_ONLY=1 CAMPAIGN_EXAMPLES=550 CAMPAIGN_SEEDS="20261127 1127" scripts/test.sh

# Cold starts, per-request AWS calls, sizes and memory of every function against a hello-world
# baseline; writes BENCHMARKS.md.
bench: $(TOOLS)
	bench/run.sh

# The latest code sent to PHONE by the local stack, e.g. `make code PHONE=+8613800138000`.
code:
	@curl -s http://127.0.0.1:$${MOTO_PORT:-4566}/moto-api/data.json | python3 -c 'import json,re,sys; m=[s["message"] for s in json.load(sys.stdin)["sns"]["SMS"] if s["phone_number"]=="$(PHONE)"]; print(re.search(r"\d{6}", m[-1]).group() if m else "no code sent to $(PHONE)")'
