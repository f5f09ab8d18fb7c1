-- wrk script for bench/compose.sh: POST the JSON body in $BODY_FILE (to
-- /v1/messages or /v1/deliveries, whichever URL wrk is given); counts statuses.
local file = assert(io.open(os.getenv("BODY_FILE"), "rb"))
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = file:read("*a")
file:close()

local statuses = {}
response = function(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

done = function(summary, latency, requests)
  io.write(string.format("WRK_P50_MS %.3f\n", latency:percentile(50) / 1000))
  io.write(string.format("WRK_P99_MS %.3f\n", latency:percentile(99) / 1000))
  io.write(string.format("WRK_REQUESTS %d\n", summary.requests))
  io.write(string.format("WRK_SECONDS %.3f\n", summary.duration / 1e6))
  io.write(string.format("WRK_ERRORS %d\n", summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.status + summary.errors.timeout))
end
