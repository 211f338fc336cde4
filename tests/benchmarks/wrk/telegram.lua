-- Signed Telegram updates, each with an update_id of its own, from 5,000 chats.
-- BENCH_PATH, BENCH_SECRET and BENCH_RUN (a number unique to this run) come from the
-- environment; done() prints the figures as one JSON line.
local threads = {}

function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  counter = 0
  ok, duplicate, refused = 0, 0, 0
  statuses = {}
  base = (tonumber(os.getenv("BENCH_RUN")) * 100 + tid) * 10000000
  path = os.getenv("BENCH_PATH") or "/hooks/telegram"
  headers = {
    ["Content-Type"] = "application/json",
    ["X-Telegram-Bot-Api-Secret-Token"] = os.getenv("BENCH_SECRET"),
  }
end

function request()
  counter = counter + 1
  local id = base + counter
  local chat = 700000000 + id % 5000
  local body = string.format(
    '{"update_id":%d,"message":{"message_id":%d,"date":1763800000,' ..
    '"chat":{"id":%d,"type":"private"},"from":{"id":%d,"is_bot":false,' ..
    '"first_name":"W","language_code":"my"},' ..
    '"text":"ကျွန်တော့်လစာ မရသေးပါ။ passport ကို အလုပ်ရှင်က သိမ်းထားတယ် %d"}}',
    id, counter, chat, chat, id)
  return wrk.format("POST", path, headers, body)
end

function response(status, headers, body)
  if status == 200 then
    if string.find(body, "duplicate", 1, true) then
      duplicate = duplicate + 1
    else
      ok = ok + 1
    end
  else
    refused = refused + 1
    statuses[status] = (statuses[status] or 0) + 1
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
