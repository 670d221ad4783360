# Two commands for a fresh machine with only python3:  make lab  |  make test
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.indexnet_edu-installed
# torch is pinned: a looser spec pulls gigabytes of CUDA wheels on a CPU machine.
TORCH  ?= torch==2.13.0
PORT   ?= 8888
ROOT_FLAG = $(if $(filter 0,$(shell id -u)),--allow-root,)

.PHONY: setup lab test test-fast clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet "$(TORCH)"
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@touch $(STAMP)

lab: setup
	@echo "Starting JupyterLab on http://127.0.0.1:$(PORT)/lab (the URL with its token is printed below)"
	$(BIN)/jupyter lab --ServerApp.ip=127.0.0.1 --ServerApp.port=$(PORT) --no-browser $(ROOT_FLAG) \
		--ServerApp.root_dir=notebooks

test: setup
	$(BIN)/python -m pytest

test-fast: setup
	$(BIN)/python -m pytest tests

clean:
	rm -rf $(VENV) build *.egg-info
