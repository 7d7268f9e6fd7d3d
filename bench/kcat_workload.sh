# The kcat workload, sourced by bench/run.sh and bench/ab_shims.sh so both run the same command on
# the same input: kcat producing into librdkafka's in-process mock cluster, idempotent, acks=all.
KCAT_ARGS=(-P -b localhost:9092 -t bench -X test.mock.num.brokers=1 -X log_level=4
           -X enable.idempotence=true -X acks=all)

# write_kcat_messages N FILE: N messages of 100 bytes each (plus the newline kcat splits on), each
# one distinct.
write_kcat_messages() {
  awk -v n="$1" 'BEGIN { pad = sprintf("%90s", ""); gsub(/ /, "m", pad);
                         for (i = 0; i < n; i++) printf "%010d%s\n", i, pad }' >"$2"
}
