# parlua: `make run` and `make test` install what is missing, build, and run.
BUILD   ?= build
CMAKE   ?= cmake
JOBS    ?= $(shell nproc)

.PHONY: all deps build run test install lint tsan asan sanitize bench clean format

all: build

deps:
	@./scripts/install-deps

$(BUILD)/build.ninja:
	$(CMAKE) -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo

build: deps $(BUILD)/build.ninja
	$(CMAKE) --build $(BUILD) -j $(JOBS)

run: build
	$(BUILD)/parlua examples/terrain.lua

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

# make install PREFIX=/opt/parlua: the command, parlua.h, libparlua.so and
# .a, parlua.pc and the CMake package (docs/embedding.md)
PREFIX ?= /usr/local
install: build
	$(CMAKE) --install $(BUILD) --prefix $(PREFIX)

# Each sanitizer gets its own build directory; any report fails the run.
tsan: deps
	$(CMAKE) -S . -B build-tsan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DPARLUA_SANITIZE=thread
	$(CMAKE) --build build-tsan -j $(JOBS)
	cd build-tsan && TSAN_OPTIONS="halt_on_error=1 exitcode=66 suppressions=$(CURDIR)/tests/tsan.supp" \
	  ctest --output-on-failure -j $(JOBS)

asan: deps
	$(CMAKE) -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DPARLUA_SANITIZE=address
	$(CMAKE) --build build-asan -j $(JOBS)
	cd build-asan && ASAN_OPTIONS="detect_leaks=1 abort_on_error=1" \
	  UBSAN_OPTIONS="print_stacktrace=1 halt_on_error=1" ctest --output-on-failure -j $(JOBS)

sanitize: tsan asan

bench: deps
	$(CMAKE) -S . -B build-release -G Ninja -DCMAKE_BUILD_TYPE=Release
	$(CMAKE) --build build-release -j $(JOBS)
	./bench/run.sh build-release

clean:
	rm -rf $(BUILD) build-tsan build-asan build-release

SOURCES = include/*.h src/*.c src/*/*.[ch] tests/c/*.c tests/console/*.c examples/*.c

format:
	clang-format -i $(SOURCES)

# The tree is formatted (.clang-format) and its includes point one way.
lint: deps
	clang-format --dry-run -Werror $(SOURCES)
	./scripts/check-layers
