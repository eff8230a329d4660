package gateway

import (
	"context"
	"net/http"
	"net/textproto"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/encoding/protojson"

	billingv1 "github.com/selfserve/selfserve/gen/go/selfserve/billing/v1"
	commercev1 "github.com/selfserve/selfserve/gen/go/selfserve/commerce/v1"
	licensingv1 "github.com/selfserve/selfserve/gen/go/selfserve/licensing/v1"
	operatorv1 "github.com/selfserve/selfserve/gen/go/selfserve/operator/v1"
	"github.com/selfserve/selfserve/services/gateway/jsonenc"
	"github.com/selfserve/selfserve/services/kit/idem"
	"github.com/selfserve/selfserve/services/kit/locale"
	"github.com/selfserve/selfserve/services/kit/metrics"
	"github.com/selfserve/selfserve/services/kit/serve"
)

// newMux builds the grpc-gateway mux: every generated handler against the
// connection of the service that owns it, the clock fan-out in process, and
// the edge's own routes.
func newMux(ctx context.Context, b backends) (*runtime.ServeMux, error) {
	mux := runtime.NewServeMux(
		runtime.WithMarshalerOption(runtime.MIMEWildcard, documentMarshaler{jsonMarshaler()}),
		runtime.WithIncomingHeaderMatcher(incomingHeader),
		runtime.WithOutgoingHeaderMatcher(outgoingHeader),
		runtime.WithMetadata(sendRequestID),
		runtime.WithForwardResponseOption(contentDisposition),
		runtime.WithErrorHandler(handleError),
		runtime.SetQueryParameterParser(&queryParser{}),
		runtime.WithRoutingErrorHandler(handleRoutingError),
		// A form POST must not reach a GET route: the edge speaks JSON only.
		runtime.WithDisablePathLengthFallback(),
		runtime.WithMiddlewares(routeName),
	)
	regs := []struct {
		conn     *grpc.ClientConn
		register func(context.Context, *runtime.ServeMux, *grpc.ClientConn) error
	}{
		{b.licensing, licensingv1.RegisterDirectoryServiceHandler},
		{b.licensing, licensingv1.RegisterLicensingServiceHandler},
		{b.licensing, licensingv1.RegisterLicenseRequestServiceHandler},
		{b.commerce, commercev1.RegisterCatalogServiceHandler},
		{b.commerce, commercev1.RegisterSubscriptionServiceHandler},
		{b.commerce, commercev1.RegisterEventServiceHandler},
		{b.commerce, commercev1.RegisterWebhookServiceHandler},
		{b.billing, billingv1.RegisterBillingAccountServiceHandler},
		{b.billing, billingv1.RegisterInvoiceServiceHandler},
	}
	for _, r := range regs {
		if err := r.register(ctx, mux, r.conn); err != nil {
			return nil, err
		}
	}
	if err := operatorv1.RegisterClockServiceHandlerServer(ctx, mux, newClockFanOut(b)); err != nil {
		return nil, err
	}
	// The edge's own routes live on the same mux so that a wrong method or
	// path gets the same error body as everywhere else.
	if err := mux.HandlePath(http.MethodGet, "/healthz", healthz(b)); err != nil {
		return nil, err
	}
	if err := mux.HandlePath(http.MethodGet, "/openapi.json", openAPI); err != nil {
		return nil, err
	}
	// Prometheus's text format; in `selfserve dev` every component's series.
	metricsHandler := metrics.Handler()
	if err := mux.HandlePath(http.MethodGet, "/metrics", func(w http.ResponseWriter, r *http.Request, _ map[string]string) {
		metricsHandler.ServeHTTP(w, r)
	}); err != nil {
		return nil, err
	}
	return mux, nil
}

// jsonMarshaler is the canonical proto3 JSON of API.md §3. Unknown fields in a
// request are refused rather than dropped, so a misspelt field is an error and
// not a silent no-op, and a body that does not fit its message is explained
// in the caller's terms (decode.go).
func jsonMarshaler() bodyCodec {
	return bodyCodec{&runtime.JSONPb{
		MarshalOptions:   jsonenc.Options,
		UnmarshalOptions: protojson.UnmarshalOptions{DiscardUnknown: false},
	}}
}

// incomingHeader chooses the HTTP headers that travel as gRPC metadata.
func incomingHeader(key string) (string, bool) {
	switch textproto.CanonicalMIMEHeaderKey(key) {
	case "Accept-Language":
		return locale.Header, true
	case "Idempotency-Key":
		return idem.Header, true
	case "Authorization":
		// The runtime always passes it on as "authorization"; one copy of a
		// secret is enough, so not also as grpcgateway-Authorization.
		return "", false
	}
	return runtime.DefaultHeaderMatcher(key)
}

// outgoingHeader chooses the gRPC response metadata that travels back as
// Grpc-Metadata-* headers: not the transport's own content-type; a replay
// mark as Idempotent-Replayed (Stripe's name for it).
func outgoingHeader(key string) (string, bool) {
	switch key {
	case "content-type":
		return "", false
	case serve.RequestIDHeader:
		return "", false // the edge answers the id itself (requestIDs)
	case idem.ReplayedHeader:
		return "Idempotent-Replayed", true
	}
	return runtime.MetadataHeaderPrefix + key, true
}

// sendRequestID gives each call to a service the request id of its HTTP
// request.
func sendRequestID(ctx context.Context, _ *http.Request) metadata.MD {
	if id := serve.RequestID(ctx); id != "" {
		return metadata.Pairs(serve.RequestIDHeader, id)
	}
	return nil
}
