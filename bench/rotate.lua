-- wrk script: GET $KEYWARD_PATH with `Authorization: Bearer <secret>`, rotating over the secrets
-- in $KEYWARD_SECRETS (one per line). /healthz ignores the header; sending it anyway gives both
-- endpoints the same client work.
local path = os.getenv("KEYWARD_PATH") or "/api/v1/me"
local tokens = {}
for line in io.lines(os.getenv("KEYWARD_SECRETS")) do tokens[#tokens + 1] = line end
local i = math.random(#tokens)
request = function()
  i = i % #tokens + 1
  return wrk.format("GET", path, { ["Authorization"] = "Bearer " .. tokens[i] })
end
