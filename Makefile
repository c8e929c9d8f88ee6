# Two commands: `make demo` and `make test`. Both create .venv when it is missing.
# torch is installed first and pinned: an unpinned torch would pull a multi-GB CUDA build here.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
TORCH_PIN ?= torch==2.13.0

.PHONY: demo test bench lint clean

$(VENV)/.torch:
	$(PYTHON) -m venv $(VENV)
	$(PY) -c "import torch" 2>/dev/null || $(PIP) install -q $(TORCH_PIN)
	touch $@

$(VENV)/.demo: $(VENV)/.torch pyproject.toml
	$(PIP) install -q -e ".[demo]"
	touch $@

$(VENV)/.dev: $(VENV)/.torch pyproject.toml
	$(PIP) install -q -e ".[dev]"
	touch $@

$(VENV)/.bench: $(VENV)/.dev
	$(PIP) install -q -e ".[bench]"
	touch $@

demo: $(VENV)/.demo
	$(PY) -m veracity.demo

test: $(VENV)/.dev
	$(PY) -m pytest -q -n 2 --dist loadfile

bench: $(VENV)/.bench
	$(PY) benchmarks/run.py

lint: $(VENV)/.dev
	$(PY) -m ruff check veracity tests benchmarks

clean:
	rm -rf $(VENV) out build *.egg-info
