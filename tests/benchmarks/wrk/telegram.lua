-- Signed Telegram updates, each with an update_id of its own, from 5,000 chats.
-- BENCH_PATH, BENCH_SECRET and BENCH_RUN (a number unique to this run) come from the
-- environment; done() prints the figures as one JSON line.
dofile(os.getenv("BENCH_COUNTS"))
threads = {}

function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  counter = 0
  ok, duplicate, refused = 0, 0, 0
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
