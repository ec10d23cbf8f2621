# The two README commands: `make demo` and `make test`. Everything else is a helper.
.PHONY: test demo lint unit integration e2e crds tools cluster-up cluster-down clean-cache

test:           ## install everything, lint, run all test tiers
	bash hack/test.sh

demo:           ## local cluster + operator + a rollout walking its phases
	V=$$(bash hack/setup-python.sh) && $$V/bin/python -m hack.demo

unit:           ## the unit tier alone (tests/unit; about 20 s), same setup as make test
	bash hack/test.sh unit

integration:    ## the integration tier alone (tests/integration, two xdist workers; about 15 min warm)
	bash hack/test.sh integration

e2e:            ## kind cluster + images + the rollout suite (tests/e2e; about 20 min warm)
	bash hack/test.sh e2e

lint:           ## ruff and import-linter, as make test runs them
	V=$$(bash hack/setup-python.sh) && $$V/bin/ruff check . && $$V/bin/lint-imports

crds:           ## regenerate crds/ from the pydantic models and copy them into the chart
	V=$$(bash hack/setup-python.sh) && $$V/bin/python -m hybridstream_operator.crdgen
	bash hack/sync-chart-crds.sh

tools:          ## build/install every pinned tool into ~/.cache/hybridstream
	bash hack/build-kube.sh && bash hack/install-debian.sh

cluster-up:
	bash hack/cluster up

cluster-down:
	bash hack/cluster down

clean-cache:    ## forget every cached build (the next run is a cold one)
	rm -rf $${HYBRIDSTREAM_CACHE:-$$HOME/.cache/hybridstream}
