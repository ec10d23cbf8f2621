# The two README commands: `make demo` and `make test`. Everything else is a helper.
.PHONY: test demo lint unit integration e2e tools cluster-up cluster-down clean-cache

test:           ## install everything, lint, run all test tiers
	bash hack/test.sh

demo:           ## local cluster + operator + a rollout walking its phases
	bash hack/demo.sh

e2e:            ## kind cluster + images + the rollout suite (tests/e2e; ~6 min warm)
	V=$$(bash hack/setup-python.sh) && $$V/bin/pytest tests/e2e -p no:cacheprovider

lint:
	V=$$(bash hack/setup-python.sh) && $$V/bin/ruff check . && $$V/bin/lint-imports

tools:          ## build/install every pinned tool into ~/.cache/hybridstream
	bash hack/build-kube.sh && bash hack/install-debian.sh

cluster-up:
	bash hack/cluster up

cluster-down:
	bash hack/cluster down

clean-cache:    ## forget every cached build (the next run is a cold one)
	rm -rf $${HYBRIDSTREAM_CACHE:-$$HOME/.cache/hybridstream}
