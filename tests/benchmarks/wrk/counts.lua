-- What both wrk scripts count: answers by kind, and the figures as one JSON line.
-- Loaded by each script with dofile(os.getenv("BENCH_COUNTS")); the script's own
-- setup() keeps its threads in `threads`.

function response(status, headers, body)
  if status == 200 then
    if string.find(body, "duplicate", 1, true) then
      duplicate = duplicate + 1
    else
      ok = ok + 1
    end
  else
    refused = refused + 1
  end
end

function done(summary, latency, requests)
  local a, d, r = 0, 0, 0
  for _, thread in ipairs(threads) do
    a = a + thread:get("ok")
    d = d + thread:get("duplicate")
    r = r + thread:get("refused")
  end
  io.write(string.format(
    '{"requests":%d,"seconds":%.3f,"acked":%d,"duplicates":%d,"refused":%d,' ..
    '"p50_ms":%.2f,"p90_ms":%.2f,"p99_ms":%.2f,"max_ms":%.2f,"timeouts":%d}\n',
    summary.requests, summary.duration / 1e6, a, d, r,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000, summary.errors.timeout))
end
