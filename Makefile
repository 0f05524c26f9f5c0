# Makefile for the personalize extension (PGXS).
#
#   make && make install       build and install into the PostgreSQL found by pg_config
#   make demo [DATA=dir]       install dependencies, build, run the demo in a throwaway cluster
#   make check                 install dependencies, build, run every test suite
#   make installcheck          pg_regress against a running server (PGPORT etc.)
#   make prove_installcheck    TAP tests (test/t)
#   make pgtapcheck            pgTAP tests (test/pgtap) through pg_prove
#   make loadcheck [SECONDS=n]  the load test for n seconds (300 by default)
#   make valgrindcheck         pg_regress under valgrind memcheck
#   make fuzzcheck [SECONDS=n]  libFuzzer on the filter parser, then the SQL-level
#                              fuzzer, n seconds each (300 by default)

EXTENSION = personalize
EXTVERSION = $(shell grep default_version $(EXTENSION).control | sed -e "s/default_version[[:space:]]*=[[:space:]]*'\([^']*\)'/\1/")

MODULE_big = personalize
OBJS = \
	src/personalize.o \
	src/guc.o \
	src/blas.o \
	src/hyperparams.o \
	src/dataset.o \
	src/dataset_scan.o \
	src/history_scan.o \
	src/matrix.o \
	src/recipe.o \
	src/topk.o \
	src/kernel.o \
	src/compact.o \
	src/scoring_helper.o \
	src/cpu_budget.o \
	src/snapshot_stamp.o \
	src/filter_mask.o \
	src/recipe_popularity.o \
	src/recipe_als.o \
	src/als_kernel.o \
	src/als_parallel.o \
	src/training_helpers.o \
	src/shm_segment.o \
	src/recipe_ease.o \
	src/recipe_sims.o \
	src/recipe_trending.o \
	src/recipe_similar.o \
	src/recipe_metadata.o \
	src/metadata.o \
	src/evaluate.o \
	src/tune.o \
	src/evaluate_split.o \
	src/evaluate_parallel.o \
	src/exploration.o \
	src/model.o \
	src/model_shared.o \
	src/train.o \
	src/worker.o \
	src/filter.o \
	src/filter_parse.o \
	src/filter_values.o \
	src/runtime.o \
	src/campaign_cache.o \
	src/recommend.o \
	src/promotion.o \
	src/context.o
PGFILEDESC = "personalize - recommendations inside PostgreSQL"

# `make demo DATA=dir` names the demo's dataset, but PGXS installs $(DATA):
# keep the command-line value for the demo and override it for PGXS.
DEMO_DATA := $(DATA)
# The current install script is built from sql/personalize.sql; upgrade
# scripts and the install scripts of earlier releases (sql/releases, frozen:
# the upgrade test installs them) are installed as they are.
DATA_built = sql/$(EXTENSION)--$(EXTVERSION).sql
override DATA = $(wildcard sql/$(EXTENSION)--*--*.sql) $(wildcard sql/releases/$(EXTENSION)--*.sql)
DOCS = $(wildcard doc/*.md)

TESTS = $(wildcard test/sql/*.sql)
REGRESS = $(patsubst test/sql/%.sql,%,$(TESTS))
REGRESS_OPTS = --inputdir=test --load-extension=$(EXTENSION)

PROVE_TESTS = test/t/*.pl

# OpenBLAS through pkg-config; override with make BLAS_CFLAGS=... BLAS_LIBS=...
BLAS_CFLAGS ?= $(shell pkg-config --cflags openblas 2>/dev/null)
BLAS_LIBS ?= $(shell pkg-config --libs openblas 2>/dev/null || echo -lopenblas)
OPTFLAGS ?=
PG_CPPFLAGS += $(BLAS_CFLAGS) -DPERSONALIZE_VERSION='"$(EXTVERSION)"'
PG_CFLAGS += $(OPTFLAGS)
SHLIB_LINK += $(BLAS_LIBS)

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# The ALS kernel's dot products are vectorised only if their sums may be
# reassociated (-fassociative-math, which needs the two flags after it); its
# other loops carry "#pragma omp simd" (-fopenmp-simd: no OpenMP runtime, no
# threads).  The order is fixed at compile time, so every process computes
# the same bits.
src/als_kernel.o: CFLAGS += -O3 -fopenmp-simd -fassociative-math -fno-signed-zeros -fno-trapping-math

ifneq ($(shell test $(MAJORVERSION) -ge 15 2>/dev/null && echo ok),ok)
$(error personalize requires PostgreSQL 15 or later, found $(MAJORVERSION))
endif

# The request path's vectorised loops: -O3 lets gcc vectorise them, and
# -fno-trapping-math lets it turn their comparisons into blends (they rely
# on no floating-point exception).  See src/kernel.c.
src/kernel.o src/compact.o: override CFLAGS += -O3 -fno-trapping-math

# PGXS tracks no header dependencies: rebuild everything when a header changes.
$(OBJS): $(wildcard src/*.h)

sql/$(EXTENSION)--$(EXTVERSION).sql: sql/$(EXTENSION).sql
	cp $< $@

.PHONY: demo pgtapcheck deps bench loadcheck valgrindcheck fuzzcheck

pgtapcheck:
	pg_prove --ext .sql test/pgtap/

deps:
	bash test/scripts/deps.sh

# make bench [SCALE=small|full]: figures printed and written to bench/results/
bench:
	SCALE=$(or $(SCALE),small) bash test/scripts/bench.sh

# make loadcheck [SECONDS=300]: the load test (test/t/008_load.pl), which
# make check runs for 20 seconds, for several minutes
loadcheck:
	PERSONALIZE_LOAD_SECONDS=$(or $(SECONDS),300) ONLY_TAP=test/t/008_load.pl bash test/scripts/check.sh

# make fuzzcheck [SECONDS=300]: the libFuzzer target on the filter parser,
# then the SQL-level mutation fuzzer (test/t/009_fuzz.pl, which make check
# runs for one round), each for that long
fuzzcheck:
	SECONDS_EACH=$(or $(SECONDS),300) bash test/scripts/fuzz.sh

# make valgrindcheck: the pg_regress suite against a server under valgrind,
# failing on any memory error with a frame of personalize.so on its stack
valgrindcheck:
	bash test/scripts/valgrind.sh

demo:
	bash test/scripts/demo.sh $(if $(DEMO_DATA),--data $(DEMO_DATA))

# PGXS's own "check" only says it is unsupported for extensions; ours sets up a
# throwaway cluster and runs every suite (test/scripts/check.sh), so make prints
# one "overriding recipe" warning here.
check:
	bash test/scripts/check.sh
