package gateway

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	// Registers ErrorInfo and LocalizedMessage so that the details of an error
	// body render as {"@type": ..., ...}.
	_ "google.golang.org/genproto/googleapis/rpc/errdetails"

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
	if tooLarge(r) {
		// The generated code reports a body cut by the size limit as a bad
		// argument; say what really happened.
		err = errs.New(errs.ResourceExhausted, "the request body is larger than %d bytes", serve.MaxRequestBytes).
			With("limit", strconv.Itoa(serve.MaxRequestBytes))
		httpStatus = http.StatusRequestEntityTooLarge
	}
	s := validMessage(errs.Status(err, domain, locale.Match(r.Header.Get("Accept-Language"))))
	// A download that failed late must not offer its error body as a file.
	w.Header().Del("Content-Disposition")
	var out error = s.Err()
	if httpStatus != 0 {
		out = &runtime.HTTPStatusError{HTTPStatus: httpStatus, Err: out}
	}
	if s.Code() == codes.Unauthenticated {
		w = challenge(w, errs.ReasonOf(out))
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
