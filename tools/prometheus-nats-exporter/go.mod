module fluo-queue/tools/prometheus-nats-exporter

go 1.25.10

require github.com/nats-io/prometheus-nats-exporter v0.20.1
