-- One progress event per request, rotating over JOBS running jobs, each with a unique
-- event_id (as the client SDK sends them).
local jobs = tonumber(os.getenv("JOBS") or "10000")
local run = os.getenv("RUN") or "r"
local n = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"

request = function()
  n = n + 1
  local job = n % jobs
  local body = string.format(
    '{"job":"bench_%d","event":"progress","run_id":"bench-%d","event_id":"%s-%d",'
    .. '"progress":{"done":%d,"total":1000000},"resources":{"cpu_percent":12.5,"memory_bytes":104857600}}',
    job, job, run, n, n)
  return wrk.format(nil, "/push", nil, body)
end
