# Safenet: the two commands a new user needs are `make demo` and `make test`.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
CROSSCHECK := $(VENV)/.crosscheck
DEMO   := demo-out

.PHONY: demo test lint typecheck bench clean sysdeps sysdeps-test test-data compile axe

# gcc (and Python's headers) build the C extensions (setup.py): safenet._md5mb, the multi-buffer MD5, and
# safenet._blockio, sampling's block reads (hashed with XXH3 in its threads where xxHash's header,
# libxxhash-dev, is there); without them the install still succeeds and Safenet falls back to hashlib,
# os.pread and Python's xxhash, slower.
EXTENSIONS := setup.py src/safenet/_md5mb/md5mb.c src/safenet/_md5mb/md5_core.h src/safenet/_blockio/blockio.c
$(STAMP): pyproject.toml $(EXTENSIONS)
	command -v gcc >/dev/null || (apt-get update -qq && apt-get install -y -qq gcc)
	test -f /usr/include/xxhash.h || (apt-get update -qq && apt-get install -y -qq libxxhash-dev)
	$(PYTHON) -c 'import pathlib, sys, sysconfig; sys.exit(not pathlib.Path(sysconfig.get_paths()["include"], "Python.h").exists())' \
	  || (apt-get update -qq && apt-get install -y -qq python3-dev)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip==26.3
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

# Byte-compile Safenet's own sources, as pip does for an installed wheel (an editable install does not, and
# with PYTHONDONTWRITEBYTECODE set every start-up would compile them again: 0.15 s a run). Fast when current.
compile: $(STAMP)
	$(BIN)/python -m compileall -q src

demo: $(STAMP) compile
	$(BIN)/safenet demo --workdir $(DEMO)

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

# The case and grading tests also run against PostgreSQL: a throwaway loopback cluster (.ci/with-postgres).
test: $(STAMP) lint typecheck sysdeps-test test-data axe $(CROSSCHECK)
	.ci/with-postgres $(BIN)/pytest -q

# Peer tools for the benchmarks (hashdeep/md5deep; PhotoRec from testdisk; fio; Debian packages).
sysdeps:
	command -v hashdeep >/dev/null || (apt-get update -qq && apt-get install -y -qq hashdeep)
	command -v photorec >/dev/null || (apt-get update -qq && apt-get install -y -qq testdisk)
	command -v fio >/dev/null || (apt-get update -qq && apt-get install -y -qq fio)

# Independent implementations the tests cross-check against ('crosscheck' extra): vpdq, Meta's video PDQ. It has
# no wheel, so pip builds it: cmake, g++ and the FFmpeg libraries its CMakeLists asks pkg-config for.
VPDQ_DEBS := pkg-config cmake g++ libavcodec-dev libavformat-dev libavdevice-dev libavfilter-dev libswresample-dev \
	libswscale-dev libavutil-dev
$(CROSSCHECK): $(STAMP)
	@missing=""; for p in $(VPDQ_DEBS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	  if [ -n "$$missing" ]; then apt-get update -qq && apt-get install -y -qq $$missing; fi
	$(BIN)/pip install --quiet -e '.[dev,crosscheck]'
	touch $(CROSSCHECK)

# Tools the image tests and bench use to build and compare images (Debian packages; only if missing).
sysdeps-test:
	@missing=""; for c in fls:sleuthkit mkfs.ext4:e2fsprogs mkfs.vfat:dosfstools mkfs.exfat:exfatprogs mcopy:mtools mkntfs:ntfs-3g cryptsetup:cryptsetup-bin openssl:openssl sgdisk:gdisk parted:parted mkfs.xfs:xfsprogs pdftotext:poppler-utils chromium:chromium adb:adb; do \
	  command -v $${c%%:*} >/dev/null || missing="$$missing $${c##*:}"; done; \
	  for p in libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core; do \
	  dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	  if [ -n "$$missing" ]; then apt-get update -qq && apt-get install -y -qq $$missing; fi

# Third-party benign test media read by tests (never imported): perception's wheel, whose pins conflict with
# ours, fetched without dependencies into .cache/pypi/ (git-ignored) once; tests/analysis/test_video_perception.py.
PERCEPTION_VERSION := 0.9.3
test-data: $(STAMP)
	@ls .cache/pypi/perception-$(PERCEPTION_VERSION)-*.whl >/dev/null 2>&1 || \
	  $(BIN)/pip download --quiet --no-deps --only-binary :all: perception==$(PERCEPTION_VERSION) -d .cache/pypi

# axe-core (MPL-2.0), the accessibility checker the browser tests inject (tests/web/test_browser_a11y.py):
# pinned, installed once into .cache/npm (git-ignored) with Debian's npm (installed when missing).
AXE_VERSION := 4.10.3
axe:
	@grep -qs '"version": "$(AXE_VERSION)"' .cache/npm/node_modules/axe-core/package.json || { \
	  command -v npm >/dev/null || (apt-get update -qq && apt-get install -y -qq nodejs npm); \
	  npm install --prefix .cache/npm --no-save --no-audit --no-fund --silent axe-core@$(AXE_VERSION); }

bench: $(STAMP) compile sysdeps sysdeps-test $(CROSSCHECK)
	$(BIN)/pip install --quiet -e '.[dev,bench,crosscheck]'
	$(BIN)/python bench/bench_triage.py
	$(BIN)/python bench/bench_hashset_store.py
	$(BIN)/python bench/bench_image.py
	$(BIN)/python bench/bench_carve.py
	$(BIN)/python bench/bench_pdq_speed.py
	$(BIN)/python bench/bench_pdq_robustness.py
	$(BIN)/python bench/bench_video.py
	$(BIN)/python bench/bench_executors.py
	$(BIN)/python bench/bench_review.py
	$(BIN)/python bench/bench_pg_review.py

clean:
	rm -rf $(VENV) $(DEMO) .pytest_cache .mypy_cache .ruff_cache
