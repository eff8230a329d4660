package serve

import (
	"context"
	"fmt"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/resolver"

	"github.com/selfserve/selfserve/services/kit/auth"
	"github.com/selfserve/selfserve/services/kit/locale"
	"github.com/selfserve/selfserve/services/kit/metrics"
	"github.com/selfserve/selfserve/services/kit/telemetry"
)

// Dial opens one long-lived client connection to a selfserve service; callers
// share it. Calls carry the caller's bearer token and language (see Outgoing).
func Dial(addr string) (*grpc.ClientConn, error) { return dial(addr) }

// addr is one host:port, a comma-separated list of them (the replicas of a
// service), or any gRPC target such as dns:///licensing:9101 (every address
// the name resolves to). Calls go round robin over the addresses that answer.
func dial(addr string, opts ...grpc.DialOption) (*grpc.ClientConn, error) {
	return grpc.NewClient(Target(addr), append([]grpc.DialOption{
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(16 << 20)),
		grpc.WithDefaultServiceConfig(`{"loadBalancingConfig":[{"round_robin":{}}]}`),
		grpc.WithResolvers(staticResolver{}),
		grpc.WithStatsHandler(telemetry.ClientHandler()),
		grpc.WithChainUnaryInterceptor(metrics.GRPCClient.UnaryClientInterceptor(), sendRequestID),
		grpc.WithChainStreamInterceptor(metrics.GRPCClient.StreamClientInterceptor(), sendRequestIDStream),
	}, opts...)...)
}

// Target is the gRPC target of an address: a list "a:1,b:2" becomes
// static:///a:1,b:2, which staticResolver answers with every address.
func Target(addr string) string {
	if strings.Contains(addr, ",") && !strings.Contains(addr, "://") {
		return staticScheme + ":///" + addr
	}
	return addr
}

const staticScheme = "static"

// staticResolver resolves static:///a:1,b:2 to those addresses.
type staticResolver struct{}

func (staticResolver) Scheme() string { return staticScheme }

func (staticResolver) Build(t resolver.Target, cc resolver.ClientConn, _ resolver.BuildOptions) (resolver.Resolver, error) {
	var addrs []resolver.Address
	for _, a := range strings.Split(t.Endpoint(), ",") {
		if a = strings.TrimSpace(a); a != "" {
			addrs = append(addrs, resolver.Address{Addr: a})
		}
	}
	if len(addrs) == 0 {
		return nil, fmt.Errorf("no addresses in %q", t.Endpoint())
	}
	return staticResolver{}, cc.UpdateState(resolver.State{Addresses: addrs})
}

func (staticResolver) ResolveNow(resolver.ResolveNowOptions) {}
func (staticResolver) Close()                                {}

// Outgoing returns ctx with the incoming caller's token and Accept-Language
// set as outgoing metadata, for a call to another service on their behalf.
func Outgoing(ctx context.Context) context.Context {
	var kv []string
	if id := auth.FromContext(ctx); id != nil && id.Token != "" {
		kv = append(kv, "authorization", "Bearer "+id.Token)
	}
	if v := metadata.ValueFromIncomingContext(ctx, locale.Header); len(v) > 0 {
		kv = append(kv, locale.Header, v[0])
	}
	return metadata.AppendToOutgoingContext(ctx, kv...)
}
