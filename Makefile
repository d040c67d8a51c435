# faxout: `make run` starts the gateway, `make test` runs every check. Both install what is missing.
.PHONY: setup setup-test run test lint typecheck pytest bench

setup:
	@scripts/setup.sh

setup-test:
	@scripts/setup.sh --test

run: setup
	.venv/bin/faxout serve

lint: setup-test
	.venv/bin/ruff check src tests bench
	.venv/bin/ruff format --check src tests bench
	.venv/bin/lint-imports

typecheck: setup-test
	.venv/bin/mypy

pytest: setup-test
	.venv/bin/pytest -n 2 --dist loadfile

test: setup-test
	.venv/bin/ruff check src tests bench
	.venv/bin/ruff format --check src tests bench
	.venv/bin/lint-imports --no-cache
	.venv/bin/mypy
	.venv/bin/pytest -n 2 --dist loadfile

bench: setup-test
	.venv/bin/python bench/intake.py
