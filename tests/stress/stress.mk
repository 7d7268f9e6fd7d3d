# Reliability stress: real, unmodified programs with and without the shim (tests/stress/run.sh).
stress: all test-programs $(BUILD)/bench/churn
	bash tests/stress/run.sh $(BUILD)

stress-short: all test-programs $(BUILD)/bench/churn
	bash tests/stress/run.sh $(BUILD) --short

.PHONY: stress stress-short
