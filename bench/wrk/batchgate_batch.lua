-- Batches of BATCH progress events per request, for BATCH consecutive jobs of JOBS.
local jobs = tonumber(os.getenv("JOBS") or "10000")
local batch = tonumber(os.getenv("BATCH") or "100")
local run = os.getenv("RUN") or "b"
local n = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"

request = function()
  local events = {}
  for i = 1, batch do
    n = n + 1
    local job = n % jobs
    events[i] = string.format(
      '{"job":"bench_%d","event":"progress","run_id":"bench-%d","event_id":"%s-%d",'
      .. '"progress":{"done":%d,"total":1000000},"resources":{"cpu_percent":12.5,"memory_bytes":104857600}}',
      job, job, run, n, n)
  end
  return wrk.format(nil, "/push", nil, "[" .. table.concat(events, ",") .. "]")
end
