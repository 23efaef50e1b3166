// The /docs/api playground: Swagger UI served by keyward itself (no CDN, works offline).
(function () {
  "use strict";
  // Swagger UI adds "Bearer " itself; a pasted "Bearer kw_…" must not become "Bearer Bearer kw_…".
  function oneBearer(req) {
    var h = req.headers || {};
    Object.keys(h).forEach(function (k) {
      if (k.toLowerCase() === "authorization" && typeof h[k] === "string") {
        h[k] = h[k].replace(/^\s*(bearer\s+)+/i, "Bearer ");
      }
    });
    return req;
  }
  window.addEventListener("load", function () {
    window.ui = window.SwaggerUIBundle({
      url: "/api/openapi.json",
      dom_id: "#swagger-ui",
      deepLinking: true,
      tryItOutEnabled: true,
      validatorUrl: null,
      requestInterceptor: oneBearer
    });
  });
})();
