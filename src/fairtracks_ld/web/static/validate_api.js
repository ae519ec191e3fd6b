// The validation service's OpenAPI description in Swagger UI (vendored, see swagger-ui/README.md).
"use strict";
const holder = document.getElementById("swagger-ui");
window.ui = SwaggerUIBundle({ url: holder.dataset.url, dom_id: "#swagger-ui", deepLinking: true });
