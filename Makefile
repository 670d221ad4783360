# Two commands for a fresh machine with only python3:  make lab  |  make test
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.indexnet_edu-installed
# torch is pinned: a looser spec pulls gigabytes of CUDA wheels on a CPU machine.
TORCH  ?= torch==2.13.0
# Where torch comes from. Empty: pip's default index (on this project's machines the pin resolves
# to a local CPU wheel). On a Linux laptop the default index gives the CUDA build (~18 NVIDIA
# packages, gigabytes): `make lab TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu` takes the CPU build.
TORCH_INDEX_URL ?=
TORCH_FROM = $(if $(TORCH_INDEX_URL),--index-url $(TORCH_INDEX_URL) --extra-index-url https://pypi.org/simple,)
PORT   ?= 8888
ROOT_FLAG = $(if $(filter 0,$(shell id -u)),--allow-root,)

# `make test` runs the lessons in quick mode whatever the environment says (minutes on a
# laptop CPU). The full-scale lessons are an explicit opt-in: `make test-full` or `make test FULL=1`
# (hours on a CPU; minutes on a GPU). A notebook cell that runs longer than CELL_TIMEOUT seconds
# fails the run instead of hanging it.
FULL ?= 0
IS_FULL = $(filter 1 yes true,$(FULL))
CELL_TIMEOUT ?= $(if $(IS_FULL),14400,600)
LESSON_MODE = INDEXNET_QUICK=$(if $(IS_FULL),0,1)
# Property tests: `make test` runs what CI runs, hypothesis's "ci" profile (25 examples a
# property); `make test HYPOTHESIS_PROFILE=dev` tries 60.
HYPOTHESIS_PROFILE ?= ci
# Test processes side by side (pytest-xdist), whole files to one process; WORKERS=0 runs in one.
WORKERS ?= 2
XDIST = $(if $(filter 0,$(WORKERS)),-p no:xdist,-n $(WORKERS) --dist loadfile)
# What `make test` collects (default: pyproject's testpaths, i.e. tests/ and notebooks/).
TESTS ?=
# The prerequisite of the test targets (empty: use the interpreter in $(BIN) as it is).
SETUP ?= setup

# pytest exits 5 when it collected nothing: that is a failure here, never a silent pass.
define run_pytest
	@echo "$(LESSON_MODE) INDEXNET_HYPOTHESIS_PROFILE=$(HYPOTHESIS_PROFILE) pytest $(XDIST) --nbval-cell-timeout=$(CELL_TIMEOUT) $(1)"
	@$(LESSON_MODE) INDEXNET_HYPOTHESIS_PROFILE=$(HYPOTHESIS_PROFILE) $(BIN)/python -m pytest $(XDIST) --nbval-cell-timeout=$(CELL_TIMEOUT) $(1); status=$$?; \
	if [ $$status -eq 5 ]; then echo "make: pytest collected no tests (exit 5): failing" >&2; fi; \
	exit $$status
endef

BOOK_DIR ?= build/book

.PHONY: setup lab test test-full test-fast book clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet $(TORCH_FROM) "$(TORCH)"
	$(BIN)/python -m pip install --quiet -e ".[dev,book,fast,triton]" "$(TORCH)"
	@touch $(STAMP)

# binder/lab-settings/overrides.json: no first-launch prompt about Jupyter news, no update checks.
lab: setup
	@echo "Starting JupyterLab on http://127.0.0.1:$(PORT)/lab (the URL with its token is printed below)"
	$(BIN)/jupyter lab --ServerApp.ip=127.0.0.1 --ServerApp.port=$(PORT) --no-browser $(ROOT_FLAG) \
		--ServerApp.root_dir=notebooks --LabApp.news_url=None \
		--LabApp.check_for_updates_class=jupyterlab.handlers.announcements.NeverCheckForUpdate \
		--LabApp.app_settings_dir=$(CURDIR)/binder/lab-settings

test: $(SETUP)
	$(call run_pytest,$(TESTS))

test-full:
	$(MAKE) test FULL=1

test-fast: $(SETUP)
	$(call run_pytest,tests)

# The lessons as a static HTML site: $(BOOK_DIR)/html/index.html (executed in quick mode, cached).
book: $(SETUP)
	$(BIN)/python tools/book.py --out $(BOOK_DIR)

clean:
	rm -rf $(VENV) build *.egg-info
