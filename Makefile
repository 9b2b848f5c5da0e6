# calolab: every target creates the virtual environment on a fresh machine.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
TORCH_VERSION ?= 2.13.0

.PHONY: demo test bench lint clean venv

venv: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# the CPU build of torch first (it lies on the machine's disk); the project's torch>=2.13 is then satisfied
	$(BIN)/pip install --quiet torch==$(TORCH_VERSION)
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/calolab demo --output demo-output

test: $(STAMP)
	$(BIN)/python -m pytest -q

# speed figures; the physics studies (bench/reco_studies.py, bench/generation_quality.py) take arguments
# and hours of CPU: see README "Studies"
SPEED_BENCHMARKS = em_shower hadronic_shower generation reco_inference

bench: $(STAMP)
	@for name in $(SPEED_BENCHMARKS); do echo "== bench/$$name.py"; $(BIN)/python bench/$$name.py || exit 1; done

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy

clean:
	rm -rf $(VENV) demo-output build *.egg-info src/*.egg-info
