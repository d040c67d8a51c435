# faxout: `make run` starts the gateway, `make test` runs every check. Both install what is missing.
.PHONY: setup run test lint typecheck pytest bench

setup:
	@scripts/setup.sh

run: setup
	.venv/bin/faxout serve

lint: setup
	.venv/bin/ruff check src tests bench
	.venv/bin/ruff format --check src tests bench

typecheck: setup
	.venv/bin/mypy

pytest: setup
	.venv/bin/pytest -n 2 --dist loadfile

test: setup
	.venv/bin/ruff check src tests bench
	.venv/bin/ruff format --check src tests bench
	.venv/bin/mypy
	.venv/bin/pytest -n 2 --dist loadfile

bench: setup
	.venv/bin/python bench/intake.py
