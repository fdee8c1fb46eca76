// Renders the merged description of every Waypoint service.
window.ui = SwaggerUIBundle({
  url: "/v1/openapi.json",
  dom_id: "#docs",
  deepLinking: true,
  persistAuthorization: true,
});
