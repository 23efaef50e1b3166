-- wrk script: GET /healthz with the same rotating Authorization header as me.lua (ignored by
-- /healthz), so the load generator does the same work for both endpoints.
local tokens = {}
for line in io.lines(os.getenv("KEYWARD_SECRETS")) do tokens[#tokens + 1] = line end
local i = math.random(#tokens)
request = function()
  i = i % #tokens + 1
  return wrk.format("GET", "/healthz", { ["Authorization"] = "Bearer " .. tokens[i] })
end
