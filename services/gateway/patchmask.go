package gateway

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"

	"github.com/selfserve/selfserve/services/kit/errs"
)

// maskKeys are the spellings of the update mask, in a query or a body.
var maskKeys = []string{"updateMask", "update_mask"}

// bodyMask lets a PATCH give its update mask as a top-level updateMask of the
// body (a comma-separated string or an array of strings), as well as in the
// query: the routes' body is the resource, which has no such field, so the
// mask moves from the body to the query before the runtime decodes either.
// A mask in both places is INVALID_FIELD on updateMask. A body that is not a
// JSON object is left for the decoder to explain.
func bodyMask(mux *runtime.ServeMux, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPatch || r.Body == nil {
			next.ServeHTTP(w, r)
			return
		}
		data, err := io.ReadAll(r.Body)
		r.Body.Close()
		if err != nil {
			// Too large or cut: the handler meets the same error reading.
			r.Body = io.NopCloser(io.MultiReader(bytes.NewReader(data), errorReader{err}))
			next.ServeHTTP(w, r)
			return
		}
		body, paths, found, ferr := takeMask(data)
		if ferr == nil && found && hasQueryMask(r) {
			ferr = errs.Field("updateMask", "give the update mask once: in the query or in the body, not both")
		}
		if ferr != nil {
			_, out := runtime.MarshalerForRequest(mux, r)
			runtime.HTTPError(r.Context(), mux, out, w, r, ferr)
			return
		}
		if found {
			q := r.URL.Query()
			q.Set("updateMask", strings.Join(paths, ","))
			r.URL.RawQuery = q.Encode()
			data = body
		}
		r.Body = io.NopCloser(bytes.NewReader(data))
		r.ContentLength = int64(len(data))
		r.Header.Set("Content-Length", strconv.Itoa(len(data)))
		next.ServeHTTP(w, r)
	})
}

// takeMask removes the update mask from a JSON object body and returns the
// body without it and its paths; found is false (and body nil) when the
// body is not an object or has no mask.
func takeMask(data []byte) (body []byte, paths []string, found bool, err *errs.Error) {
	var obj map[string]json.RawMessage
	if json.Unmarshal(data, &obj) != nil {
		return nil, nil, false, nil
	}
	for _, key := range maskKeys {
		raw, ok := obj[key]
		if !ok {
			continue
		}
		if found {
			return nil, nil, false, errs.Field("updateMask", "give the update mask once: updateMask or update_mask, not both")
		}
		found = true
		delete(obj, key)
		var text string
		var list []string
		switch {
		case json.Unmarshal(raw, &text) == nil:
			for _, p := range strings.Split(text, ",") {
				if p = strings.TrimSpace(p); p != "" {
					paths = append(paths, p)
				}
			}
		case json.Unmarshal(raw, &list) == nil:
			for _, p := range list {
				if p = strings.TrimSpace(p); p != "" {
					paths = append(paths, p)
				}
			}
		default:
			return nil, nil, false, errs.Field("updateMask", "updateMask must be a comma-separated string or an array of strings, not %s", compact(raw))
		}
	}
	if !found {
		return nil, nil, false, nil
	}
	body, _ = json.Marshal(obj)
	return body, paths, true, nil
}

func hasQueryMask(r *http.Request) bool {
	q := r.URL.Query()
	for _, key := range maskKeys {
		if q.Has(key) {
			return true
		}
	}
	return false
}

// compact is a JSON value as short text for a message.
func compact(raw json.RawMessage) string {
	var b bytes.Buffer
	if json.Compact(&b, raw) != nil || b.Len() > 40 {
		return "that value"
	}
	return b.String()
}

type errorReader struct{ err error }

func (e errorReader) Read([]byte) (int, error) { return 0, e.err }
