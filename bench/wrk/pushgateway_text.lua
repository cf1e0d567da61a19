-- The Pushgateway's own protocol: POST an 8-gauge-family text body, rotating over GROUPS
-- grouping keys (job="bench", instance="i<g>").
local groups = tonumber(os.getenv("GROUPS") or "1000")
local body = ""
for i = 1, 8 do
  body = body .. "# HELP bench_metric_" .. i .. " A benchmark gauge.\n"
             .. "# TYPE bench_metric_" .. i .. " gauge\n"
             .. "bench_metric_" .. i .. " " .. (i * 1.5) .. "\n"
end
local n = 0
request = function()
  n = n + 1
  return wrk.format("POST", "/metrics/job/bench/instance/i" .. (n % groups),
    {["Content-Type"] = "text/plain; version=0.0.4"}, body)
end
