-- Print wrk's summary as one JSON line (prefixed "WRK_JSON "), for bench/wrk.py.
-- Latencies are in microseconds, as wrk measures them.
-- WRK_METHOD, WRK_BODY and WRK_CONTENT_TYPE (environment) make every request
-- a POST with a body, say; unset, wrk sends its plain GET.
wrk.method = os.getenv("WRK_METHOD") or wrk.method
wrk.body = os.getenv("WRK_BODY") or wrk.body
if os.getenv("WRK_CONTENT_TYPE") then
  wrk.headers["Content-Type"] = os.getenv("WRK_CONTENT_TYPE")
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests":%d,"duration_us":%d,"socket_errors":%d,"non_2xx_3xx":%d,' ..
    '"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d}\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
