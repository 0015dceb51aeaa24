-- webhook.lua - wrk script for scripts/bench/webhook.
--
-- wrk cannot compute an HMAC per request, so the bench pre-signs N bodies
-- (payload-<i>.json, their "sha256=<hex>" in sigs.txt, one per line); every
-- request takes the next body and a delivery id of its own.  The signature
-- covers the body only, so distinct ids over a few bodies stay valid.
--
-- Arguments (after --): <payload dir> <delivery id prefix>.
-- Each thread counts its answers; done() prints one machine-readable line:
--   BENCH acked=<2xx non-duplicate> dup=<2xx duplicate> s5xx=<5xx>
--         other=<other statuses> p50_ms=... p99_ms=... requests=...

local threads = {}
local tid_next = 0

function setup(thread)
	tid_next = tid_next + 1
	thread:set("tid", tid_next)
	table.insert(threads, thread)
end

local bodies, sigs = {}, {}
local prefix, seq, pick = "", 0, 0
acked, dup, s5xx, other = 0, 0, 0, 0

local function slurp(path)
	local f = assert(io.open(path, "rb"))
	local s = f:read("*a")
	f:close()
	return s
end

function init(args)
	local dir = args[1]
	prefix = args[2] .. "-t" .. tostring(tid)
	for line in io.lines(dir .. "/sigs.txt") do
		table.insert(sigs, line)
		table.insert(bodies, slurp(dir .. "/payload-" .. #sigs .. ".json"))
	end
	-- Threads start at different bodies so they do not march in step.
	pick = (tid * 7) % #bodies
end

function request()
	seq = seq + 1
	pick = pick % #bodies + 1
	return wrk.format("POST", "/integrations/github/webhook", {
		["Content-Type"] = "application/json",
		["X-GitHub-Event"] = "pull_request",
		["X-GitHub-Delivery"] = prefix .. "-" .. seq,
		["X-Hub-Signature-256"] = sigs[pick],
	}, bodies[pick])
end

function response(status, headers, body)
	if status >= 200 and status < 300 then
		if body and body:find('"duplicate"%s*:%s*true') then
			dup = dup + 1
		else
			acked = acked + 1
		end
	elseif status >= 500 then
		s5xx = s5xx + 1
	else
		other = other + 1
	end
end

function done(summary, latency, requests)
	local a, d, f, o = 0, 0, 0, 0
	for _, t in ipairs(threads) do
		a = a + t:get("acked")
		d = d + t:get("dup")
		f = f + t:get("s5xx")
		o = o + t:get("other")
	end
	local e = summary.errors
	io.write(string.format("BENCH acked=%d dup=%d s5xx=%d other=%d " ..
	    "p50_ms=%.2f p99_ms=%.2f requests=%d duration_s=%.2f " ..
	    "sock_errors=%d timeouts=%d\n", a, d, f, o,
	    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
	    summary.requests, summary.duration / 1e6,
	    e.connect + e.read + e.write, e.timeout))
end
