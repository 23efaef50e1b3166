#!/usr/bin/env python3
"""Signs in to a running keyward and measures the token list page: p50/p95/max over N requests.

Usage: list_latency.py BASE_URL EMAIL PASSWORD SLUG [N]
"""
import http.cookiejar, re, statistics, sys, time, urllib.parse, urllib.request

base, email, password, slug = sys.argv[1:5]
n = int(sys.argv[5]) if len(sys.argv) > 5 else 200
jar = http.cookiejar.CookieJar()
opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
page = opener.open(base + "/login").read().decode()
csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
form = urllib.parse.urlencode({"csrf_token": csrf, "email": email, "password": password}).encode()
opener.open(base + "/login", form).read()

path = f"/w/{slug}/settings/developer/api-tokens"
cases = {
    "first page": path,
    "status=revoked": path + "?status=revoked",
    "status=expiring_soon": path + "?status=expiring_soon",
    "search q=zapier 12": path + "?q=zapier+12",
    "search q=nomatch": path + "?q=nomatch",
    "page 100 (cursor)": None,
}
# Walk to a deep page once to get a real cursor.
html = opener.open(base + path).read().decode()
url = path
for _ in range(100):
    m = re.search(r'href="([^"]+)" rel="next"', html)
    if not m:
        break
    url = m.group(1).replace("&amp;", "&")
    html = opener.open(base + url).read().decode()
cases["page 100 (cursor)"] = url

print(f"| case | p50 ms | p95 ms | max ms | rows |")
print(f"|---|---|---|---|---|")
for name, u in cases.items():
    times = []
    for _ in range(n):
        t = time.perf_counter()
        body = opener.open(base + u).read().decode()
        times.append((time.perf_counter() - t) * 1000)
    rows = body.count('class="row-link"')
    times.sort()
    p95 = times[int(len(times) * 0.95) - 1]
    print(f"| {name} | {statistics.median(times):.1f} | {p95:.1f} | {times[-1]:.1f} | {rows} |")
