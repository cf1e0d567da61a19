-- The Pushgateway's own protocol: POST an 8-gauge-family text body, rotating over GROUPS
-- grouping keys (job="bench", instance="i<g>"). Every request carries new values, as a job
-- pushing its latest figures does.
local groups = tonumber(os.getenv("GROUPS") or "1000")
local n = 0
request = function()
  n = n + 1
  local lines = {}
  for i = 1, 8 do
    lines[#lines + 1] = "# HELP bench_metric_" .. i .. " A benchmark gauge.\n"
                     .. "# TYPE bench_metric_" .. i .. " gauge\n"
                     .. "bench_metric_" .. i .. " " .. (n * 8 + i) * 0.5 .. "\n"
  end
  return wrk.format("POST", "/metrics/job/bench/instance/i" .. (n % groups),
    {["Content-Type"] = "text/plain; version=0.0.4"}, table.concat(lines))
end
