package gateway

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/selfserve/selfserve/services/kit/errs"
	"github.com/selfserve/selfserve/services/kit/metrics"
	"github.com/selfserve/selfserve/services/kit/serve"
)

// limitBody refuses request bodies over limit bytes with 413 before next sees
// them, answering through mux's error handler. The services take no larger
// message, so reading more would only waste memory. A declared
// Content-Length is refused up front; a chunked body is cut at the limit and
// the cut is noted in the context for handleError.
func limitBody(mux *runtime.ServeMux, next http.Handler, limit int64) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		flag := new(atomic.Bool)
		r = r.WithContext(context.WithValue(r.Context(), tooLargeKey{}, flag))
		if r.ContentLength > limit {
			flag.Store(true)
			_, out := runtime.MarshalerForRequest(mux, r)
			runtime.HTTPError(r.Context(), mux, out, w, r, status.Error(codes.ResourceExhausted, "request body too large"))
			return
		}
		if r.Body != nil {
			r.Body = &limitedBody{ReadCloser: http.MaxBytesReader(w, r.Body, limit), exceeded: flag}
		}
		next.ServeHTTP(w, r)
	})
}

// checkRequest refuses with 400, before any route, what the generated
// handlers would mishandle: a path or query that is not valid UTF-8 (copied
// into string fields that gRPC cannot marshal, it was a 500) and, on a
// method that may change something, an Idempotency-Key that gRPC metadata
// cannot carry (the runtime dropped it without a word, so the request ran
// without its request id).
func checkRequest(mux *runtime.ServeMux, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := requestError(r); err != nil {
			_, out := runtime.MarshalerForRequest(mux, r)
			runtime.HTTPError(r.Context(), mux, out, w, r, err)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func requestError(r *http.Request) error {
	if !utf8.ValidString(r.URL.Path) {
		return errs.New(errs.InvalidName, "the path is not valid UTF-8")
	}
	// A malformed query is the runtime's to refuse; what parses is checked.
	query, _ := url.ParseQuery(r.URL.RawQuery)
	for k, vs := range query {
		if !utf8.ValidString(k) {
			return errs.New(errs.InvalidField, "a query parameter name is not valid UTF-8")
		}
		for _, v := range vs {
			if !utf8.ValidString(v) {
				return errs.Field(k, "the query parameter %s is not valid UTF-8", k)
			}
		}
	}
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return nil
	}
	for _, v := range r.Header.Values("Idempotency-Key") {
		for i := 0; i < len(v); i++ {
			if v[i] < 0x20 || v[i] > 0x7e {
				return errs.New(errs.InvalidRequestID, "Idempotency-Key may hold only letters, digits and - _ . :").With("field", "request_id")
			}
		}
	}
	return nil
}

type tooLargeKey struct{}

// tooLarge tells whether r's body went over the limit.
func tooLarge(r *http.Request) bool {
	flag, _ := r.Context().Value(tooLargeKey{}).(*atomic.Bool)
	return flag != nil && flag.Load()
}

// limitedBody notes when the size limit cut the body, since the generated
// handlers report any read error as a bad argument.
type limitedBody struct {
	io.ReadCloser
	exceeded *atomic.Bool
}

func (b *limitedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		b.exceeded.Store(true)
	}
	return n, err
}

// logRequests gives each request its id, answered as the Request-Id header
// and passed to every service the request reaches (whose log lines carry
// it), and writes one Info line per request with it and the organization the
// path names. Never a body, a query or a header: they may hold card numbers
// and bearer tokens.
func logRequests(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := serve.NewRequestID()
		w.Header().Set("Request-Id", id)
		route := new(string)
		r = r.WithContext(context.WithValue(serve.WithRequestID(r.Context(), id), routeKey{}, route))
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		elapsed := time.Since(start)
		pattern := *route
		if pattern == "" {
			pattern = "unmatched" // no route took it: never the raw path, whose ids are unbounded
		}
		metrics.HTTPRequests.WithLabelValues(pattern, r.Method, strconv.Itoa(rec.status)).Inc()
		metrics.HTTPDuration.WithLabelValues(pattern, r.Method).Observe(elapsed.Seconds())
		level := slog.LevelInfo
		if rec.status >= http.StatusInternalServerError {
			level = slog.LevelError
		}
		if !log.Enabled(r.Context(), level) {
			return
		}
		attrs := []slog.Attr{
			slog.String("method", r.Method),
			slog.String("path", r.URL.Path),
			slog.Int("status", rec.status),
			slog.Duration("duration", elapsed),
			slog.String("request_id", id),
		}
		if org := pathOrganization(r.URL.Path); org != "" {
			attrs = append(attrs, slog.String("org", org))
		}
		log.LogAttrs(r.Context(), level, "http", attrs...)
	})
}

// statusRecorder remembers the status a handler wrote.
type statusRecorder struct {
	http.ResponseWriter
	status      int
	wroteHeader bool
}

func (s *statusRecorder) WriteHeader(code int) {
	if !s.wroteHeader {
		s.status, s.wroteHeader = code, true
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	s.wroteHeader = true
	return s.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the real writer (flushing).
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// pathOrganization is the organization id a path names
// (/v1/organizations/{org}/...), or "".
func pathOrganization(path string) string {
	rest, ok := strings.CutPrefix(path, "/v1/organizations/")
	if !ok {
		return ""
	}
	org, _, _ := strings.Cut(rest, "/")
	org, _, _ = strings.Cut(org, ":")
	return org
}

// routeKey holds, in a request's context, where the mux writes the pattern of
// the route that took the request (routeName), for its metrics.
type routeKey struct{}

// routeName is the mux middleware that tells logRequests which route took a
// request: the pattern of its HTTP rule, /v1/{name=organizations/*}, worked
// out once per route.
func routeName(next runtime.HandlerFunc) runtime.HandlerFunc {
	var once sync.Once
	var name string
	return func(w http.ResponseWriter, r *http.Request, params map[string]string) {
		if slot, ok := r.Context().Value(routeKey{}).(*string); ok {
			once.Do(func() {
				if p, ok := runtime.HTTPPattern(r.Context()); ok {
					name = p.String()
				}
			})
			*slot = name
			// The request's span is named by its route, as OpenTelemetry's
			// HTTP conventions ask: "POST /v1/{parent=organizations/*}/subscriptions:purchase".
			trace.SpanFromContext(r.Context()).SetName(r.Method + " " + name)
		}
		next(w, r, params)
	}
}
