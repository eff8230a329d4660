// Package gen holds the code and documents generated from proto/ by
// `go tool buf generate`. Nothing here is edited by hand.
package gen

import _ "embed"

// OpenAPI is the OpenAPI (Swagger 2.0) document of the whole JSON edge.
//
//go:embed openapi/selfserve.swagger.json
var OpenAPI []byte
