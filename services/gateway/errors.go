package gateway

import (
	"context"
	"errors"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	// Registers ErrorInfo and LocalizedMessage so that the details of an error
	// body render as {"@type": ..., ...}.
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/selfserve/selfserve/services/kit/errs"
	"github.com/selfserve/selfserve/services/kit/locale"
	"github.com/selfserve/selfserve/services/kit/serve"
)

// domain is the ErrorInfo domain of the errors the edge raises itself.
const domain = "gateway.selfserve"

// handleError writes every error as grpc-gateway's {code, message, details[]}
// body. Errors of the services already carry ErrorInfo and pass unchanged;
// the edge's own (an unreadable body, a service it cannot reach) get one here,
// with a LocalizedMessage in the caller's language.
func handleError(ctx context.Context, mux *runtime.ServeMux, m runtime.Marshaler, w http.ResponseWriter, r *http.Request, err error) {
	httpStatus := 0
	var custom *runtime.HTTPStatusError
	if errors.As(err, &custom) {
		httpStatus, err = custom.HTTPStatus, custom.Err
		if _, ok := status.FromError(err); !ok && httpStatus == http.StatusBadRequest && errs.ReasonOf(err) == "" {
			// The runtime's own 400s (a malformed path) are plain errors.
			err = errs.New(errs.InvalidName, "%v", err)
		}
	}
	if s, ok := status.FromError(err); ok && s.Code() == codes.InvalidArgument && errs.ReasonOf(err) == "" {
		if e, ok := decodedBodyError(s.Message()); ok {
			err = e // a body or query that does not fit its message (decode.go)
		}
	}
	if tooLarge(r) {
		// The generated code reports a body cut by the size limit as a bad
		// argument; say what really happened.
		err = errs.New(errs.ResourceExhausted, "the request body is larger than %d bytes", serve.MaxRequestBytes).
			With("limit", strconv.Itoa(serve.MaxRequestBytes))
		httpStatus = http.StatusRequestEntityTooLarge
	}
	s := jsonNames(validMessage(errs.Status(err, domain, locale.Match(r.Header.Get("Accept-Language")))))
	// A download that failed late must not offer its error body as a file.
	w.Header().Del("Content-Disposition")
	var out error = s.Err()
	if httpStatus != 0 {
		out = &runtime.HTTPStatusError{HTTPStatus: httpStatus, Err: out}
	}
	if s.Code() == codes.Unauthenticated {
		w = challenge(w, errs.ReasonOf(out))
	}
	if v := retryAfter(s); v != "" {
		w.Header().Set("Retry-After", v)
	}
	runtime.DefaultHTTPErrorHandler(ctx, mux, m, w, r, out)
}

// validMessage replaces what is not UTF-8 in s's message, which may quote a
// request (the runtime's "invalid grpc-timeout: …"): the JSON of a status
// refuses it, and the runtime would answer a bare 500 instead of the error.
func validMessage(s *status.Status) *status.Status {
	if utf8.ValidString(s.Message()) {
		return s
	}
	p := s.Proto()
	p.Message = strings.ToValidUTF8(p.GetMessage(), "\uFFFD")
	return status.FromProto(p)
}

// challenge makes a 401 carry the RFC 6750 challenge: the runtime puts the
// status message in WWW-Authenticate, which no client can read as a scheme.
func challenge(w http.ResponseWriter, reason string) http.ResponseWriter {
	v := `Bearer realm="selfserve"`
	if reason != errs.TokenMissing.Name {
		v += `, error="invalid_token"`
	}
	return challengeWriter{ResponseWriter: w, value: v}
}

type challengeWriter struct {
	http.ResponseWriter
	value string
}

func (c challengeWriter) WriteHeader(code int) {
	if code == http.StatusUnauthorized {
		c.Header().Set("WWW-Authenticate", c.value)
	}
	c.ResponseWriter.WriteHeader(code)
}

func (c challengeWriter) Unwrap() http.ResponseWriter { return c.ResponseWriter }

// handleRoutingError answers a request no route takes.
func handleRoutingError(ctx context.Context, mux *runtime.ServeMux, m runtime.Marshaler, w http.ResponseWriter, r *http.Request, httpStatus int) {
	var err error
	switch httpStatus {
	case http.StatusNotFound:
		err = errs.New(errs.RouteNotFound, "no route for %s %s", r.Method, r.URL.Path).With("path", r.URL.Path)
	case http.StatusMethodNotAllowed:
		err = errs.New(errs.MethodNotAllowed, "%s is not allowed on %s", r.Method, r.URL.Path).With("method", r.Method)
	case http.StatusBadRequest:
		err = errs.New(errs.InvalidName, "the path %q is not valid", r.URL.Path)
	default:
		err = errs.New(errs.Internal, "routing failed")
	}
	handleError(ctx, mux, m, w, r, &runtime.HTTPStatusError{HTTPStatus: httpStatus, Err: err})
}

// jsonNames writes the field names of an error as a JSON caller knows them:
// the services name fields by their proto names (billing_account.sold_to),
// which the edge turns into the proto3 JSON names (billingAccount.soldTo) in
// the message and in ErrorInfo's field. What a message quotes ("…") is the
// caller's own text and stays as written.
func jsonNames(s *status.Status) *status.Status {
	p := s.Proto()
	changed := false
	if m := camelText(p.GetMessage()); m != p.GetMessage() {
		p.Message, changed = m, true
	}
	for i, d := range p.GetDetails() {
		info := &errdetails.ErrorInfo{}
		if d.MessageIs(info) && d.UnmarshalTo(info) == nil {
			if f, ok := info.GetMetadata()["field"]; ok && camelPath(f) != f {
				info.Metadata["field"] = camelPath(f)
				if a, err := anypb.New(info); err == nil {
					p.Details[i], changed = a, true
				}
			}
		}
	}
	if !changed {
		return s
	}
	return status.FromProto(p)
}

// snakeName is a proto field name with at least one underscore.
var snakeName = regexp.MustCompile(`\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b`)

// camelText turns the snake_case names of text into lowerCamelCase, outside
// double quotes.
func camelText(text string) string {
	if !strings.Contains(text, "_") {
		return text
	}
	parts := strings.Split(text, `"`)
	for i := 0; i < len(parts); i += 2 { // even parts are outside quotes
		parts[i] = snakeName.ReplaceAllStringFunc(parts[i], camelName)
	}
	return strings.Join(parts, `"`)
}

// camelPath turns each name of a field path (billing_profile.bill_to or
// line_items[0].period_end) into lowerCamelCase.
func camelPath(path string) string {
	return snakeName.ReplaceAllStringFunc(path, camelName)
}

func camelName(name string) string {
	var b strings.Builder
	up := false
	for _, c := range name {
		switch {
		case c == '_':
			up = true
		case up && c >= 'a' && c <= 'z':
			b.WriteRune(c - 'a' + 'A')
			up = false
		default:
			b.WriteRune(c)
			up = false
		}
	}
	return b.String()
}
