VENV := .venv
BIN := $(VENV)/bin

.PHONY: install system-packages run test lint bench bench-peer

# Create .venv from the pinned requirements (again whenever they change).
$(VENV)/.installed: requirements.txt pyproject.toml validator/pyproject.toml
	@echo "Installing TokenIDP into $(VENV) from requirements.txt (first run only; about a minute)..."
	python3 -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	$(BIN)/pip install --quiet --no-deps --editable .
	touch $@
	@echo "Installed. Put the tokenidp command on your PATH with: . $(VENV)/bin/activate"

install: $(VENV)/.installed

# Start the IdP on its embedded defaults: Development, the development key, port 5000.
run: $(VENV)/.installed
	TOKENIDP_ENVIRONMENT=$${TOKENIDP_ENVIRONMENT:-Development} $(BIN)/gunicorn wsgi:app

# Debian packages the end-to-end tests drive, installed when missing (and apt-get allows);
# without them those tests skip and say why.
system-packages:
	@command -v nginx >/dev/null || { command -v apt-get >/dev/null && \
		echo "Installing Debian's nginx for the deployment test..." && \
		apt-get install -y -qq nginx >/dev/null; } || echo "nginx is missing: its test skips"
	@command -v chromium >/dev/null || { command -v apt-get >/dev/null && \
		echo "Installing Debian's chromium for the login page's browser test..." && \
		apt-get install -y -qq chromium >/dev/null; } || echo "chromium is missing: make test fails its browser test"

# Lint, then the whole test suite on every core; here the browser test may not skip.
test: $(VENV)/.installed system-packages
	$(BIN)/ruff check .
	TOKENIDP_REQUIRE_BROWSER=1 $(BIN)/pytest -n auto --dist loadgroup

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# Throughput and cost figures (needs wrk: apt-get install wrk).
bench: $(VENV)/.installed
	$(BIN)/python bench/token_endpoint_bench.py

# TokenIDP against node-oidc-provider 9 in one run (needs wrk, node and npm; about 7 minutes).
bench-peer: $(VENV)/.installed
	$(BIN)/python bench/peer_bench.py
