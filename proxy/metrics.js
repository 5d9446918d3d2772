// nginx's own metrics in Prometheus's text format, with njs (proxy/observability.py).
//
// count() runs once per request, when the access log line is written (it is
// the value of $sandbox_metrics_counted, which the log format includes and
// which is always empty). It adds 1 to the counter of the request's upstream,
// method, replica address and status in a shared-memory dictionary. The method
// tells one lesson's POSTs apart from the WebSocket GETs other lessons hold
// through the same upstream (a WebSocket counts when it closes). render() serves
// the counters and stub_status's connection gauges at :9145/metrics.

const MAX_SERIES = 2000; // label sets kept; beyond that, requests count as "other"

function count(r) {
    const dict = ngx.shared.sandbox_metrics;
    // Set by every proxied location (proxy/model.py); empty where nginx answers itself.
    const upstream = r.variables.sandbox_upstream || "none";
    // Several addresses ("a, b") when nginx retried another replica: the last one answered.
    const addresses = (r.variables.upstream_addr || "none").split(", ");
    let key = [upstream, r.method, addresses[addresses.length - 1], r.variables.status].join("|");
    if (!dict.has(key) && dict.size() >= MAX_SERIES) {
        key = "other|other|other|other";
    }
    dict.incr(key, 1, 0);
    return "";
}

function label(value) {
    return String(value).replace(/[\\"\n]/g, "_");
}

function render(r) {
    const lines = [
        "# HELP nginx_upstream_requests_total Requests nginx answered, per upstream, method, replica and status.",
        "# TYPE nginx_upstream_requests_total counter",
    ];
    // njs's own engine: no destructuring, so plain indexes.
    const items = ngx.shared.sandbox_metrics.items();
    for (let i = 0; i < items.length; i++) {
        const parts = items[i][0].split("|");
        lines.push(`nginx_upstream_requests_total{upstream="${label(parts[0])}",method="${label(parts[1])}",addr="${label(parts[2])}",status="${label(parts[3])}"} ${items[i][1]}`);
    }
    const states = ["active", "reading", "writing", "waiting"];
    for (let i = 0; i < states.length; i++) {
        lines.push(`# TYPE nginx_connections_${states[i]} gauge`);
        lines.push(`nginx_connections_${states[i]} ${r.variables["connections_" + states[i]]}`);
    }
    r.headersOut["Content-Type"] = "text/plain; version=0.0.4";
    r.return(200, lines.join("\n") + "\n");
}

export default { count, render };
