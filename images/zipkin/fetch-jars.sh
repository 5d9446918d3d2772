#!/usr/bin/env bash
# Zipkin's executable jar (pom.xml beside this script) into ./jars, on the
# host, for the local image's build (which must not need the network).
exec "$(dirname "$0")/../fetch-jars.sh" "$(dirname "$0")" zipkin-jars
