-- wrk script for `make bench-wrk` (benchmarks/wrk_submit.py): POST /api/v1/reports, each request a new report
-- with its own Idempotency-Key and reporter, counting response statuses per thread.
--
-- Environment (set by wrk_submit.py):
--   WRK_RUN_ID     prefix of every Idempotency-Key of this run (the script counts the stored reports by it)
--   WRK_WARD_CODE  a ward code of the intake province (from GET /api/v1/wards)
--
-- The body is valid for the current contract (services/intake/src/intake/models.py) and for the stricter
-- reporter rules: Vietnamese-letter name, real mobile prefix, CCCD with province code 094, century digit 0
-- and birth year 85, 20+ character content, a known category.

local run_id = os.getenv("WRK_RUN_ID") or "wrk"
local ward_code = os.getenv("WRK_WARD_CODE") or error("WRK_WARD_CODE is not set")

local threads = {}

function setup(thread)
   thread:set("id", #threads + 1)
   table.insert(threads, thread)
end

local family = { "Nguyễn", "Trần", "Lê", "Phạm", "Huỳnh", "Hoàng", "Phan", "Võ", "Đặng", "Bùi", "Đỗ", "Hồ", "Ngô" }
local middle = { "Văn", "Thị", "Hữu", "Minh", "Ngọc", "Thanh", "Quốc", "Đức", "Kim", "Hoài" }
local given = { "An", "Bảo", "Châu", "Dũng", "Giang", "Hạnh", "Hiếu", "Hòa", "Khánh", "Lan", "Linh", "Lộc", "Mai" }
local categories = { "giao-thong", "moi-truong", "dien-chieu-sang", "cap-thoat-nuoc", "khac" }
-- Vinaphone, Viettel, Mobifone prefixes: one per thread, so phone numbers never repeat across threads
local mobile_prefixes = { "091", "094", "097", "098", "090", "093", "096", "088" }

local counter = 0
statuses = {} -- global: done() reads each thread's copy with thread:get("statuses")

function init(args)
   -- `id` was set by setup() in this thread's Lua state before init() runs
   math.randomseed(os.time() + id * 7919)
   statuses = {}
   -- where this run's phone numbers start: intake limits the reports one phone may send in an hour, and
   -- runs follow each other within minutes
   phone_base = math.random(0, 9999999)
end

local function pick(list, n)
   return list[(n % #list) + 1]
end

local headers = { ["Content-Type"] = "application/json" }

function request()
   counter = counter + 1
   local n = counter
   local name = pick(family, n) .. " " .. pick(middle, math.floor(n / 13)) .. " " .. pick(given, math.floor(n / 7))
   local phone = pick(mobile_prefixes, id - 1) .. string.format("%07d", (phone_base + n) % 10000000)
   local cccd = "094085" .. string.format("%d%05d", id % 10, n % 100000)
   local email = string.format("bench.t%d.n%d@example.vn", id, n)
   local body = '{"channel":"web",'
      .. '"reporter":{"full_name":"' .. name .. '","address":"12/3 Lê Lợi, Phường Sóc Trăng",'
      .. '"cccd":"' .. cccd .. '","phone":"' .. phone .. '","email":"' .. email .. '"},'
      .. '"title":"Rác thải tồn đọng trước chợ",'
      .. '"category":"' .. pick(categories, n) .. '",'
      .. '"content":"Rác thải tồn đọng nhiều ngày trước cổng chợ, bốc mùi hôi, ảnh hưởng người dân.",'
      .. '"location":{"ward_code":"' .. ward_code .. '","address_text":"Cổng chợ Sóc Trăng"},'
      .. '"public":true,"anonymous":false,'
      .. '"consent":{"use_personal_data":true,"publish":true},'
      .. '"media":[]}'
   headers["Idempotency-Key"] = string.format("%s-t%d-%d-%08x", run_id, id, n, math.random(0, 0x7fffffff))
   -- Citizens from many addresses behind the local (trusted) proxy: intake limits submissions per address.
   headers["X-Forwarded-For"] = string.format("10.%d.%d.%d", id, math.floor(n / 250) % 250, n % 250 + 1)
   return wrk.format("POST", "/api/v1/reports", headers, body)
end

function response(status, headers, body)
   statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
   local total = {}
   for _, thread in ipairs(threads) do
      for status, count in pairs(thread:get("statuses")) do
         total[status] = (total[status] or 0) + count
      end
   end
   local codes = {}
   for status in pairs(total) do
      table.insert(codes, status)
   end
   table.sort(codes)
   local non_201 = 0
   local parts = {}
   for _, status in ipairs(codes) do
      if status ~= 201 then
         non_201 = non_201 + total[status]
      end
      table.insert(parts, string.format("%d:%d", status, total[status]))
   end
   local e = summary.errors
   -- one machine-readable line, parsed by wrk_submit.py
   io.write(string.format(
      "WRK_RESULT requests=%d duration_us=%d p50_us=%d p90_us=%d p99_us=%d max_us=%d non_201=%d "
         .. "connect=%d read=%d write=%d timeout=%d statuses=%s\n",
      summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
      latency:percentile(99), latency.max, non_201, e.connect, e.read, e.write, e.timeout,
      #parts > 0 and table.concat(parts, ",") or "-"
   ))
end
