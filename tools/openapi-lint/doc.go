// Package openapilint checks /openapi.json (gen/openapi/selfserve.swagger.json),
// the document the gateway serves: a Go validator that always runs, and the
// pinned linters of package.json (@redocly/cli, @stoplight/spectral-cli),
// which run once `npm ci` has installed them here.
package openapilint
