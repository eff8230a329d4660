package openapilint

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi2"
	"github.com/getkin/kin-openapi/openapi2conv"

	"github.com/selfserve/selfserve/gen"
)

// statusRef is google.rpc.Status, the body of every error of the edge.
const statusRef = "#/definitions/googleRpcStatus"

// errorCodes are the answers every operation declares besides its 200.
var errorCodes = []string{"400", "401", "403", "404", "409"}

func load(t *testing.T) *openapi2.T {
	t.Helper()
	var doc openapi2.T
	if err := json.Unmarshal(gen.OpenAPI, &doc); err != nil {
		t.Fatalf("the document is not Swagger 2.0: %v", err)
	}
	return &doc
}

// TestOpenAPIValidates converts the document to OpenAPI 3 and validates it,
// which resolves every $ref and checks every schema.
func TestOpenAPIValidates(t *testing.T) {
	doc3, err := openapi2conv.ToV3(load(t))
	if err != nil {
		t.Fatalf("to OpenAPI 3: %v", err)
	}
	if err := doc3.Validate(context.Background()); err != nil {
		t.Fatalf("not valid: %v", err)
	}
	download := doc3.Paths.Find("/v1/organizations/{organization}/billingAccounts/{billingAccount}/invoices/{invoice}:download")
	if download == nil || download.Get == nil {
		t.Fatal("no GET …/invoices/{invoice}:download")
	}
	ok := download.Get.Responses.Status(200)
	if ok == nil || ok.Value.Content.Get("application/pdf") == nil {
		t.Fatalf("the download's 200 is not application/pdf: %+v", ok)
	}
}

func TestOpenAPIInfo(t *testing.T) {
	info := load(t).Info
	if info.Title == "" || info.Version == "" {
		t.Errorf("info %+v: want a title and a version", info)
	}
	if info.License == nil || info.License.Name == "" || info.License.URL == "" {
		t.Errorf("info.license %+v: want a name and a URL", info.License)
	}
}

// TestOpenAPIOperations checks each operation: a path written out from its
// name pattern, a unique operationId, the errors of the edge, and the
// invoice download declared as the PDF it is.
func TestOpenAPIOperations(t *testing.T) {
	doc := load(t)
	if doc.Definitions["googleRpcStatus"] == nil {
		t.Fatal("no googleRpcStatus definition")
	}
	ids := map[string]string{}
	downloads := 0
	for path, item := range doc.Paths {
		if strings.Contains(path, "{name") || strings.Contains(path, "{parent") {
			t.Errorf("%s: a path parameter holds a whole name; want the pattern written out", path)
		}
		for method, op := range item.Operations() {
			where := method + " " + path
			if op.OperationID == "" {
				t.Errorf("%s: no operationId", where)
			} else if other, dup := ids[op.OperationID]; dup {
				t.Errorf("%s: operationId %s also on %s", where, op.OperationID, other)
			}
			ids[op.OperationID] = where
			if op.Summary == "" && op.Description == "" {
				t.Errorf("%s: not described", where)
			}
			for _, code := range errorCodes {
				r := op.Responses.Value(code)
				if r == nil || r.Schema == nil || r.Schema.Ref != statusRef || r.Description == "" {
					t.Errorf("%s: response %s is not a described %s", where, code, statusRef)
				}
			}
			if strings.HasSuffix(path, ":download") {
				downloads++
				if !slices.Contains(op.Produces, "application/pdf") {
					t.Errorf("%s produces %v, want application/pdf", where, op.Produces)
				}
				r := op.Responses.Value("200")
				if r == nil || r.Schema == nil || r.Schema.Value == nil || !r.Schema.Value.Type.Is("string") || r.Schema.Value.Format != "binary" {
					t.Errorf("%s: 200 is not a binary string", where)
				}
			}
		}
	}
	if downloads != 1 {
		t.Errorf("%d :download operations, want the invoice's", downloads)
	}
	if len(ids) < 50 {
		t.Errorf("only %d operations", len(ids))
	}
}
