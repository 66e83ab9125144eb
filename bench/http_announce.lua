-- wrk script: announces for TORRENTS torrents (uniformly chosen), random ports and peer
-- ids from 127.0.0.1, 75 % seeders, numwant 30. KEEPALIVE=0 closes every connection.
-- Counts responses that carry a compact peer list and the peers in them, so a tracker
-- that answers with failures (or an empty whitelist) shows up as 0 peers/response.
local torrents = tonumber(os.getenv("TORRENTS") or "1000")
local keepalive = os.getenv("KEEPALIVE") ~= "0"
local threads = {}

local function pct(hex)
  return (hex:gsub("..", function(b) return "%" .. b end))
end

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16) % 100000)
  hashes = {}
  for i = 1, torrents do
    hashes[i] = pct(string.format("%040x", i))
  end
  headers = {}
  if not keepalive then
    headers["Connection"] = "close"
  end
  ok, peers, failed = 0, 0, 0
end

function request()
  local t = math.random(torrents)
  local left = (math.random() < 0.75) and 0 or 1000
  local pid = string.format("-WK0001-%012d", math.random(0, 999999999999))
  local path = "/announce?info_hash=" .. hashes[t] .. "&peer_id=" .. pid ..
    "&port=" .. math.random(1024, 65535) .. "&uploaded=0&downloaded=0&left=" .. left ..
    "&compact=1&numwant=30&event=started"
  return wrk.format("GET", path, headers)
end

function response(status, hdrs, body)
  local n = body:match("5:peers(%d+):")
  if status == 200 and n then
    ok = ok + 1
    peers = peers + tonumber(n) / 6
  else
    failed = failed + 1
  end
end

function done(summary, latency, requests)
  local o, p, f = 0, 0, 0
  for _, t in ipairs(threads) do
    o = o + t:get("ok"); p = p + t:get("peers"); f = f + t:get("failed")
  end
  local secs = summary.duration / 1e6
  io.write(string.format("RESULT %.0f %.2f %d %.0f %.0f\n",
    o / secs, o > 0 and p / o or 0, f + summary.errors.status,
    latency:percentile(50), latency:percentile(99)))
end
