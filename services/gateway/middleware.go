package gateway

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// limitBody refuses request bodies over limit bytes with 413. The services take
// no larger message, so reading more would only waste memory. A declared
// Content-Length is refused up front; a chunked body is cut at the limit and
// the cut is noted in the context for handleError.
func limitBody(mux *runtime.ServeMux, limit int64) http.Handler {
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
		mux.ServeHTTP(w, r)
	})
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

// logRequests writes one Debug line per request. Never a body, a query or a
// header: they may hold card numbers and bearer tokens.
func logRequests(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		log.LogAttrs(r.Context(), slog.LevelDebug, "http",
			slog.String("method", r.Method),
			slog.String("path", r.URL.Path),
			slog.Int("status", rec.status),
			slog.Duration("duration", time.Since(start)),
		)
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
