-- wrk script: GET /api/v1/me rotating over the secrets in $KEYWARD_SECRETS (one per line).
local tokens = {}
for line in io.lines(os.getenv("KEYWARD_SECRETS")) do tokens[#tokens + 1] = line end
local i = math.random(#tokens)
request = function()
  i = i % #tokens + 1
  return wrk.format("GET", "/api/v1/me", { ["Authorization"] = "Bearer " .. tokens[i] })
end
