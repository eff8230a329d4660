package main

import (
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
)

// pathParam is a path parameter of the document's templates.
var pathParam = regexp.MustCompile(`\{([A-Za-z]+)\}`)

// fill writes ids into a path template of the document.
func fill(template string, ids map[string]string) string {
	return pathParam.ReplaceAllStringFunc(template, func(p string) string {
		if id, ok := ids[p[1:len(p)-1]]; ok {
			return id
		}
		return "x1"
	})
}

// TestEndToEndOpenAPI reads /openapi.json from the running gateway and holds
// it to the routes it serves: every documented operation reaches a service
// (none is the edge's ROUTE_NOT_FOUND or METHOD_NOT_ALLOWED), and the GETs
// on the demo organization answer 200.
func TestEndToEndOpenAPI(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	r := startDev(t, binary(t), t.TempDir())
	resp, err := http.Get(r.url + "/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("openapi.json: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var doc struct {
		Swagger string                                `json:"swagger"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil || doc.Swagger != "2.0" {
		t.Fatalf("openapi.json is not Swagger 2.0: %v", err)
	}
	for _, p := range []string{
		"/v1/organizations/{organization}/billingAccounts",
		"/v1/organizations/{organization}/billingAccounts/{billingAccount}/invoices/{invoice}:download",
		"/v1/organizations/{organization}/users/{user}",
	} {
		if doc.Paths[p] == nil {
			t.Errorf("%s is not documented: the paths are not written out from the name patterns", p)
		}
	}

	// Without a token, a request that reaches a service is its
	// TOKEN_MISSING (or its answer, on what needs none); a path or method
	// the gateway does not route is the edge's own error.
	templates := make([]string, 0, len(doc.Paths))
	for p := range doc.Paths {
		templates = append(templates, p)
	}
	sort.Strings(templates)
	ids := map[string]string{"organization": "contoso", "user": "ada"}
	operations := 0
	for _, template := range templates {
		for method := range doc.Paths[template] {
			method = strings.ToUpper(method)
			if !slices.Contains([]string{"GET", "POST", "PATCH", "DELETE", "PUT"}, method) {
				continue // "parameters" and extensions
			}
			operations++
			c := call{method: method, path: fill(template, ids)}
			if method != "GET" && method != "DELETE" {
				c.body = "{}"
			}
			code, body := r.do(t, c)
			reason, _ := errorReason(body)
			if reason == "ROUTE_NOT_FOUND" || reason == "METHOD_NOT_ALLOWED" || code == 404 && reason == "" {
				t.Errorf("%s %s (%s): the gateway does not route it: %d %v", method, c.path, template, code, body)
			}
		}
	}
	if operations < 50 {
		t.Errorf("only %d operations documented", operations)
	}

	// The reads of the demo organization, by their real names.
	op := r.tokens["operator"]
	read := 0
	for _, template := range templates {
		if doc.Paths[template]["get"] == nil || strings.HasSuffix(template, ":download") {
			continue
		}
		known := true
		for _, m := range pathParam.FindAllStringSubmatch(template, -1) {
			_, ok := ids[m[1]]
			known = known && ok
		}
		if !known {
			continue
		}
		path := fill(template, ids)
		if code, body := r.do(t, call{method: "GET", path: path, token: op}); code != 200 {
			t.Errorf("GET %s (%s): %d %v", path, template, code, body)
		}
		read++
	}
	t.Logf("%d documented operations routed, %d GETs read by their real names", operations, read)
	if read < 10 {
		t.Errorf("only %d GETs tried by their real names", read)
	}
}
