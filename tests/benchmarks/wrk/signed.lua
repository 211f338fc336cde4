-- Replays pre-signed requests (Twilio's signature is HMAC-SHA1 over URL and form,
-- which wrk's Lua cannot compute): BENCH_BODIES names a file of lines
-- "<signature>\t<form body>"; thread i sends lines i, i+n, i+2n... once each, then
-- starts over (a provider retry: answered as a duplicate and counted as one).
-- BENCH_THREADS must equal wrk's -t.
dofile(os.getenv("BENCH_COUNTS"))
threads = {}

function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  ok, duplicate, refused = 0, 0, 0
  -- wrk starts each thread before it sets up the next, so the count comes from outside.
  nthreads = tonumber(os.getenv("BENCH_THREADS"))
  bodies, signatures = {}, {}
  local n, i = 0, 0
  for line in io.lines(os.getenv("BENCH_BODIES")) do
    if i % nthreads == tid - 1 then
      local tab = string.find(line, "\t", 1, true)
      n = n + 1
      signatures[n] = string.sub(line, 1, tab - 1)
      bodies[n] = string.sub(line, tab + 1)
    end
    i = i + 1
  end
  count, next_index = n, 0
  path = os.getenv("BENCH_PATH")
end

function request()
  next_index = next_index % count + 1
  return wrk.format("POST", path, {
    ["Content-Type"] = "application/x-www-form-urlencoded",
    ["X-Twilio-Signature"] = signatures[next_index],
  }, bodies[next_index])
end
