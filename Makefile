.PHONY: run test bench chaos lint status

run:    ## set up if needed, then run bot + engine under supervisord (foreground)
	@scripts/run.sh

test:   ## lint, format check and the whole test suite
	@scripts/test.sh

bench:  ## benchmarks (minutes); writes docs/benchmarks-run.md
	scripts/bootstrap.sh test
	.venv/bin/python -m bench.run_all

chaos:  ## long fault-injection runs; writes docs/reliability.md figures
	scripts/bootstrap.sh test
	.venv/bin/python -m chaos.run_all

status: ## supervisorctl status of the running service
	@scripts/ctl.sh status

lint:
	.venv/bin/ruff check . && .venv/bin/ruff format --check .
