#!/usr/bin/env bash
# RabbitMQ PerfTest and its runtime jars (pom.xml beside this script) into
# ./jars, on the host (git-ignored). bench/pubsub_rabbitmq.py calls it before running
# PerfTest with the host's java:  java -cp 'jars/*' com.rabbitmq.perf.PerfTest --help
exec "$(dirname "$0")/../fetch-jars.sh" "$(dirname "$0")" perftest-jars
