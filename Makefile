# Forge Reactor: the two commands are `make run` and `make test`; the rest are their parts.
BUILD_DIR ?= build
JOBS ?= $(shell nproc)

.PHONY: all deps deps-test build run test unit asan fuzz bench clean format

all: build

deps:
	@scripts/deps.sh

deps-test:
	@scripts/deps.sh --test

build: deps
	@cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(BUILD_DIR) -j$(JOBS)

# Installs, builds and starts the server on port 3000 with SQLite under ./data.
run: build
	./$(BUILD_DIR)/reactor serve

# Installs, builds and runs everything: unit and integration tests, the same under
# AddressSanitizer + UndefinedBehaviorSanitizer, and short fuzz runs.
test: deps-test
	@scripts/test.sh

# Parts of `make test`, for quicker loops while developing.
unit: deps-test
	@scripts/test.sh --only normal

asan: deps-test
	@scripts/test.sh --only asan

fuzz: deps-test
	@scripts/test.sh --only fuzz

bench: build
	@scripts/deps.sh --bench
	@bench/http_health.sh

format:
	@clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build build-asan build-fuzz
