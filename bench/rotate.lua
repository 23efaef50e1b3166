-- wrk script: GET $KEYWARD_PATH with `Authorization: Bearer <secret>`, rotating over the secrets
-- in $KEYWARD_SECRETS (one per line). /healthz ignores the header; sending it anyway gives both
-- endpoints the same client work. With $KEYWARD_FORWARDED_URI set, the request also names an
-- original request as the proxies do (X-Forwarded-* for Caddy/Traefik, X-Original-* for nginx),
-- for /api/v1/forward-auth; the other endpoints ignore those headers.
local path = os.getenv("KEYWARD_PATH") or "/api/v1/me"
local forwarded = os.getenv("KEYWARD_FORWARDED_URI")
local tokens = {}
for line in io.lines(os.getenv("KEYWARD_SECRETS")) do tokens[#tokens + 1] = line end
local i = math.random(#tokens)
request = function()
  i = i % #tokens + 1
  local headers = { ["Authorization"] = "Bearer " .. tokens[i] }
  if forwarded then
    headers["X-Forwarded-Method"] = "GET"
    headers["X-Forwarded-Uri"] = forwarded
  end
  return wrk.format("GET", path, headers)
end
