// /docs: Swagger UI 5 (its files ship in the fastapi-offline package; facerec serve serves them, no CDN)
// on /openapi.json.
// A separate file rather than an inline script, so the Content-Security-Policy needs no 'unsafe-inline'.
"use strict";

window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  validatorUrl: null,
  presets: [SwaggerUIBundle.presets.apis],
  layout: "BaseLayout",
});
