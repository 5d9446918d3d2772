// nginx's own metrics in Prometheus's text format, with njs (proxy/observability.py).
//
// count() runs once per request, when the access log line is written (it is
// the value of $sandbox_metrics_counted, which the log format includes and
// which is always empty). It adds 1 to the counter of the request's upstream,
// replica address and status in a shared-memory dictionary. render() serves
// the counters and stub_status's connection gauges at :9145/metrics.

const MAX_SERIES = 2000; // label sets kept; beyond that, requests count as "other"

function count(r) {
    const dict = ngx.shared.sandbox_metrics;
    // $proxy_host is the upstream group of proxy_pass; grpc_pass has no such variable.
    const grpc = r.variables.upstream_addr ? "grpc" : "none";
    const upstream = r.variables.proxy_host || grpc;
    // Several addresses ("a, b") when nginx retried another replica: the last one answered.
    const addresses = (r.variables.upstream_addr || "none").split(", ");
    let key = [upstream, addresses[addresses.length - 1], r.variables.status].join("|");
    if (!dict.has(key) && dict.size() >= MAX_SERIES) {
        key = "other|other|other";
    }
    dict.incr(key, 1, 0);
    return "";
}

function label(value) {
    return String(value).replace(/[\\"\n]/g, "_");
}

function render(r) {
    const lines = [
        "# HELP nginx_upstream_requests_total Requests nginx answered, per upstream, replica and status.",
        "# TYPE nginx_upstream_requests_total counter",
    ];
    for (const [key, value] of ngx.shared.sandbox_metrics.items()) {
        const [upstream, addr, status] = key.split("|");
        lines.push(`nginx_upstream_requests_total{upstream="${label(upstream)}",addr="${label(addr)}",status="${label(status)}"} ${value}`);
    }
    for (const state of ["active", "reading", "writing", "waiting"]) {
        lines.push(`# TYPE nginx_connections_${state} gauge`);
        lines.push(`nginx_connections_${state} ${r.variables["connections_" + state]}`);
    }
    r.headersOut["Content-Type"] = "text/plain; version=0.0.4";
    r.return(200, lines.join("\n") + "\n");
}

export default { count, render };
