# Two commands: `make demo` and `make test`. Both create .venv when it is missing.
# torch is installed first and pinned: an unpinned torch would pull a multi-GB CUDA build here.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
TORCH_PIN ?= torch==2.13.0

.PHONY: demo test typecheck reproduce bench bench-anchors parity-anchors lint clean chromium

$(VENV)/.torch:
	$(PYTHON) -m venv $(VENV)
	$(PY) -c "import torch" 2>/dev/null || $(PIP) install -q $(TORCH_PIN)
	touch $@

$(VENV)/.demo: $(VENV)/.torch pyproject.toml
	$(PIP) install -q -e ".[demo]"
	touch $@

# dev: pytest, ruff, mypy; test: the reference libraries the tests compare against (captum 0.9,
# scikit-image, scipy, pandas). captum requires torch>=2.3 only, so the pinned torch stays.
$(VENV)/.dev: $(VENV)/.torch pyproject.toml
	$(PIP) install -q -e ".[dev,test,cli,app]"
	touch $@

# Headless Chromium for the Insights app's browser tests: Debian's package (Playwright's own browser
# download needs a network this machine does not reach). Idempotent: installs only when missing.
chromium:
	@command -v chromium >/dev/null 2>&1 || { if [ "$$(id -u)" = 0 ]; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "chromium missing: apt-get install chromium (as root) for the browser tests"; fi; }

$(VENV)/.bench: $(VENV)/.dev
	$(PIP) install -q -e ".[bench]"
	touch $@

demo: $(VENV)/.demo
	$(PY) -m veracity.demo

typecheck: $(VENV)/.dev
	$(PY) -m mypy

# mypy first, then pytest even when mypy failed (one run reports both); either failing fails `test`.
test: $(VENV)/.dev chromium
	@$(MAKE) --no-print-directory typecheck; typecheck=$$?; \
	$(PY) -m pytest -q -n 2 --dist loadfile; pytest=$$?; \
	test $$typecheck -eq 0 -a $$pytest -eq 0

# The seed papers' results: every script of reproductions/ (tables printed, figures and JSON in
# out/reproductions), then the marked tests that assert each paper's direction on those numbers.
reproduce: $(VENV)/.dev
	$(PY) -m reproductions
	$(PY) -m pytest -q -n 2 --dist loadfile -m reproduction tests/reproductions

bench: $(VENV)/.bench
	$(PY) benchmarks/run.py

# The anchors that need torchvision (Quantus, pytorch-grad-cam) live in their own venv:
# torchvision does not import beside the pinned CPU torch. About 6 GB (a CUDA build of torch
# 2.14.1 that runs on the CPU here); benchmarks/run.py uses it when it exists.
ANCHORS := .venv-anchors
$(ANCHORS)/.ok:
	$(PYTHON) -m venv $(ANCHORS)
	$(ANCHORS)/bin/python -m pip install -q torch==2.14.1 torchvision==0.29.1
	$(ANCHORS)/bin/python -m pip install -q quantus==0.6.0 grad-cam scikit-image captum==0.9.0
	$(ANCHORS)/bin/python -m pip install -q -e .
	touch $@

bench-anchors: $(ANCHORS)/.ok $(VENV)/.bench
	$(PY) benchmarks/run.py

# Parity with Zennit (it imports torchvision, so it runs in the anchors venv): tests marked zennit.
$(ANCHORS)/.zennit: $(ANCHORS)/.ok
	$(ANCHORS)/bin/python -m pip install -q zennit==0.5.1 pytest
	touch $@

parity-anchors: $(ANCHORS)/.zennit
	$(ANCHORS)/bin/python -m pytest -q -p no:cacheprovider -m zennit tests/lrp/test_zennit_parity.py

lint: $(VENV)/.dev
	$(PY) -m ruff check veracity tests benchmarks

clean:
	rm -rf $(VENV) out build *.egg-info
