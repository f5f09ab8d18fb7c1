-- wrk script for bench/queue.sh: POST a 1 KB JSON message to be queued
-- (Prefer: respond-async); counts the answers that were not 202.
local line = "The quick brown fox jumps over the lazy dog, again and again.\\n"
local text = "From: bench@localhost\\nTo: rcpt@sink.test\\nSubject: bench\\n\\n" .. string.rep(line, 15)
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Prefer"] = "respond-async"
wrk.body = '{"sender":"bench@localhost","recipients":["rcpt@sink.test"],"host":"sink.test","message":"' .. text .. '"}'

done = function(summary, latency, requests)
  io.write(string.format("WRK_REQUESTS %d\n", summary.requests))
  io.write(string.format("WRK_SECONDS %.3f\n", summary.duration / 1e6))
  io.write(string.format("WRK_P50_MS %.3f\n", latency:percentile(50) / 1000))
  io.write(string.format("WRK_P99_MS %.3f\n", latency:percentile(99) / 1000))
  io.write(string.format("WRK_ERRORS %d\n", summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.status + summary.errors.timeout))
end
