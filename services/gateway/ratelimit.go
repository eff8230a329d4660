package gateway

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/status"

	"github.com/selfserve/selfserve/services/kit/auth"
	"github.com/selfserve/selfserve/services/kit/errs"
	"github.com/selfserve/selfserve/services/kit/ratelimit"
)

// rateLimit refuses, before any service sees it, a request over its
// organization's bucket (the organization of the path) or its caller's (the
// subject of a verified token; without a signer, the token itself). Probes,
// /metrics and the document are never limited, nor are operators and
// services, once their token verifies. A refusal is 429 RATE_LIMITED with
// Retry-After.
func rateLimit(mux *runtime.ServeMux, l *ratelimit.Limiter, signer *auth.Signer, next http.Handler) http.Handler {
	if l == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/healthz", "/metrics", "/openapi.json":
			next.ServeHTTP(w, r)
			return
		}
		org, caller, exempt := edgeCaller(r, signer)
		if exempt {
			next.ServeHTTP(w, r)
			return
		}
		if ok, wait := l.Allow(org, caller); !ok {
			_, out := runtime.MarshalerForRequest(mux, r)
			runtime.HTTPError(r.Context(), mux, out, w, r, ratelimit.Refuse(wait))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// edgeCaller names the buckets of a request: its path's organization and
// its caller. A verified operator or service token is exempt.
func edgeCaller(r *http.Request, signer *auth.Signer) (org, caller string, exempt bool) {
	org = pathOrganization(r.URL.Path)
	scheme, token, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	token = strings.TrimSpace(token)
	if !strings.EqualFold(scheme, "Bearer") || token == "" {
		return org, "", false // the service answers TOKEN_MISSING; the organization's bucket still counts it
	}
	if signer != nil {
		c, err := signer.VerifyCached(token, time.Now())
		if err != nil {
			return org, "", false // refused by the service: TOKEN_INVALID or TOKEN_EXPIRED
		}
		if slices.Contains(c.Roles, auth.Operator) || slices.Contains(c.Roles, auth.Service) {
			return org, "", true
		}
		if org == "" {
			org = c.Org
		}
		return org, c.Org + "/" + c.Subject, false
	}
	sum := sha256.Sum256([]byte(token))
	return org, "token:" + hex.EncodeToString(sum[:12]), false
}

// retryAfter is the Retry-After (seconds) of a RATE_LIMITED status, "" for
// any other.
func retryAfter(s *status.Status) string {
	for _, d := range s.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok && info.GetReason() == errs.RateLimited.Name {
			return info.GetMetadata()["retry_after"]
		}
	}
	return ""
}
