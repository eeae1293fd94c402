-- wrk script for bench/scans.py and bench/meals.py: card scans at one station, fresh scan ids.
-- Cards drawn at random (meals: diners), or, with BENCH_FIRST set (scans: volunteers), walked in
-- order from that line of the file, each thread every BENCH_THREADS-th card, so no card comes
-- round again within a run; after BENCH_REPEAT of the answers, the same card again (a double tap,
-- once the counter has shown the first answer).
local payloads = {}
local station = os.getenv("BENCH_STATION")
local token = os.getenv("BENCH_TOKEN")
for line in io.lines(os.getenv("BENCH_PAYLOADS")) do payloads[#payloads + 1] = line end
local first = tonumber(os.getenv("BENCH_FIRST") or "")
local stride = tonumber(os.getenv("BENCH_THREADS") or "1")
local repeats = tonumber(os.getenv("BENCH_REPEAT") or "0")

local threads = {}
function setup(thread)
  thread:set("id", #threads + 1)
  threads[#threads + 1] = thread
end

function init(args)
  math.randomseed(os.time() * 1000 + id)
  outcomes = {}
  if first then nextcard = first + id - 1 end
  sent = {}   -- scan id -> card, for the scans in flight
  again = {}  -- cards to tap again
end

local function card()
  if not first then return payloads[math.random(#payloads)] end
  if #again > 0 then return table.remove(again) end
  local payload = payloads[(nextcard - 1) % #payloads + 1]
  nextcard = nextcard + stride
  return payload
end

local function uuid()
  local t = "xxxxxxxx-xxxx-4xxx-8xxx-xxxxxxxxxxxx"
  return (string.gsub(t, "x", function() return string.format("%x", math.random(0, 15)) end))
end

function request()
  local payload, scan_id = card(), uuid()
  if first then sent[scan_id] = payload end
  local body = '{"payload":"' .. payload .. '","station_id":' .. station .. ',"scan_id":"' .. scan_id .. '"}'
  return wrk.format("POST", "/api/v1/scans",
    {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. token}, body)
end

function response(status, headers, body)
  if first then
    local scan_id = string.match(body, '"scan_id":"([%x-]+)"')
    local payload = scan_id and sent[scan_id]
    if payload then
      sent[scan_id] = nil
      if math.random() < repeats then again[#again + 1] = payload end
    end
  end
  local outcome = string.match(body, '"outcome":"([%a_]+)"') or ("http_" .. status)
  local reason = string.match(body, '"reason":"([%a_]+)"')
  if reason then outcome = outcome .. ":" .. reason end
  outcomes[outcome] = (outcomes[outcome] or 0) + 1
end

function done(summary, latency, requests)
  local total = {}
  for _, thread in ipairs(threads) do
    local o = thread:get("outcomes")
    for k, v in pairs(o) do total[k] = (total[k] or 0) + v end
  end
  for k, v in pairs(total) do io.write("OUTCOME ", k, " ", v, "\n") end
end
