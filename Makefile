# Safenet: the two commands a new user needs are `make demo` and `make test`.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEMO   := demo-out

.PHONY: demo test lint typecheck bench clean sysdeps sysdeps-test

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip==26.3
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/safenet demo --workdir $(DEMO)

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

test: $(STAMP) lint typecheck sysdeps-test
	$(BIN)/pytest -q

# Peer tools for the benchmarks (hashdeep/md5deep; PhotoRec from testdisk; Debian packages).
sysdeps:
	command -v hashdeep >/dev/null || (apt-get update -qq && apt-get install -y -qq hashdeep)
	command -v photorec >/dev/null || (apt-get update -qq && apt-get install -y -qq testdisk)

# Tools the image tests and bench use to build and compare images (Debian packages; only if missing).
sysdeps-test:
	@missing=""; for c in fls:sleuthkit mkfs.ext4:e2fsprogs mkfs.vfat:dosfstools mcopy:mtools mkntfs:ntfs-3g cryptsetup:cryptsetup-bin openssl:openssl sgdisk:gdisk parted:parted mkfs.xfs:xfsprogs pdftotext:poppler-utils chromium:chromium; do \
	  command -v $${c%%:*} >/dev/null || missing="$$missing $${c##*:}"; done; \
	  for p in libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core; do \
	  dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	  if [ -n "$$missing" ]; then apt-get update -qq && apt-get install -y -qq $$missing; fi

bench: $(STAMP) sysdeps sysdeps-test
	$(BIN)/pip install --quiet -e '.[dev,bench]'
	$(BIN)/python bench/bench_triage.py
	$(BIN)/python bench/bench_hashset_store.py
	$(BIN)/python bench/bench_image.py
	$(BIN)/python bench/bench_carve.py
	$(BIN)/python bench/bench_pdq_speed.py
	$(BIN)/python bench/bench_pdq_robustness.py
	$(BIN)/python bench/bench_video.py
	$(BIN)/python bench/bench_executors.py
	$(BIN)/python bench/bench_review.py

clean:
	rm -rf $(VENV) $(DEMO) .pytest_cache .mypy_cache .ruff_cache
