-- One request sent again and again: METHOD to PATH with CONTENT_TYPE and the body read from
-- BODY_FILE (bench/otlp.py writes the bodies: OTLP protobuf and JSON, Pushgateway text).
local file = assert(io.open(os.getenv("BODY_FILE"), "rb"))
local body = file:read("*a")
file:close()
local method = os.getenv("METHOD") or "POST"
local path = os.getenv("PATH_TO") or "/"
local headers = {["Content-Type"] = os.getenv("CONTENT_TYPE")}
request = function()
  return wrk.format(method, path, headers, body)
end
